"""The auto-reset wrapper: same-step resets, final observations, episode statistics, seeding."""

import pytest
import torch

from metarl.envs import AutoResetEnv, CartPoleMass, Navigation2D


@pytest.mark.parametrize("dense_reset", [False, True])
def test_truncated_episode_keeps_final_obs_and_restarts(dense_reset):
    family = Navigation2D()
    params = family.make_params(goal=[[0.5, 0.5], [-0.5, 0.5]])
    env = AutoResetEnv(family, params, num_envs=3, dense_reset=dense_reset)
    env.reset()
    action = torch.tensor([0.1, 0.0]).expand(2, 3, 2)
    for step in range(1, 101):
        tr = env.step(action)
        if step < 100:
            assert not tr.truncated.any()
            assert torch.equal(tr.episode_return, torch.zeros(2, 3))
    assert tr.truncated.all() and not tr.terminated.any()
    torch.testing.assert_close(tr.final_obs[..., 0], torch.full((2, 3), 10.0), atol=1e-4, rtol=0)
    assert torch.equal(tr.obs, torch.zeros(2, 3, 2))  # new episode starts at the origin
    assert torch.equal(tr.episode_length, torch.full((2, 3), 100, dtype=torch.int32))
    assert torch.equal(env.state.t, torch.zeros(2, 3, dtype=torch.int32))
    # the return of the finished episode is the sum of its rewards, and the next one starts at 0
    tr2 = env.step(action)
    assert not tr2.truncated.any()
    assert (tr.episode_return < -50).all()


@pytest.mark.parametrize("dense_reset", [False, True])
def test_episode_return_matches_sum_of_rewards_under_early_termination(dense_reset):
    family = CartPoleMass()
    params = family.make_params(length=[0.2, 2.0])
    gen = torch.Generator().manual_seed(0)
    env = AutoResetEnv(family, params, num_envs=64, generator=gen, dense_reset=dense_reset)
    env.reset()
    running = torch.zeros(2, 64)
    checked = 0
    for _ in range(300):
        tr = env.step(torch.randint(0, 2, (2, 64), generator=gen))
        running += tr.reward
        done = tr.terminated | tr.truncated
        torch.testing.assert_close(tr.episode_return[done], running[done])
        assert (tr.episode_return[~done] == 0).all()
        # the final observation of a terminated episode is out of bounds, the new one is not
        assert (tr.final_obs[tr.terminated].abs().amax(-1) > 0.05).all()
        assert (tr.obs[done].abs() <= 0.05).all()
        running[done] = 0
        checked += int(done.sum())
    assert checked > 500


@pytest.mark.parametrize("dense_reset", [False, True])
def test_same_seed_same_trajectories(dense_reset):
    def run(seed: int) -> torch.Tensor:
        family = CartPoleMass()
        params = family.tasks.sample(4, split="test")
        gen = torch.Generator().manual_seed(seed)
        env = AutoResetEnv(family, params, 8, gen, dense_reset=dense_reset)
        obs = [env.reset()]
        for _ in range(100):
            obs.append(env.step(torch.randint(0, 2, (4, 8), generator=gen)).obs)
        return torch.stack(obs)

    assert torch.equal(run(3), run(3))
    assert not torch.equal(run(3), run(4))


def test_tasks_change_on_reset():
    family = Navigation2D()
    env = AutoResetEnv(family, family.make_params(goal=(0.5, 0.5)), 2)
    env.reset(family.make_params(goal=[[0.1, 0.0], [0.0, 0.1], [0.2, 0.2]]))
    assert env.num_tasks == 3
    tr = env.step(torch.zeros(3, 2, 2))
    torch.testing.assert_close(tr.reward[:, 0], torch.tensor([-0.1, -0.1, -(0.08 ** 0.5)]))


def test_compiled_step_equals_eager_dense_step():
    """``compile=True`` is a faster route to the same transitions (float32 rounding aside)."""
    family = CartPoleMass()
    params = family.tasks.sample(3, split="val")

    def run(compile: bool) -> list:
        gen = torch.Generator().manual_seed(0)
        env = AutoResetEnv(family, params, 16, gen, dense_reset=True, compile=compile)
        env.reset()
        actions = torch.Generator().manual_seed(1)
        return [env.step(torch.randint(0, 2, (3, 16), generator=actions)) for _ in range(60)]

    for eager, compiled in zip(run(False), run(True), strict=True):
        for name, a, b in zip(eager._fields, eager, compiled, strict=True):
            if a.dtype.is_floating_point:
                torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5, msg=name)
            else:
                assert torch.equal(a, b), name


def test_compile_needs_dense_reset():
    family = Navigation2D()
    with pytest.raises(ValueError, match="compile=True needs dense_reset"):
        AutoResetEnv(family, family.make_params(), 2, compile=True, dense_reset=False)
