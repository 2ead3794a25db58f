"""First-episode returns under a given way of acting."""

import math

import torch

from metarl.envs import Navigation2D
from metarl.rl.episode_returns import first_episode_returns


def test_straight_line_policy_return_is_hand_computed_and_stops_at_the_goal():
    family = Navigation2D()
    tasks = family.make_params(goal=[[0.25, -0.15], [0.0, 0.05]])
    goals = tasks.goal.unsqueeze(1)
    returns = first_episode_returns(family, tasks, 3, lambda obs: goals - obs)
    first = -(math.hypot(0.15, 0.05) + 0.05)  # three moves; the last reaches the goal
    torch.testing.assert_close(returns[0], torch.full((3,), first))
    torch.testing.assert_close(returns[1], torch.zeros(3))  # reached in one move, reward 0
