"""Uniformly random actions on a batch of tasks: the zero point of every return scale.

Until meta-training exists this is what ``metarl demo`` runs; later it is the floor that the
adaptation curves are read against.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import gymnasium as gym
import torch

from metarl.envs import EnvFamily, TaskParams, make_batch_env


class RandomRollout(NamedTuple):
    """Result of :func:`random_rollout`.

    :param mean_return: mean return of the episodes completed per task, ``[T]``.
    :param episodes: number of completed episodes per task, ``[T]``.
    :param observations: observations of every step, ``[H + 1, T, E, obs_dim]``.
    """

    mean_return: torch.Tensor
    episodes: torch.Tensor
    observations: torch.Tensor


def random_actions(space: gym.Space[Any], shape: tuple[int, ...], generator: torch.Generator,
                   device: torch.device) -> torch.Tensor:
    """Actions drawn uniformly from one env's ``Box`` or ``Discrete`` space, ``[*shape, ...]``."""
    if isinstance(space, gym.spaces.Discrete):
        return torch.randint(int(space.start), int(space.start + space.n), shape,
                             generator=generator, device=device)
    if isinstance(space, gym.spaces.Box):
        low = torch.as_tensor(space.low, device=device)
        high = torch.as_tensor(space.high, device=device)
        u = torch.rand((*shape, *space.shape), generator=generator, device=device)
        return low + (high - low) * u
    raise TypeError(f"random actions for {type(space).__name__} spaces are not supported")


@torch.no_grad()
def random_rollout(family: EnvFamily[Any], tasks: TaskParams, num_envs: int,
                   generator: torch.Generator, steps: int | None = None) -> RandomRollout:
    """Run uniformly random actions in ``num_envs`` environments of each task.

    :param family: environment family.
    :param tasks: ``T`` tasks.
    :param num_envs: environments per task.
    :param generator: generator on ``tasks.device`` for actions and start states.
    :param steps: steps to run; default the family's episode limit, so every env ends an episode.
    """
    steps = steps or family.max_episode_steps
    if steps is None:
        raise ValueError("steps must be given for a family without an episode limit")
    env = make_batch_env(family, tasks, num_envs, generator)
    obs = env.reset()
    total = torch.zeros(tasks.num_tasks, device=tasks.device, dtype=obs.dtype)
    count = torch.zeros_like(total)
    trace = [obs]
    for _ in range(steps):
        action = random_actions(family.action_space, (tasks.num_tasks, num_envs), generator,
                                tasks.device)
        tr = env.step(action)
        done = tr.terminated | tr.truncated
        total += tr.episode_return.sum(dim=1)
        count += done.sum(dim=1)
        trace.append(tr.final_obs)
    return RandomRollout(total / count.clamp(min=1), count, torch.stack(trace))
