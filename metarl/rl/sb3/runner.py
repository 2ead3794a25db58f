"""stable-baselines3 PPO on one task at a time: the loop the SB3 inner learner and baseline share.

:func:`learn_task` runs a ``stable_baselines3.PPO`` model on ``num_envs`` monitored copies of one
task's Gymnasium env (``gym.make(family.gym_id, **task)``, or
:func:`metarl.envs.gym_tasks.make_task_env`) for a number of rollouts of ``num_envs x num_steps``
steps, with the batched learner's settings (:func:`sb3_ppo_kwargs`), its separate log-std
learning rate and its schedules, and returns the mean return of the episodes completed in each
rollout. :func:`task_seeds` is the one rule that seeds task ``i`` of a batch.
:func:`sb3_scratch_returns` is the ``sb3`` method of evaluation: a cross-check of metarl's own
``scratch`` row with the reference PPO implementation, from SB3's own random initialisation.
SB3 runs one task at a time on the CPU, so it is much slower than the batched methods.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO as SB3PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv

from metarl.agents.actor_critic import ActorCritic
from metarl.agents.ppo import PPOConfig, anneal_fraction
from metarl.agents.sb3 import ACTIVATION_MODULES
from metarl.envs import TaskParams
from metarl.envs.gym_tasks import make_task_env
from metarl.envs.task_streams import AnyGenerator, TaskShard, shared
from metarl.rl.config import PolicyConfig


class RolloutReturns(BaseCallback):
    """Collects the mean return of the episodes completed in each rollout.

    :param reset_every_rollout: start every rollout after the first from fresh episodes, as
        the batched learner does with ``ppo.reset_every_iteration`` (SB3 alone carries
        unfinished episodes over to the next rollout).
    """

    def __init__(self, reset_every_rollout: bool = False) -> None:
        super().__init__()
        self.reset_every_rollout = reset_every_rollout
        self.rollouts = 0
        self.current: list[float] = []
        self.per_rollout: list[float] = []

    def _on_rollout_start(self) -> None:
        if self.reset_every_rollout and self.rollouts > 0:  # learn() reset for the first
            env = self.model.get_env()
            assert env is not None
            self.model._last_obs = env.reset()  # type: ignore[assignment]
            self.model._last_episode_starts = np.ones((env.num_envs,), dtype=bool)
        self.rollouts += 1

    def _on_step(self) -> bool:
        for info in self.locals["infos"]:
            if "episode" in info:
                self.current.append(float(info["episode"]["r"]))
        return True

    def _on_rollout_end(self) -> None:
        self.per_rollout.append(sum(self.current) / len(self.current) if self.current
                                else math.nan)
        self.current = []


def task_vec_env(family: Any, task: dict[str, Any], num_envs: int, subprocess: bool = False
                 ) -> VecEnv:
    """``num_envs`` monitored copies of ``task``'s env (``SubprocVecEnv`` with ``subprocess``)."""
    def make() -> gym.Env[Any, Any]:
        return Monitor(make_task_env(family, task))

    makers = [make] * num_envs
    return SubprocVecEnv(makers) if subprocess else DummyVecEnv(makers)


def learn_rollouts(model: SB3PPO, rollouts: int, steps_per_rollout: int,
                   reset_every_rollout: bool = False) -> list[float]:
    """Run ``rollouts`` PPO iterations of ``model``; the mean return of each rollout
    (``reset_every_rollout``: see :class:`RolloutReturns`)."""
    returns = RolloutReturns(reset_every_rollout)
    model.learn(rollouts * steps_per_rollout, callback=returns)
    return returns.per_rollout[:rollouts]


