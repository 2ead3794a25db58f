"""Generalised advantage estimation over rollouts stored as ``[H, T, E]``.

Termination and truncation are kept apart: a terminated step has no future value; a truncated step
bootstraps from the value of the observation that ended the episode (``final_obs``). Either way the
advantage trace does not run across an episode boundary.
"""

from __future__ import annotations

import torch


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    gamma: float,
    gae_lambda: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages and value targets (returns), both ``[H, T, E]``.

    :param rewards: reward of each step.
    :param values: ``V(s_t)`` of the observation acted on.
    :param next_values: ``V(s_{t+1})`` of the observation the step reached, before any reset
        (the value of ``final_obs``); used unless the step terminated.
    :param terminated: the step ended the episode in a terminal state.
    :param truncated: the step ended the episode by the time limit.
    :param gamma: discount factor.
    :param gae_lambda: GAE's lambda.
    """
    not_terminal = (~terminated).to(values.dtype)
    not_done = (~(terminated | truncated)).to(values.dtype)
    deltas = rewards + gamma * next_values * not_terminal - values
    advantages = torch.empty_like(values)
    running = torch.zeros_like(values[0])
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = deltas[t] + gamma * gae_lambda * not_done[t] * running
        advantages[t] = running
    return advantages, advantages + values
