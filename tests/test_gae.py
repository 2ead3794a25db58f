"""GAE against hand-computed values, with terminated and truncated episodes."""

import torch

from metarl.agents.gae import compute_gae


def _col(*values: float) -> torch.Tensor:  # [H] -> [H, T=1, E=1]
    return torch.tensor(values).reshape(-1, 1, 1)


def test_terminated_episode_does_not_bootstrap():
    # steps 0-1 form an episode that terminates at step 1; step 2 starts a new one, cut by the
    # end of the rollout (bootstrap from next_values[2])
    adv, ret = compute_gae(
        rewards=_col(1.0, 1.0, 1.0), values=_col(0.5, 0.4, 0.3),
        next_values=_col(0.4, 7.0, 0.9),  # 7.0 must be ignored: the step terminated
        terminated=_col(0, 1, 0).bool(), truncated=_col(0, 0, 0).bool(),
        gamma=0.9, gae_lambda=0.8)
    delta = [1 + 0.9 * 0.4 - 0.5, 1 - 0.4, 1 + 0.9 * 0.9 - 0.3]
    expected = [delta[0] + 0.9 * 0.8 * delta[1], delta[1], delta[2]]
    torch.testing.assert_close(adv.flatten(), torch.tensor(expected))
    values = torch.tensor([0.5, 0.4, 0.3])
    torch.testing.assert_close(ret.flatten(), torch.tensor(expected) + values)


def test_truncated_episode_bootstraps_from_final_observation_value():
    adv, _ = compute_gae(
        rewards=_col(1.0, 0.0, 0.0), values=_col(1.0, 0.2, 0.1),
        next_values=_col(2.0, 0.1, 0.0),  # 2.0: value of the observation that ended episode 1
        terminated=_col(0, 0, 0).bool(), truncated=_col(1, 0, 0).bool(),
        gamma=0.9, gae_lambda=0.8)
    d0, d1, d2 = 1 + 0.9 * 2.0 - 1.0, 0.9 * 0.1 - 0.2, -0.1
    torch.testing.assert_close(adv.flatten(), torch.tensor([d0, d1 + 0.72 * d2, d2]))


def test_terminated_and_truncated_on_the_same_step_is_terminal():
    adv, _ = compute_gae(
        rewards=_col(1.0), values=_col(0.5), next_values=_col(3.0),
        terminated=_col(1).bool(), truncated=_col(1).bool(), gamma=0.99, gae_lambda=0.95)
    torch.testing.assert_close(adv.flatten(), torch.tensor([0.5]))


def test_lambda_one_gives_discounted_return_minus_value():
    rewards = torch.rand(6, 2, 3, generator=torch.Generator().manual_seed(0))
    values = torch.rand(6, 2, 3, generator=torch.Generator().manual_seed(1))
    next_values = torch.cat([values[1:], torch.zeros(1, 2, 3)])
    no = torch.zeros(6, 2, 3, dtype=torch.bool)
    adv, _ = compute_gae(rewards, values, next_values, no, no, gamma=0.9, gae_lambda=1.0)
    discounted = torch.zeros(2, 3)
    for t in range(5, -1, -1):
        discounted = rewards[t] + 0.9 * discounted
        torch.testing.assert_close(adv[t], discounted - values[t])
