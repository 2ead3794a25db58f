"""Rollout collection over ``T`` tasks x ``E`` environments, stored as ``[H, T, E, ...]``."""

from __future__ import annotations

from typing import NamedTuple

import torch

from metarl.agents.actor_critic import ActorCritic
from metarl.agents.param_tree import Params
from metarl.envs import BatchEnv
from metarl.envs.task_streams import AnyGenerator


class Rollout(NamedTuple):
    """``H`` steps of ``T x E`` environments; per-step tensors lead with ``[H, T, E]``.

    :param obs: observations acted on, ``[H, T, E, obs_dim]``.
    :param actions: actions taken, ``[H, T, E]`` (Discrete) or ``[H, T, E, A]`` (Box).
    :param log_probs: log-probabilities of the actions under the collecting policy.
    :param rewards: rewards.
    :param terminated: the step ended its episode in a terminal state.
    :param truncated: the step ended its episode by the time limit.
    :param final_obs: observation each step reached, before any reset, ``[H, T, E, obs_dim]``.
    :param return_sum: sum of the returns of the episodes completed in the rollout, ``[T]``.
    :param episodes: number of episodes completed in the rollout, ``[T]``.
    :param first_return_sum: sum over environments of the return of each one's first completed
        episode, ``[T]`` (an environment whose episode ends early and starts another counts once).
    :param first_episodes: environments that completed an episode, ``[T]``.
    """

    obs: torch.Tensor
    actions: torch.Tensor
    log_probs: torch.Tensor
    rewards: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    final_obs: torch.Tensor
    return_sum: torch.Tensor
    episodes: torch.Tensor
    first_return_sum: torch.Tensor
    first_episodes: torch.Tensor

    @property
    def mean_return(self) -> torch.Tensor:
        """Mean return of the completed episodes per task (NaN for a task with none), ``[T]``."""
        return self.return_sum / self.episodes.to(self.return_sum.dtype)

    @property
    def mean_first_return(self) -> torch.Tensor:
        """Mean return of each environment's first episode per task (NaN for a task with none
        completed), ``[T]``: one episode per environment, as a sampler of fixed episodes
        counts."""
        return self.first_return_sum / self.first_episodes.to(self.first_return_sum.dtype)


def by_task(x: torch.Tensor) -> torch.Tensor:
    """A rollout tensor ``[H, T, E, ...]`` as training samples ``[T, H * E, ...]``."""
    horizon, num_tasks, num_envs = x.shape[:3]
    return x.transpose(0, 1).reshape(num_tasks, horizon * num_envs, *x.shape[3:])


def by_step(x: torch.Tensor, horizon: int, num_envs: int) -> torch.Tensor:
    """Per-sample values ``[T, H * E]`` back in rollout order ``[H, T, E]``."""
    return x.reshape(x.shape[0], horizon, num_envs).transpose(0, 1)


@torch.no_grad()
def collect(policy: ActorCritic, params: Params, env: BatchEnv, obs: torch.Tensor,
            num_steps: int, generator: AnyGenerator) -> tuple[Rollout, torch.Tensor]:
    """Run the stacked policies for ``num_steps`` steps; returns the rollout and the next obs.

    :param policy: the actor-critic (shapes and forward).
    :param params: stacked parameters, one policy per task of ``env``.
    :param env: ``T`` tasks x ``E`` environments, already reset.
    :param obs: the observation to act on first, ``[T, E, obs_dim]``.
    :param num_steps: steps ``H`` to collect.
    :param generator: random generator for the actions.
    """
    steps: list[tuple[torch.Tensor, ...]] = []
    return_sum = torch.zeros(obs.shape[0], device=obs.device, dtype=obs.dtype)
    episodes = torch.zeros(obs.shape[0], device=obs.device, dtype=torch.int64)
    first_sum, first = torch.zeros_like(return_sum), torch.zeros_like(episodes)
    seen = torch.zeros(obs.shape[:2], device=obs.device, dtype=torch.bool)  # [T, E]
    for _ in range(num_steps):
        action, log_prob = policy.sample(params, obs, generator)
        tr = env.step(action)
        steps.append((obs, action, log_prob, tr.reward, tr.terminated, tr.truncated, tr.final_obs))
        ended = tr.terminated | tr.truncated
        return_sum += tr.episode_return.sum(dim=1)
        episodes += ended.sum(dim=1)
        new = ended & ~seen
        first_sum += (tr.episode_return * new).sum(dim=1)
        first += new.sum(dim=1)
        seen |= ended
        obs = tr.obs
    stacked = [torch.stack(column) for column in zip(*steps, strict=True)]
    return Rollout(*stacked, return_sum=return_sum, episodes=episodes,
                   first_return_sum=first_sum, first_episodes=first), obs
