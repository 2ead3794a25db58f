"""First-episode returns under a given way of acting."""

import math

import torch

from metarl.agents.actor_critic import ActorCritic
from metarl.agents.param_tree import stack
from metarl.agents.rollout import collect
from metarl.envs import AutoResetEnv, Navigation2D, make_family
from metarl.rl.episode_returns import first_episode_returns


def test_straight_line_policy_return_is_hand_computed_and_stops_at_the_goal():
    family = Navigation2D()
    tasks = family.make_params(goal=[[0.25, -0.15], [0.0, 0.05]])
    goals = tasks.goal.unsqueeze(1)
    returns = first_episode_returns(family, tasks, 3, lambda obs: goals - obs)
    first = -(math.hypot(0.15, 0.05) + 0.05)  # three moves; the last reaches the goal
    torch.testing.assert_close(returns[0], torch.full((3,), first))
    torch.testing.assert_close(returns[1], torch.zeros(3))  # reached in one move, reward 0


def test_a_rollout_counts_each_environments_first_episode_once():
    """``Rollout.mean_first_return`` against the rewards of each env up to its first end."""
    family = make_family("Navigation2D", max_episode_steps=15)
    policy = ActorCritic.for_spaces(family.observation_space, family.action_space,
                                    init_log_std=-1.0)
    tasks = family.make_params(goal=[[0.05, 0.0], [0.3, -0.2]])
    gen = torch.Generator().manual_seed(0)
    env = AutoResetEnv(family, tasks, 4, gen)
    params = stack(policy.init(torch.Generator().manual_seed(0)), 2)
    rollout, _ = collect(policy, params, env, env.reset(), 40, gen)
    done = rollout.terminated | rollout.truncated  # [H, T, E]
    assert (rollout.episodes > rollout.first_episodes).all()  # several episodes per env
    for task in range(2):
        firsts = []
        for e in range(4):
            end = int(done[:, task, e].nonzero()[0])
            firsts.append(rollout.rewards[:end + 1, task, e].sum())
        torch.testing.assert_close(rollout.mean_first_return[task], torch.stack(firsts).mean())
    assert not torch.allclose(rollout.mean_first_return, rollout.mean_return)
