"""The Gymnasium faces: gym.make ids, check_env, make_vec, seeding and rendering."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import metarl.envs  # noqa: F401

IDS = ["metarl/Navigation2D-v0", "metarl/CartPoleMass-v0", "metarl/CartPoleDirection-v0"]


@pytest.mark.parametrize("env_id", IDS)
def test_check_env_passes_without_warnings(env_id):
    env = gym.make(env_id, render_mode="rgb_array")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)


def test_task_parameters_are_make_kwargs():
    env = gym.make("metarl/CartPoleMass-v0", masspole=0.5, length=1.0)
    assert env.unwrapped.task == {"masscart": 1.0, "masspole": 0.5, "length": 1.0,
                                  "force_mag": 10.0}
    assert env.spec.max_episode_steps == 500
    nav = gym.make("metarl/Navigation2D-v0", goal=(0.3, -0.2))
    np.testing.assert_allclose(nav.unwrapped.task["goal"], [0.3, -0.2])
    assert nav.spec.max_episode_steps == 100


def test_navigation_episode_through_gym_make():
    env = gym.make("metarl/Navigation2D-v0", goal=(0.15, 0.0))
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.float32 and obs.tolist() == [0.0, 0.0]
    obs, reward, terminated, truncated, _ = env.step(np.array([0.1, 0.0], dtype=np.float32))
    assert abs(reward + 0.05) < 1e-6 and not terminated
    obs, reward, terminated, truncated, _ = env.step(np.array([0.05, 0.0], dtype=np.float32))
    assert terminated and not truncated  # at the goal (0.15, 0)
    env = gym.make("metarl/Navigation2D-v0", goal=(0.5, 0.5))
    env.reset(seed=0)
    for _ in range(99):
        assert not env.step(np.zeros(2, dtype=np.float32))[3]
    assert env.step(np.zeros(2, dtype=np.float32))[3]  # TimeLimit truncates at 100


def test_cartpole_gym_make_matches_gymnasium_cartpole():
    ours = gym.make("metarl/CartPoleMass-v0")
    theirs = gym.make("CartPole-v1")
    rng = np.random.default_rng(0)
    for seed in range(20):
        ours.reset(seed=seed)
        theirs.reset(seed=seed)
        ours.unwrapped._state.x[0, 0] = ours.unwrapped._state.x.new_tensor(
            theirs.unwrapped.state)
        done = False
        while not done:
            a = int(rng.integers(2))
            o1, r1, te1, tr1, _ = ours.step(a)
            o2, r2, te2, tr2, _ = theirs.step(a)
            np.testing.assert_allclose(o1, o2, atol=1e-6)
            assert (r1, te1, tr1) == (r2, te2, tr2)
            done = te1 or tr1


@pytest.mark.parametrize("env_id", IDS)
def test_seeded_resets_repeat(env_id):
    env = gym.make(env_id)
    a, _ = env.reset(seed=42)
    b, _ = env.reset(seed=42)
    c, _ = env.reset(seed=43)
    np.testing.assert_array_equal(a, b)
    if env_id.endswith("CartPoleMass-v0"):
        assert not np.array_equal(a, c)


def test_set_task_and_reset_options():
    env = gym.make("metarl/CartPoleMass-v0")
    env.unwrapped.set_task(masscart=2.0)
    assert env.unwrapped.task["masscart"] == 2.0
    env.reset(options={"task": {"length": 1.5}})
    assert env.unwrapped.task["length"] == 1.5 and env.unwrapped.task["masscart"] == 1.0


@pytest.mark.parametrize("env_id", IDS)
def test_render_rgb_array(env_id):
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 2  # something is drawn


def test_make_vec_with_per_env_tasks_and_same_step_autoreset():
    goals = [[0.1, 0.0], [0.5, 0.5], [-0.5, 0.2], [0.0, -0.3]]
    env = gym.make_vec("metarl/Navigation2D-v0", num_envs=4,
                       vectorization_mode="vector_entry_point", goal=goals)
    assert env.num_envs == 4
    assert env.observation_space.shape == (4, 2) and env.action_space.shape == (4, 2)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4, 2) and obs.dtype == np.float32
    np.testing.assert_allclose([t["goal"] for t in env.unwrapped.tasks], goals, atol=1e-6)
    # env 0 reaches its goal in one step; the others move toward theirs
    obs, reward, terminated, _, info = env.step(np.array(goals, dtype=np.float32))
    assert terminated.tolist() == [True, False, False, False]
    assert info["_final_obs"].tolist() == [True, False, False, False]
    np.testing.assert_allclose(info["final_obs"][0], [0.1, 0.0], atol=1e-6)
    np.testing.assert_allclose(obs[0], [0.0, 0.0])  # restarted in the same step
    np.testing.assert_allclose(obs[1], [0.1, 0.1], atol=1e-6)
    np.testing.assert_allclose(reward[1], -np.hypot(0.4, 0.4), atol=1e-6)
    env.close()


def test_make_vec_cartpole_truncates_at_limit_and_rejects_bad_num_envs():
    env = gym.make_vec("metarl/CartPoleMass-v0", num_envs=3,
                       vectorization_mode="vector_entry_point", max_episode_steps=5,
                       masspole=[0.1, 0.5, 1.0], length=2.0)
    env.reset(seed=1)
    for _ in range(4):
        truncated = env.step(np.array([0, 1, 0]))[3]
        assert not truncated.any()
    _, _, _, truncated, info = env.step(np.array([0, 1, 0]))
    assert truncated.all()
    assert info["episode"]["l"].tolist() == [5, 5, 5]
    with pytest.raises(ValueError, match="num_envs=0 must be a positive integer"):
        gym.make_vec("metarl/CartPoleMass-v0", num_envs=0, vectorization_mode="vector_entry_point")


def test_invalid_actions_are_refused():
    env = gym.make("metarl/CartPoleMass-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action=5 is not in Discrete"):
        env.unwrapped.step(5)
    nav = gym.make("metarl/Navigation2D-v0")
    nav.reset(seed=0)
    with pytest.raises(ValueError, match=r"action has shape \(3,\); expected \(2,\)"):
        nav.unwrapped.step(np.zeros(3, dtype=np.float32))


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_nan_or_inf_action_is_refused_and_leaves_the_env_usable(env_id, bad):
    """Through gym.make and make_vec, every family refuses a non-finite action in one line, and
    the next valid step is as if the bad one had not been tried (no NaN state left behind)."""
    env = gym.make(env_id)
    space = env.action_space
    good = space.sample() * 0 if isinstance(space, gym.spaces.Box) else 1
    bad_action = np.full(space.shape, bad, dtype=np.float32) if space.shape else bad
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action=.*(not finite|is not in Discrete)"):
        env.step(bad_action)
    obs, reward, *_ = env.step(good)
    assert np.isfinite(obs).all() and np.isfinite(reward)

    vec = gym.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point")
    vec.reset(seed=0)
    actions = np.stack([good] * 3).astype(np.float32)
    actions[1] = bad_action
    with pytest.raises(ValueError, match=r"action=.*(not finite|is not in Discrete)"):
        vec.step(actions)
    obs, reward, *_ = vec.step(np.stack([good] * 3))
    assert np.isfinite(obs).all() and np.isfinite(reward).all()


def test_vector_observations_are_copies():
    env = gym.make_vec("metarl/Navigation2D-v0", num_envs=2,
                       vectorization_mode="vector_entry_point")
    obs, _ = env.reset(seed=0)
    obs[:] = 100.0
    obs, *_ = env.step(np.zeros((2, 2), dtype=np.float32))
    np.testing.assert_allclose(obs, 0.0)


@pytest.mark.parametrize("seed", [4, 5])
def test_next_step_autoreset_is_same_step_with_the_reset_on_the_next_call(seed):
    """A sub-environment's episodes are the same in both modes (same seed and actions; one
    sub-environment, so that restarts draw from the generator in the same order): NEXT_STEP
    reports the last observation when an episode ends and, on the next call, whose action it
    ignores, the first one of the next episode with reward 0 and no flag set."""
    from gymnasium.vector import AutoresetMode

    steps = 400
    acts = np.random.default_rng(seed).integers(0, 2, size=steps)
    same = gym.make_vec("metarl/CartPoleMass-v0", num_envs=1,
                        vectorization_mode="vector_entry_point")
    nxt = gym.make_vec("metarl/CartPoleMass-v0", num_envs=1,
                       vectorization_mode="vector_entry_point",
                       autoreset_mode=AutoresetMode.NEXT_STEP)
    assert nxt.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    obs_same, _ = same.reset(seed=seed)
    obs_next, _ = nxt.reset(seed=seed)
    np.testing.assert_array_equal(obs_same, obs_next)
    episodes_same, episodes_next, ended_obs = [], [], []
    for t in range(steps):
        o, r, te, tr, info = same.step(acts[t:t + 1])
        if te[0] or tr[0]:
            episodes_same.append(info["episode"]["r"][0])
            ended_obs.append(info["final_obs"][0])
    total, t, pending = 0.0, 0, False
    while t < steps:
        o, r, te, tr, _ = nxt.step(acts[t:t + 1])
        if pending:  # the restart: no reward, no flag, the new episode's first observation
            assert r[0] == 0 and not (te[0] or tr[0])
            pending = False
            continue
        total += r[0]
        t += 1
        if te[0] or tr[0]:
            episodes_next.append(total)
            np.testing.assert_array_equal(o[0], ended_obs[len(episodes_next) - 1])
            total, pending = 0.0, True
    assert len(episodes_next) >= 10 and episodes_next == episodes_same


@pytest.mark.parametrize("env_id", IDS)
def test_gymnasium_vector_wrappers_run_on_our_ids(env_id):
    """Gymnasium's vector wrappers accept a NEXT_STEP vector env of every family and record its
    episodes; reset(seed=[...]) seeds each sub-environment."""
    from gymnasium.vector import AutoresetMode
    from gymnasium.wrappers import vector as wrappers

    env = gym.make_vec(env_id, num_envs=4, vectorization_mode="vector_entry_point",
                       autoreset_mode=AutoresetMode.NEXT_STEP)
    stats = wrappers.RecordEpisodeStatistics(env)
    wrapped = wrappers.NormalizeReward(wrappers.NormalizeObservation(stats))
    if isinstance(env.single_action_space, gym.spaces.Box):
        wrapped = wrappers.ClipAction(wrapped)
    obs, _ = wrapped.reset(seed=[0, 1, 2, 0])
    assert obs.shape == (4, *env.single_observation_space.shape)
    wrapped.action_space.seed(0)
    scale = 3 if isinstance(env.single_action_space, gym.spaces.Box) else 1  # ClipAction clips
    for _ in range(300):
        obs, reward, *_ = wrapped.step(wrapped.action_space.sample() * scale)
        assert np.isfinite(obs).all() and np.isfinite(reward).all()
    assert len(stats.return_queue) >= 4 and all(length > 0 for length in stats.length_queue)
    first, _ = env.reset(seed=[7, 8, 7, 9])
    np.testing.assert_array_equal(first[0], first[2])


def test_normalized_navigation_through_gym_make_and_make_vec():
    env = gym.make("metarl/Navigation2D-v0", normalize_actions=True, render_mode="rgb_array")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)
    env.reset(seed=0)
    obs, *_ = env.step(np.array([0.5, -1.0], dtype=np.float32))
    np.testing.assert_allclose(obs, [0.05, -0.1], rtol=1e-6)
    vec = gym.make_vec("metarl/Navigation2D-v0", 2, vectorization_mode="vector_entry_point",
                       normalize_actions=True)
    assert vec.single_action_space.high.tolist() == [1.0, 1.0]
    vec.reset(seed=0)
    obs, *_ = vec.step(np.full((2, 2), 0.5, dtype=np.float32))
    np.testing.assert_allclose(obs, np.full((2, 2), 0.05), rtol=1e-6)
