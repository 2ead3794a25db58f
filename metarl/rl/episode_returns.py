"""Return of the first episode of every environment under a given way of acting."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from metarl.envs import EnvFamily, TaskParams, make_batch_env


@torch.no_grad()
def first_episode_returns(family: EnvFamily[Any], tasks: TaskParams, num_envs: int,
                          act: Callable[[torch.Tensor], torch.Tensor],
                          generator: torch.Generator | None = None) -> torch.Tensor:
    """Undiscounted return of the first episode of each of ``num_envs`` envs per task, ``[T, E]``.

    :param family: environment family (its episode limit bounds the run).
    :param tasks: ``T`` tasks.
    :param num_envs: environments per task ``E``.
    :param act: maps observations ``[T, E, obs_dim]`` to actions ``[T, E, ...]``.
    :param generator: generator for start states.
    """
    if family.max_episode_steps is None:
        raise ValueError("first_episode_returns needs a family with an episode limit")
    env = make_batch_env(family, tasks, num_envs, generator)
    obs = env.reset()
    total = torch.zeros(tasks.num_tasks, num_envs, device=tasks.device, dtype=obs.dtype)
    alive = torch.ones(tasks.num_tasks, num_envs, device=tasks.device, dtype=torch.bool)
    for _ in range(family.max_episode_steps):
        tr = env.step(act(obs))
        total += tr.reward * alive
        alive &= ~(tr.terminated | tr.truncated)
        obs = tr.obs
    return total