def sb3_ppo_kwargs(ppo: PPOConfig, pol: ActorCritic | PolicyConfig, episodes: int
                   ) -> dict[str, Any]:
    """``stable_baselines3.PPO`` arguments matching a policy and inner PPO settings, with
    ``episodes`` environments per task."""
    if ppo.bound_coef > 0:
        raise ValueError(f"ppo.bound_coef={ppo.bound_coef!r} has no stable-baselines3 "
                         "counterpart: set it to 0 for stable-baselines3 PPO")
    samples = episodes * ppo.num_steps
    return {
        "n_steps": ppo.num_steps, "batch_size": max(1, samples // ppo.num_minibatches),
        "n_epochs": ppo.num_epochs, "learning_rate": ppo.learning_rate, "gamma": ppo.gamma,
        "gae_lambda": ppo.gae_lambda, "clip_range": ppo.clip_coef,
        "clip_range_vf": ppo.clip_coef if ppo.clip_vloss else None,
        "normalize_advantage": ppo.norm_adv, "ent_coef": ppo.ent_coef, "vf_coef": ppo.vf_coef,
        "max_grad_norm": ppo.max_grad_norm if ppo.max_grad_norm is not None else math.inf,
        "target_kl": ppo.target_kl,
        "policy_kwargs": {"net_arch": {"pi": list(pol.hidden), "vf": list(pol.hidden)},
                          "activation_fn": ACTIVATION_MODULES[pol.activation],
                          "log_std_init": pol.init_log_std,
                          "optimizer_kwargs": {"eps": ppo.adam_eps}},
    }


def split_log_std_lr(model: SB3PPO, ppo: PPOConfig) -> SB3PPO:
    """Give an SB3 PPO model's log-std ``ppo.log_std_learning_rate``, as the batched learner does.

    SB3 keeps one learning rate for the whole policy and resets every parameter group to it
    before each update; the log-std's group is rescaled after that reset. Returns ``model``.
    """
    rate = ppo.log_std_learning_rate
    policy = model.policy
    if rate is None or not hasattr(policy, "log_std"):
        return model
    others = [p for name, p in policy.named_parameters() if name != "log_std"]
    policy.optimizer = policy.optimizer_class(
        [{"params": others}, {"params": [policy.log_std], "lr_scale": rate / ppo.learning_rate}],
        lr=ppo.learning_rate, **policy.optimizer_kwargs)
    reset = model._update_learning_rate

    def update_learning_rate(optimizers: Any) -> None:
        reset(optimizers)
        for group in policy.optimizer.param_groups:
            group["lr"] *= group.get("lr_scale", 1.0)

    model._update_learning_rate = update_learning_rate  # type: ignore[method-assign]
    return model


def anneal_like_batched(model: SB3PPO, ppo: PPOConfig, updates: int, rollouts: int) -> SB3PPO:
    """Give an SB3 PPO model the batched learner's schedules (``ppo.anneal_lr``,
    ``ppo.anneal_clip``, ``ppo.clip_schedule``): update ``j`` of ``updates`` uses ``(1 - j /
    updates)`` times the learning rate and the clip :meth:`~metarl.agents.ppo.PPOConfig.clip_at`
    gives, as :meth:`metarl.agents.ppo.PPO.adapt` does.

    SB3 evaluates its schedules at the progress left after each rollout, ``1 - (j + 1) /
    rollouts`` before update ``j`` when ``model.learn`` runs ``rollouts`` rollouts (one more than
    ``updates`` when the last rollout only measures the final policy). Returns ``model``.
    """

    def update(progress_remaining: float) -> int:
        return round(rollouts * (1.0 - progress_remaining)) - 1

    if ppo.anneal_clip or ppo.clip_schedule:
        model.clip_range = lambda p: ppo.clip_at(update(p), updates)
    if ppo.anneal_lr:
        model.lr_schedule = lambda p: ppo.learning_rate * anneal_fraction(update(p), updates)
    return model


def task_seeds(generator: AnyGenerator, num_tasks: int) -> list[int]:
    """The SB3 seeds of ``num_tasks`` tasks: ``base + i`` for task ``i`` of the whole batch, with
    ``base`` drawn from ``generator`` (``i`` counts from a shard's start when a meta-batch is
    split over processes)."""
    start = generator.start if isinstance(generator, TaskShard) else 0
    base = int(torch.randint(0, 2**30, (1,), generator=shared(generator)).item())
    return [base + start + i for i in range(num_tasks)]


def learn_task(make_model: Callable[[VecEnv], SB3PPO], family: Any, task: dict[str, Any],
               ppo: PPOConfig, rollouts: int, updates: int | None = None,
               subprocess: bool = False, logger: Logger | None = None
               ) -> tuple[SB3PPO, list[float]]:
    """``rollouts`` SB3 PPO iterations of the model ``make_model`` builds on ``ppo.num_envs``
    copies of ``task``'s env (``SubprocVecEnv`` with ``subprocess``).

    ``updates`` (default ``rollouts``) is the number of updates the learning-rate and clip
    schedules span, as in the batched learner; the log-std gets its own learning rate; every
    rollout after the first starts from fresh episodes with ``ppo.reset_every_iteration``.
    Returns the model and the mean return of each rollout.
    """
    env = task_vec_env(family, task, ppo.num_envs, subprocess)
    try:
        model = split_log_std_lr(make_model(env), ppo)
        anneal_like_batched(model, ppo, updates or rollouts, rollouts)
        if logger is not None:
            model.set_logger(logger)
        returns = learn_rollouts(model, rollouts, ppo.num_envs * ppo.num_steps,
                                 ppo.reset_every_iteration)
    finally:
        env.close()
    return model, returns


def sb3_scratch_returns(ppo: PPOConfig, policy: PolicyConfig, family: Any, tasks: TaskParams,
                        updates: int, seed: int) -> torch.Tensor:
    """``[updates + 1, T]`` mean returns of SB3 PPO from scratch after k = 0..updates updates.

    :param ppo: the evaluation's inner PPO settings (``num_envs``: episodes per update).
    :param policy: the run's policy settings.
    :param family: the run's task family (its tasks' Gymnasium envs).
    :param tasks: the held-out tasks.
    :param updates: PPO updates K.
    :param seed: evaluation seed (the tasks' SB3 seeds come from it, :func:`task_seeds`).
    """
    kwargs = sb3_ppo_kwargs(ppo, policy, ppo.num_envs)
    seeds = task_seeds(torch.Generator().manual_seed(seed), tasks.num_tasks)
    columns = []
    for task, task_seed in zip(tasks.to_list(), seeds, strict=True):
        def make(env: VecEnv, task_seed: int = task_seed) -> SB3PPO:
            return SB3PPO("MlpPolicy", env, seed=task_seed, device="cpu", verbose=0, **kwargs)

        columns.append(learn_task(make, family, task, ppo, updates + 1, updates)[1])
    return torch.tensor(columns).T
