"""Navigation2D against the MAML definition, on hand-computed steps."""

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from metarl.envs import CartPoleMass, EnvState, Navigation2D


def _start(family: Navigation2D, goal, num_envs: int = 1):
    params = family.make_params(goal=goal)
    state, obs = family.reset(params, num_envs)
    return params, state, obs


def test_starts_at_origin_and_observes_position():
    family = Navigation2D()
    _, state, obs = _start(family, (0.3, -0.2), num_envs=3)
    assert torch.equal(obs, torch.zeros(1, 3, 2))
    assert torch.equal(state.t, torch.zeros(1, 3, dtype=torch.int32))


def test_hand_computed_step_with_clipping():
    family = Navigation2D()
    params, state, _ = _start(family, (0.3, -0.2))
    res = family.step(state, torch.tensor([[[0.5, -0.05]]]), params)  # x clipped to 0.1
    torch.testing.assert_close(res.obs, torch.tensor([[[0.1, -0.05]]]))
    expected = -math.hypot(0.1 - 0.3, -0.05 + 0.2)
    assert abs(float(res.reward) - expected) < 1e-6
    assert not bool(res.terminated) and not bool(res.truncated)
    res = family.step(res.state, torch.tensor([[[-3.0, -1.0]]]), params)  # both clipped to -0.1
    torch.testing.assert_close(res.obs, torch.tensor([[[0.0, -0.15]]]))
    assert abs(float(res.reward) - (-math.hypot(0.3, 0.05))) < 1e-6


def test_terminates_only_when_both_coordinates_within_001():
    family = Navigation2D()
    params = family.make_params(goal=(0.05, 0.05))
    state = EnvState(torch.zeros(1, 3, 2), torch.zeros(1, 3, dtype=torch.int32))
    action = torch.tensor([[[0.045, 0.045], [0.045, 0.035], [0.0595, 0.0405]]])
    res = family.step(state, action, params)
    assert res.terminated.tolist() == [[True, False, True]]
    d = math.hypot(0.005, 0.005)
    assert abs(float(res.reward[0, 0]) + d) < 1e-6


def test_truncated_after_100_steps():
    family = Navigation2D()
    params, state, _ = _start(family, (0.5, 0.5))
    for step in range(1, 101):
        res = family.step(state, torch.tensor([[[-0.1, 0.0]]]), params)
        state = res.state
        assert bool(res.truncated) == (step == 100)
        assert not bool(res.terminated)
    assert abs(float(res.obs[0, 0, 0]) + 10.0) < 1e-4


def test_reaching_the_goal_by_straight_moves():
    family = Navigation2D()
    params, state, _ = _start(family, (0.25, -0.15))
    total, steps = 0.0, 0
    while True:
        delta = params.goal.unsqueeze(1) - state.x
        res = family.step(state, delta, params)  # clipped to 0.1 per axis
        total += float(res.reward)
        steps += 1
        state = res.state
        if bool(res.terminated):
            break
    assert steps == 3
    expected = -(math.hypot(0.15, 0.05) + math.hypot(0.05, 0.0) + 0.0)
    assert abs(total - expected) < 1e-6


def test_goals_broadcast_over_envs_per_task():
    family = Navigation2D()
    params = family.make_params(goal=[[0.5, 0.0], [-0.5, 0.0]])
    state, _ = family.reset(params, 4)
    res = family.step(state, torch.full((2, 4, 2), 0.1), params)
    torch.testing.assert_close(res.reward[0], torch.full((4,), -math.hypot(0.4, 0.1)))
    torch.testing.assert_close(res.reward[1], torch.full((4,), -math.hypot(0.6, 0.1)))


def test_normalized_actions_are_rllabs_map_to_the_bounds_then_clipped():
    """``normalize_actions``: an action in [-1, 1] moves by ``0.1 a`` (rllab's ``normalize``:
    ``low + (a + 1) (high - low) / 2``, clipped), out-of-range ones are clipped to the bounds."""
    raw, scaled = Navigation2D(), Navigation2D(normalize_actions=True)
    assert (scaled.action_space.low == -1).all() and (scaled.action_space.high == 1).all()
    assert (raw.action_space.high == 0.1).all()
    params, state, _ = _start(scaled, (0.3, -0.2), num_envs=4)
    actions = torch.tensor([[[1.0, -1.0], [0.5, -0.25], [3.0, -7.0], [0.0, 0.2]]])
    res = scaled.step(state, actions, params)
    ref = raw.step(state, (0.1 * actions).clamp(-0.1, 0.1), params)
    torch.testing.assert_close(res.obs, ref.obs)
    torch.testing.assert_close(res.reward, ref.reward)
    torch.testing.assert_close(res.obs[0, 1], torch.tensor([0.05, -0.025]))


def test_normalized_actions_need_a_box_with_finite_bounds():
    with pytest.raises(ValueError, match="normalize_actions=True needs a Box action space"):
        CartPoleMass(normalize_actions=True)

    class Unbounded(Navigation2D):
        action_space = gym.spaces.Box(-math.inf, math.inf, (2,), np.float32)

    with pytest.raises(ValueError, match="normalize_actions=True needs finite action bounds"):
        Unbounded(normalize_actions=True)
