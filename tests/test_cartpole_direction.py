"""CartPoleDirection: CartPoleMass with a per-task push direction."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from metarl.envs import CartPoleDirection, CartPoleMass, EnvState, TaskSampler

PHYSICS = dict(masscart=[0.6, 3.0, 1.0], masspole=[0.05, 0.8, 0.1], length=[0.25, 1.5, 0.5])


def _steps(family, params, actions: torch.Tensor) -> torch.Tensor:
    """Observations of a free-running rollout of ``actions`` ``[steps, T, E]`` from one state."""
    state = EnvState(torch.full((params.num_tasks, actions.shape[2], 4), 0.02, dtype=torch.float64),
                     torch.zeros(params.num_tasks, actions.shape[2], dtype=torch.int32))
    observations = []
    for a in actions:
        res = family.step(state, a, params)
        state = res.state
        observations.append(res.obs)
    return torch.stack(observations)


def test_direction_one_is_cartpole_mass_and_minus_one_swaps_the_actions():
    actions = torch.randint(0, 2, (40, 3, 5), generator=torch.Generator().manual_seed(0))
    mass = CartPoleMass().make_params(dtype=torch.float64, **PHYSICS)
    direction = CartPoleDirection()
    forward = direction.make_params(dtype=torch.float64, direction=1.0, **PHYSICS)
    reverse = direction.make_params(dtype=torch.float64, direction=-1.0, **PHYSICS)
    reference = _steps(CartPoleMass(), mass, actions)
    torch.testing.assert_close(_steps(direction, forward, actions), reference, rtol=0, atol=0)
    torch.testing.assert_close(_steps(direction, reverse, 1 - actions), reference, rtol=0, atol=0)
    assert not torch.allclose(_steps(direction, reverse, actions), reference)


def test_tasks_of_one_batch_keep_their_own_direction():
    family = CartPoleDirection()
    params = family.make_params(dtype=torch.float64, direction=[1.0, -1.0])
    x = torch.zeros(2, 1, 4, dtype=torch.float64)
    res = family.step(EnvState(x, torch.zeros(2, 1, dtype=torch.int32)),
                      torch.ones(2, 1, dtype=torch.long), params)
    # action 1 accelerates the cart right on the first task and left on the second
    assert res.obs[0, 0, 1] > 0 and res.obs[1, 0, 1] < 0


def test_directions_are_drawn_half_and_half_on_cartpole_mass_physics():
    family = CartPoleDirection()
    train = family.tasks.sample(4000, torch.Generator().manual_seed(0))
    assert set(train.direction.unique().tolist()) == {-1.0, 1.0}
    assert abs((train.direction > 0).float().mean().item() - 0.5) < 0.03
    test = family.tasks.sample(40, split="test")
    mass_test = CartPoleMass().tasks.sample(40, split="test")
    for name, values in mass_test.as_dict().items():
        assert torch.equal(getattr(test, name), values)
    assert 10 <= int((test.direction > 0).sum()) <= 30


def test_direction_range_keeps_the_choices_inside_it():
    sampler = TaskSampler(CartPoleDirection.params_type, ranges={"direction": (1, 1)})
    assert bool((sampler.sample(200, torch.Generator().manual_seed(0)).direction == 1).all())
    with pytest.raises(ValueError, match=r"range of direction=\[0.2, 0.7\] holds none of its "
                                         r"values -1, 1"):
        TaskSampler(CartPoleDirection.params_type, ranges={"direction": (0.2, 0.7)})


def test_direction_must_be_plus_or_minus_one():
    with pytest.raises(ValueError, match=r"CartPoleDirectionParams: task parameter "
                                         r"direction=0.5 must be one of -1, 1"):
        CartPoleDirection().make_params(direction=0.5)
    with pytest.raises(ValueError, match=r"direction=0\.5 must be one of -1, 1"):
        gym.make("metarl/CartPoleDirection-v0", direction=0.5)


def test_gym_make_reversed_task_swaps_the_actions():
    forward = gym.make("metarl/CartPoleDirection-v0", length=1.0)
    reverse = gym.make("metarl/CartPoleDirection-v0", length=1.0, direction=-1)
    assert reverse.unwrapped.task["direction"] == -1.0
    a, _ = forward.reset(seed=3)
    b, _ = reverse.reset(seed=3)
    for action in [1, 1, 0, 1, 0, 0, 1]:
        a, *_ = forward.step(action)
        b, *_ = reverse.step(1 - action)
        np.testing.assert_array_equal(a, b)
