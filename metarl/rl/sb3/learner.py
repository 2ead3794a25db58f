"""stable-baselines3 PPO as the inner learner (``[ppo] inner = "sb3"``): slower, any SB3 feature.

Implements :class:`~metarl.meta.learner.InnerLearner` (Reptile only: SB3 exposes no per-task
gradient at the adapted weights, so first-order MAML needs the batched learner) by looping over
the meta-batch: for each task, a fresh ``stable_baselines3.PPO`` (so a fresh Adam state) starts
from theta on ``num_envs`` copies of the task's Gymnasium env (``gym.make(family.gym_id,
**task)``, or a ``[env] family = "gym"`` env: :mod:`metarl.envs.gym_tasks`) in a ``DummyVecEnv``
(``SubprocVecEnv`` with ``subprocess=True``), learns ``iterations`` rollouts of
``num_envs x num_steps`` steps (:func:`metarl.rl.sb3.runner.learn_task`), and its weights are
read back. Every task's model logs to the one logger of the learner (no ``PPO_1 ... PPO_N``
folders). Tasks, parameter groups, summaries and records are those of the batched learner
(:class:`~metarl.rl.learner.PPOLearner`, which this one holds), so runs, evaluation and plots are
the same.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from stable_baselines3 import PPO as SB3PPO
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.vec_env import VecEnv

from metarl.agents.param_tree import Params, stack_list
from metarl.agents.ppo import PPO, AdaptResult
from metarl.agents.sb3 import from_sb3, to_sb3
from metarl.envs import TaskParams
from metarl.envs.task_streams import AnyGenerator
from metarl.meta.learner import Adaptation, QueryGradients, Record, curves_one_by_one
from metarl.rl.learner import MetaRecord, PPOLearner
from metarl.rl.sb3.runner import learn_task, sb3_ppo_kwargs, task_seeds


class SB3Learner:
    """Reptile's inner loop through stable-baselines3 PPO, task by task.

    :param ppo: the batched PPO of the run (its family, policy and settings are used).
    :param subprocess: run each task's envs in subprocesses (``SubprocVecEnv``).
    :param logger: the SB3 logger of the whole run (default: nothing written).
    """

    record_type = MetaRecord

    def __init__(self, ppo: PPO, subprocess: bool = False, logger: Logger | None = None) -> None:
        self.ppo = ppo
        self.batched = PPOLearner(ppo)
        self.subprocess = subprocess
        self.logger = logger or Logger(folder=None, output_formats=[])
        self.kwargs = sb3_ppo_kwargs(ppo.config, ppo.policy, ppo.config.num_envs)
        policy_kwargs = self.kwargs.pop("policy_kwargs")  # the architecture comes from theta
        self.kwargs["policy_kwargs"] = {"optimizer_kwargs": policy_kwargs["optimizer_kwargs"]}

    def sample_tasks(self, n: int, generator: torch.Generator | None = None,
                     split: str = "train", device: torch.device | str = "cpu") -> TaskParams:
        """``n`` tasks of the family's ``split``."""
        return self.batched.sample_tasks(n, generator, split, device)

    def meta_names(self, theta: Params, groups: tuple[str, ...]) -> list[str]:
        """Actor-critic parameters in ``groups`` (``body``, ``head``, ``log_std``, ``value``)."""
        return self.batched.meta_names(theta, groups)

    def run_task(self, theta: Params, task: dict[str, Any], rollouts: int, seed: int,
                 updates: int | None = None) -> tuple[Params, list[float], dict[str, float]]:
        """``rollouts`` SB3 PPO iterations from ``theta`` on one task.

        ``updates`` (default ``rollouts``) is the number of updates the learning-rate and clip
        schedules span (``ppo.anneal_lr``, ``ppo.anneal_clip``), as in the batched learner.

        Returns the weights after them, the mean return of each rollout and the last update's
        approx-KL, clip fraction and entropy.
        """
        def make(env: VecEnv) -> SB3PPO:
            return to_sb3(theta, env, activation=self.ppo.policy.activation, seed=seed,
                          device="cpu", verbose=0, **self.kwargs)

        model, returns = learn_task(make, self.ppo.family, task, self.ppo.config, rollouts,
                                    updates, self.subprocess, self.logger)
        values = model.logger.name_to_value
        stats = {"approx_kl": values.get("train/approx_kl", math.nan),
                 "clip_frac": values.get("train/clip_fraction", math.nan),
                 "entropy": -values.get("train/entropy_loss", math.nan)}
        return from_sb3(model)[1], returns, stats

    def adapt(self, theta: Params, tasks: TaskParams, steps: int,
              generator: AnyGenerator) -> Adaptation:
        """``steps`` SB3 PPO iterations on each task in turn (seeds: :func:`task_seeds`)."""
        theta = {k: v.detach().cpu() for k, v in theta.items()}
        seeds = task_seeds(generator, tasks.num_tasks)
        params, returns, stats = [], [], []
        for task, seed in zip(tasks.to_list(), seeds, strict=True):
            p, r, s = self.run_task(theta, task, steps, seed)
            params.append(p)
            returns.append(r)
            stats.append(s)
        stacked = {k: v.to(tasks.device) for k, v in stack_list(params).items()}
        mean_returns = torch.tensor(returns).T
        result = AdaptResult(
            stacked, mean_returns,
            torch.full((steps, tasks.num_tasks), float(self.ppo.config.num_envs)),
            self.ppo.config.num_envs * self.ppo.config.num_steps,
            {name: torch.tensor([[s[name] for s in stats]]) for name in stats[0]},
            torch.full_like(mean_returns, math.nan),  # first episodes: not told apart by SB3
        )
        return Adaptation(stacked, tasks.num_tasks * steps * result.env_steps, result)

    def evaluation_curve(self, theta: Params, tasks: TaskParams, steps: int,
                         seed: int) -> torch.Tensor:
        """``[steps + 1, T]``: mean return of the rollout after k = 0..steps updates."""
        theta = {k: v.detach().cpu() for k, v in theta.items()}
        seeds = task_seeds(torch.Generator().manual_seed(seed), tasks.num_tasks)
        columns = [self.run_task(theta, task, steps + 1, s, steps)[1]
                   for task, s in zip(tasks.to_list(), seeds, strict=True)]
        return torch.tensor(columns).T

    def evaluation_curves(self, starts: Sequence[tuple[Params, int]], tasks: TaskParams,
                          steps: int, max_tasks: int = 0) -> torch.Tensor:
        """:meth:`evaluation_curve` of every ``(theta, seed)``, one after another."""
        return curves_one_by_one(self, starts, tasks, steps)

    def validate(self, theta: Params, tasks: TaskParams, steps: int, seed: int
                 ) -> torch.Tensor:
        """``[steps + 1, T]`` mean returns after k = 0..steps SB3 PPO updates."""
        return self.evaluation_curve(theta, tasks, steps, seed)

    def summary(self, adapted: Adaptation, query: QueryGradients | None
                ) -> dict[str, torch.Tensor]:
        """As the batched learner's (:meth:`PPOLearner.summary`)."""
        return self.batched.summary(adapted, query)

    def record(self, iteration: int, samples: int, step_size: float,
               summary: dict[str, torch.Tensor], val: float, theta: Params,
               before: Params) -> Record:
        """As the batched learner's (:meth:`PPOLearner.record`)."""
        return self.batched.record(iteration, samples, step_size, summary, val, theta, before)
