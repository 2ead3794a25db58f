"""stable-baselines3 PPO as the inner learner (``[ppo] inner = "sb3"``): slower, any SB3 feature.

Implements :class:`~metarl.inner_learner.InnerLearner` by looping over the meta-batch: for each
task, a fresh ``stable_baselines3.PPO`` (so a fresh Adam state) starts from theta on
``num_envs`` copies of the task's Gymnasium env (``gym.make(family.gym_id, **task)``, or a
``[env] family = "gym"`` env: :mod:`metarl.envs.gym_tasks`) in a ``DummyVecEnv``
(``SubprocVecEnv`` with ``subprocess=True``), learns ``iterations`` rollouts of
``num_envs x num_steps`` steps, and its weights are read back. Every task's model logs to the one
logger of the learner (no ``PPO_1 ... PPO_N`` folders). Returns, samples and records are those of
the batched learner, so runs, evaluation and plots are the same.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from stable_baselines3.common.logger import Logger

from metarl.agents.param_tree import Params, stack_list
from metarl.agents.ppo import PPO, AdaptResult
from metarl.agents.sb3 import from_sb3, to_sb3
from metarl.envs import TaskParams
from metarl.envs.task_shard import AnyGenerator, TaskShard, shared
from metarl.inner_learner import Adaptation, QueryGradients
from metarl.ppo_learner import PPOLearner
from metarl.sb3_baseline import (
    anneal_like_batched,
    learn_rollouts,
    sb3_ppo_kwargs,
    split_log_std_lr,
    task_vec_env,
)


class SB3Learner(PPOLearner):
    """Reptile's inner loop through stable-baselines3 PPO, task by task.

    :param ppo: the batched PPO of the run (its family, policy and settings are used).
    :param subprocess: run each task's envs in subprocesses (``SubprocVecEnv``).
    :param logger: the SB3 logger of the whole run (default: nothing written).
    """

    def __init__(self, ppo: PPO, subprocess: bool = False, logger: Logger | None = None) -> None:
        super().__init__(ppo)
        self.subprocess = subprocess
        self.logger = logger or Logger(folder=None, output_formats=[])
        self.kwargs = sb3_ppo_kwargs(ppo.config, ppo.policy, ppo.config.num_envs)
        policy_kwargs = self.kwargs.pop("policy_kwargs")  # the architecture comes from theta
        self.kwargs["policy_kwargs"] = {"optimizer_kwargs": policy_kwargs["optimizer_kwargs"]}

    def run_task(self, theta: Params, task: dict[str, Any], rollouts: int, seed: int,
                 updates: int | None = None) -> tuple[Params, list[float], dict[str, float]]:
        """``rollouts`` SB3 PPO iterations from ``theta`` on one task.

        ``updates`` (default ``rollouts``) is the number of updates the learning-rate and clip
        schedules span (``ppo.anneal_lr``, ``ppo.anneal_clip``), as in the batched learner.

        Returns the weights after them, the mean return of each rollout and the last update's
        approx-KL, clip fraction and entropy.
        """
        cfg = self.ppo.config
        env = task_vec_env(self.ppo.family, task, cfg.num_envs, self.subprocess)
        try:
            model = split_log_std_lr(to_sb3(theta, env, activation=self.ppo.policy.activation,
                                            seed=seed, device="cpu", verbose=0, **self.kwargs),
                                     cfg)
            anneal_like_batched(model, cfg, updates or rollouts, rollouts)
            model.set_logger(self.logger)
            returns = learn_rollouts(model, rollouts, cfg.num_envs * cfg.num_steps,
                                     cfg.reset_every_iteration)
        finally:
            env.close()
        values = model.logger.name_to_value
        stats = {"approx_kl": values.get("train/approx_kl", math.nan),
                 "clip_frac": values.get("train/clip_fraction", math.nan),
                 "entropy": -values.get("train/entropy_loss", math.nan)}
        return from_sb3(model)[1], returns, stats

    def _seeds(self, generator: AnyGenerator, num_tasks: int) -> list[int]:
        """Task ``i`` of the whole meta-batch is seeded ``base + i`` (``i`` counts from a
        shard's start when the batch is split over processes)."""
        start = generator.start if isinstance(generator, TaskShard) else 0
        base = int(torch.randint(0, 2**30, (1,), generator=shared(generator)).item())
        return [base + start + i for i in range(num_tasks)]

    def adapt(self, theta: Params, tasks: TaskParams, steps: int,
              generator: AnyGenerator) -> Adaptation:
        """``steps`` SB3 PPO iterations on each task in turn (task ``i`` seeded ``base + i``)."""
        theta = {k: v.detach().cpu() for k, v in theta.items()}
        seeds = self._seeds(generator, tasks.num_tasks)
        params, returns, stats = [], [], []
        for task, seed in zip(tasks.to_list(), seeds, strict=True):
            p, r, s = self.run_task(theta, task, steps, seed)
            params.append(p)
            returns.append(r)
            stats.append(s)
        stacked = {k: v.to(tasks.device) for k, v in stack_list(params).items()}
        result = AdaptResult(
            stacked, torch.tensor(returns).T,
            torch.full((steps, tasks.num_tasks), float(self.ppo.config.num_envs)),
            self.ppo.config.num_envs * self.ppo.config.num_steps,
            {name: torch.tensor([[s[name] for s in stats]]) for name in stats[0]},
        )
        return Adaptation(stacked, tasks.num_tasks * steps * result.env_steps, result)

    def evaluation_returns(self, theta: Params, tasks: TaskParams, updates: int,
                           seed: int) -> torch.Tensor:
        """``[updates + 1, T]``: mean return of the rollout after k = 0..updates updates."""
        theta = {k: v.detach().cpu() for k, v in theta.items()}
        gen = torch.Generator().manual_seed(seed)
        seeds = self._seeds(gen, tasks.num_tasks)
        columns = [self.run_task(theta, task, updates + 1, s, updates)[1]
                   for task, s in zip(tasks.to_list(), seeds, strict=True)]
        return torch.tensor(columns).T

    def validate(self, theta: Params, tasks: TaskParams, steps: int, seed: int) -> float:
        """Mean return of the rollout after ``steps`` SB3 PPO updates."""
        return self.evaluation_returns(theta, tasks, steps, seed)[-1].nanmean().item()

    def query_gradients(self, adapted: Adaptation, tasks: TaskParams,
                        generator: torch.Generator) -> QueryGradients:
        """Not available: SB3 exposes no per-task gradient at the adapted weights."""
        raise ValueError("first-order MAML needs the batched inner learner (ppo.inner = "
                         "\"batched\"); the SB3 inner learner supports Reptile")
