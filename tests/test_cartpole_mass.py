"""CartPoleMass against Gymnasium's CartPole-v1, side by side."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.envs.classic_control.cartpole import CartPoleEnv

from metarl.envs import CartPoleMass, EnvState


def _state(values: np.ndarray, dtype: torch.dtype) -> EnvState:
    x = torch.as_tensor(np.asarray(values), dtype=dtype).reshape(1, 1, 4)
    return EnvState(x, torch.zeros(1, 1, dtype=torch.int32))


def _run_side_by_side(gym_env: gym.Env, family: CartPoleMass, params, episodes: int,
                      dtype: torch.dtype, resync: bool) -> tuple[int, float]:
    """Step both with the same random actions; return (steps, max |obs difference|)."""
    rng = np.random.default_rng(123)
    steps, worst = 0, 0.0
    for ep in range(episodes):
        obs, _ = gym_env.reset(seed=ep)
        state = _state(gym_env.unwrapped.state, dtype)
        done = False
        while not done:
            if resync:  # compare one step from the same state (float32 cannot track float64 long)
                state = _state(gym_env.unwrapped.state, dtype)._replace(t=state.t)
            action = int(rng.integers(2))
            obs, reward, terminated, truncated, _ = gym_env.step(action)
            res = family.step(state, torch.tensor([[action]]), params)
            state = res.state
            worst = max(worst, float(np.abs(res.obs[0, 0].numpy() - obs).max()))
            assert float(res.reward[0, 0]) == reward
            assert bool(res.terminated[0, 0]) == terminated, f"episode {ep}, step {steps}"
            assert bool(res.truncated[0, 0]) == truncated, f"episode {ep}, step {steps}"
            done = terminated or truncated
            steps += 1
    return steps, worst


@pytest.mark.parametrize("dtype,episodes,resync,min_steps,tolerance", [
    (torch.float64, 300, False, 5000, 1e-6),  # free-running side by side, whole episodes
    (torch.float32, 200, True, 3000, 1e-5),  # one step from the same state (float32 drifts)
])
def test_default_physics_equal_gymnasium_cartpole(dtype, episodes, resync, min_steps, tolerance):
    family = CartPoleMass()
    params = family.make_params(1, dtype=dtype)
    steps, worst = _run_side_by_side(gym.make("CartPole-v1"), family, params, episodes, dtype,
                                     resync=resync)
    assert steps > min_steps
    assert worst < tolerance


def test_truncation_at_500_like_time_limit():
    family = CartPoleMass()
    params = family.make_params(1)
    state = EnvState(torch.zeros(1, 1, 4), torch.full((1, 1), 499, dtype=torch.int32))
    res = family.step(state, torch.tensor([[1]]), params)
    assert bool(res.truncated[0, 0]) and not bool(res.terminated[0, 0])


@pytest.mark.parametrize("physics", [
    dict(masscart=3.0, masspole=0.8, length=1.5, force_mag=10.0),
    dict(masscart=0.6, masspole=0.05, length=0.25, force_mag=14.0),
])
def test_changed_physics_equal_gymnasium_with_rederived_quantities(physics):
    """Derived quantities come from the task: equal to CartPoleEnv with every attribute set."""
    gym_env = gym.wrappers.TimeLimit(CartPoleEnv(), max_episode_steps=500)
    raw = gym_env.unwrapped
    raw.masscart, raw.masspole = physics["masscart"], physics["masspole"]
    raw.length, raw.force_mag = physics["length"], physics["force_mag"]
    raw.total_mass = raw.masspole + raw.masscart
    raw.polemass_length = raw.masspole * raw.length
    family = CartPoleMass()
    params = family.make_params(1, dtype=torch.float64, **physics)
    steps, worst = _run_side_by_side(gym_env, family, params, 100, torch.float64, resync=False)
    assert steps > 500
    assert worst < 1e-6


def test_tasks_in_one_batch_differ_and_match_their_own_runs():
    family = CartPoleMass()
    params = family.make_params(masspole=[0.1, 1.0], length=[0.5, 2.0])
    x = torch.full((2, 3, 4), 0.03)
    state = EnvState(x, torch.zeros(2, 3, dtype=torch.int32))
    action = torch.tensor([[1, 0, 1], [1, 0, 1]])
    batched = family.step(state, action, params).obs
    assert not torch.allclose(batched[0], batched[1])
    for i in range(2):
        alone = family.step(EnvState(x[i:i + 1], state.t[i:i + 1]), action[i:i + 1],
                            params.index(i)).obs
        torch.testing.assert_close(batched[i:i + 1], alone)


def test_initial_state_uniform_in_bounds_and_seeded():
    family = CartPoleMass()
    params = family.make_params(4)
    s1, _ = family.reset(params, 1000, torch.Generator().manual_seed(5))
    s2, _ = family.reset(params, 1000, torch.Generator().manual_seed(5))
    assert torch.equal(s1.x, s2.x)
    assert s1.x.abs().max() <= 0.05
    assert s1.x.abs().max() > 0.049  # spans the range
    assert s1.x.shape == (4, 1000, 4)
