"""The MuJoCo locomotion families: parity of envpool's engine with Gymnasium's MuJoCo envs, the
batched environments, the task rewards, the Gymnasium faces and the bad-input errors."""

import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import metarl
import metarl.envs.locomotion as locomotion
from metarl.agents.actor_critic import ActorCritic
from metarl.agents.ppo import PPO, PPOConfig
from metarl.agents.sb3 import from_sb3
from metarl.cli import main
from metarl.config import config_differences
from metarl.envs import (
    LOCOMOTION_FAMILIES,
    AntDir,
    HalfCheetahDir,
    HalfCheetahVel,
    make_batch_env,
    make_family,
)
from metarl.envs.task_streams import TaskShard
from metarl.problems import config_from_dict
from metarl.rl.learner import adaptation_curves, adaptation_returns
from metarl.training import train_run

envpool = pytest.importorskip("envpool", reason="the [mujoco] extra (envpool) is not installed")
mujoco = pytest.importorskip("mujoco", reason="the [mujoco] extra (mujoco) is not installed")
SAME_MUJOCO = pytest.mark.skipif(
    mujoco.__version__ != "3.6.0",
    reason=f"parity needs MuJoCo 3.6.0, envpool 1.2.5's own (found {mujoco.__version__})")
EXPERIMENTS = Path(__file__).parents[1] / "experiments"
TASKS = {"HalfCheetahVel": {"goal_velocity": [0.3, 1.8]},
         "HalfCheetahDir": {"direction": [-1.0, 1.0]},
         "AntDir": {"direction": [1.0, -1.0]}}


def _infos(info, keys, index=None):
    return {key: torch.tensor([[float(info[key] if index is None else info[key][index])]],
                              dtype=torch.float64) for key in keys}


@SAME_MUJOCO
@pytest.mark.parametrize("name", LOCOMOTION_FAMILIES)
def test_engine_trajectory_equals_gymnasium_from_the_same_start(name):
    """From the noise-free start and under the same random actions, envpool's robot and
    Gymnasium's follow the same trajectory, and the task reward computed from either engine's
    infos is the same, until the episode ends (the Ant falls) or for 150 steps."""
    family = make_family(name)
    params = family.make_params(1, dtype=torch.float64)
    pool = envpool.make_gymnasium(family.engine_id, num_envs=1, reset_noise_scale=0.0,
                                  max_episode_steps=1000)
    robot = gym.make(family.engine_id, reset_noise_scale=0.0).unwrapped
    engine_obs, _ = pool.reset()
    gym_obs, _ = robot.reset(seed=0)
    np.testing.assert_allclose(engine_obs[0], gym_obs, atol=1e-12)
    rng = np.random.default_rng(0)
    for _ in range(150):
        action = rng.uniform(-1.2, 1.2, (1, family.action_space.shape[0]))
        engine_obs, _, engine_term, _, engine_info = pool.step(action)
        gym_obs, _, gym_term, _, gym_info = robot.step(action[0])
        np.testing.assert_allclose(engine_obs[0], gym_obs, atol=1e-9)
        a = torch.as_tensor(action).reshape(1, 1, -1)
        engine_reward = family.task_reward(_infos(engine_info, family.info_keys, 0), a, params)
        gym_reward = family.task_reward(_infos(gym_info, family.info_keys), a, params)
        assert abs(float(engine_reward - gym_reward)) < 1e-9
        assert bool(engine_term[0]) == gym_term
        if gym_term:
            break


@SAME_MUJOCO
@pytest.mark.parametrize("name", LOCOMOTION_FAMILIES)
def test_batched_env_equals_the_gym_face_step_by_step(name):
    """The batched env (two tasks, episodes ending and restarting) against the Gymnasium face,
    whose robot is set to the engine's state before every step: the same next observation, the
    same termination and the same task reward. Gymnasium's Ant-v5 reads x_velocity from the
    torso's xpos, which after mj_step lags the state by one substep, so after set_state its
    velocity differs; there the rewards are compared without their velocity term (the test
    above compares whole rewards along a trajectory)."""
    family = make_family(name)
    tasks = TASKS[name]
    params = family.make_params(2, dtype=torch.float64, **tasks)
    env = make_batch_env(family, params, 1, torch.Generator().manual_seed(0))
    obs = env.reset()
    faces = [gym.make(family.gym_id, **{k: v[i] for k, v in tasks.items()}).unwrapped
             for i in range(2)]
    for face in faces:
        face.reset(seed=0)
    rng, ends = np.random.default_rng(0), 0
    ant = name == "AntDir"
    for _ in range(450):
        for i, face in enumerate(faces):
            root = [env.info["x_position"][i, 0]] + ([env.info["y_position"][i, 0]] if ant else [])
            state = obs[i, 0].numpy()
            nq = face.robot.model.nq - len(root)
            face.robot.set_state(np.concatenate([root, state[:nq]]),
                                 state[nq:nq + face.robot.model.nv])
        action = rng.uniform(-1.2, 1.2, (2, 1, family.action_space.shape[0]))
        tr = env.step(torch.as_tensor(action))
        for i, face in enumerate(faces):
            face_obs, face_reward, face_term, _, face_info = face.step(action[i, 0])
            np.testing.assert_allclose(face_obs, tr.final_obs[i, 0].numpy(), atol=2e-6, rtol=1e-6)
            assert face_term == bool(tr.terminated[i, 0])
            reward = float(tr.reward[i, 0])
            if ant:
                face_reward -= tasks["direction"][i] * face_info["x_velocity"]
                reward -= tasks["direction"][i] * env.info["x_velocity"][i, 0]
            assert abs(face_reward - reward) < 1e-9
        ends += int((tr.terminated | tr.truncated).sum())
        obs = tr.obs
    assert ends >= 4  # the 200-step limit, and the Ant's falls, ended episodes on the way


def test_episodes_restart_in_the_same_step_and_count_whole_episodes():
    family = HalfCheetahDir()
    params = family.make_params(2, direction=[1.0, -1.0])
    env = make_batch_env(family, params, 3, torch.Generator().manual_seed(0))
    obs, total = env.reset(), torch.zeros(2, 3)
    for t in range(1, 201):
        tr = env.step(torch.zeros(2, 3, 6))
        total += tr.reward
        assert bool(tr.truncated.all()) == (t == 200) and not tr.terminated.any()
    assert (tr.episode_length == 200).all()
    torch.testing.assert_close(tr.episode_return, total)
    assert not torch.equal(tr.obs, tr.final_obs)  # a fresh start, not the last state
    assert (env.info["elapsed_step"] == 200).all()
    tr = env.step(torch.zeros(2, 3, 6))  # the new episode's first step: no step spent on a reset
    assert (env.info["elapsed_step"] == 1).all() and (tr.episode_length == 0).all()
    # zero torques: forward and backward tasks of the same state differ only in the sign
    assert obs.shape == (2, 3, 17)


def test_the_same_generator_gives_the_same_episodes_whatever_the_split_of_tasks():
    family = HalfCheetahVel()
    params = family.make_params(4, goal_velocity=[0.5, 1.0, 1.5, 2.0])

    def starts(tasks, generator):
        return make_batch_env(family, tasks, 2, generator).reset()

    whole = starts(params, torch.Generator().manual_seed(3))
    torch.testing.assert_close(whole, starts(params, torch.Generator().manual_seed(3)))
    assert not torch.equal(whole, starts(params, torch.Generator().manual_seed(4)))
    shard = TaskShard(torch.Generator().manual_seed(3), 1, 3, 4)
    torch.testing.assert_close(starts(params.index(slice(1, 3)), shard), whole[1:3])
    # a second reset restarts the same pool: new starts, the same for the same generator
    first, second = (make_batch_env(family, params, 2, torch.Generator().manual_seed(3))
                     for _ in range(2))
    torch.testing.assert_close(first.reset(), whole)
    second.reset()
    again = first.reset()
    assert not torch.equal(again, whole)
    torch.testing.assert_close(second.reset(), again)


def test_task_rewards_follow_their_definitions():
    cheetah, ant = HalfCheetahVel(), AntDir()
    action = torch.full((2, 1, 6), 2.0)  # clipped to 1 in the control cost
    info = {"x_velocity": torch.tensor([[1.5], [0.5]])}
    reward = cheetah.task_reward(info, action, cheetah.make_params(2, goal_velocity=[1.0, 1.0]))
    torch.testing.assert_close(reward, torch.tensor([[-0.5 - 0.3], [-0.5 - 0.3]]))
    direction = HalfCheetahDir().task_reward(info, action, HalfCheetahDir().make_params(
        2, direction=[-1.0, 1.0]))
    torch.testing.assert_close(direction, torch.tensor([[-1.5 - 0.3], [0.5 - 0.3]]))
    ant_info = {"x_velocity": torch.tensor([[2.0]]), "reward_contact": torch.tensor([[-0.01]]),
                "reward_survive": torch.tensor([[1.0]])}
    ant_reward = ant.task_reward(ant_info, torch.full((1, 1, 8), 0.5),
                                 ant.make_params(1, direction=-1.0))
    torch.testing.assert_close(ant_reward, torch.tensor([[-2.0 - 0.005 * 2.0 - 0.01 + 0.05]]))


@pytest.mark.parametrize(("family", "values", "message"), [
    (HalfCheetahVel, {"goal_velocity": 3.5}, "goal_velocity=3.5 must be in [0, 3]"),
    (HalfCheetahVel, {"goal_velocity": float("nan")}, "goal_velocity=nan must be finite"),
    (HalfCheetahDir, {"direction": 0.5}, "direction=0.5 must be one of -1, 1"),
    (AntDir, {"direction": 2.0}, "direction=2.0 must be one of -1, 1"),
])
def test_bad_task_parameters_are_one_line_errors(family, values, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        family().make_params(1, **values)
    with pytest.raises(ValueError, match=message.split(" must")[0].replace("[", r"\[")):
        gym.make(family.gym_id, **values)


def test_a_sampling_range_outside_the_valid_values_is_refused():
    with pytest.raises(ValueError, match=r"range of goal_velocity=\(0.0, 4.0\) must lie in"):
        HalfCheetahVel(ranges={"goal_velocity": (0.0, 4.0)})


@pytest.mark.parametrize("obs_norm", [False, True])
@pytest.mark.parametrize("name", LOCOMOTION_FAMILIES)
def test_gym_ids_pass_gymnasiums_and_sb3s_checkers(name, obs_norm):
    env = gym.make(make_family(name).gym_id, obs_norm=obs_norm)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(env.unwrapped)
    assert env.spec.max_episode_steps == 200


def test_observation_statistics_are_fixed_and_standardise_a_random_policys_observations():
    family, normed = HalfCheetahVel(), HalfCheetahVel(obs_norm=True)
    mean, std = normed.obs_stats
    assert mean.shape == std.shape == (17,) and (std >= 1e-2).all()
    again = locomotion.observation_statistics.__wrapped__(HalfCheetahVel)
    np.testing.assert_array_equal(again[0], mean)  # a fixed seed: the same numbers every time
    params = family.make_params(4, goal_velocity=[0.5, 1.0, 1.5, 2.0])
    raw = make_batch_env(family, params, 4, torch.Generator().manual_seed(0))
    scaled = make_batch_env(normed, params, 4, torch.Generator().manual_seed(0))
    torch.testing.assert_close(
        scaled.reset(), torch.as_tensor(np.clip((raw.reset().numpy() - mean) / std, -10, 10),
                                        dtype=torch.float32))
    seen = []
    for _ in range(100):
        action = torch.rand(4, 4, 6) * 2 - 1
        seen.append(scaled.step(action).final_obs)
    stacked = torch.cat(seen).reshape(-1, 17)
    assert stacked.mean(0).abs().max() < 0.5 and (stacked.std(0) - 1).abs().max() < 0.5


def test_ppo_adapts_on_a_locomotion_family_and_reproduces_with_a_seed():
    family = HalfCheetahVel(max_episode_steps=20, obs_norm=True)
    policy = ActorCritic.for_spaces(family.observation_space, family.action_space, hidden=(16,))
    ppo = PPO(family, policy, PPOConfig(num_envs=4, num_steps=20, num_epochs=2))
    theta = policy.init(torch.Generator().manual_seed(0))
    tasks = family.make_params(2, goal_velocity=[0.5, 1.5])
    first = ppo.adapt(theta, tasks, 2, torch.Generator().manual_seed(1), evaluate_final=True)
    second = ppo.adapt(theta, tasks, 2, torch.Generator().manual_seed(1), evaluate_final=True)
    assert first.returns.shape == (3, 2) and torch.isfinite(first.returns).all()
    torch.testing.assert_close(first.returns, second.returns, rtol=0, atol=0)
    assert not torch.equal(first.params["actor.0.weight"][0], theta["actor.0.weight"])


def test_batched_evaluation_curves_equal_each_start_alone_on_the_engine():
    """Starts stacked as TaskBlocks in one envpool pool: each with its own engine seeds."""
    family = HalfCheetahVel(max_episode_steps=20, obs_norm=True)
    policy = ActorCritic.for_spaces(family.observation_space, family.action_space, hidden=(16,))
    ppo = PPO(family, policy, PPOConfig(num_envs=2, num_steps=20, num_epochs=2))
    thetas = [policy.init(torch.Generator().manual_seed(s)) for s in (0, 1)]
    starts = [(thetas[0], 5), (thetas[1], 5), (thetas[0], 6)]
    tasks = family.make_params(2, goal_velocity=[0.5, 1.5])
    batched = adaptation_curves(ppo, starts, tasks, 1)
    for (theta, seed), curve in zip(starts, batched, strict=True):
        torch.testing.assert_close(curve, adaptation_returns(ppo, theta, tasks, 1, seed),
                                   rtol=1e-5, atol=1e-4)
    assert not torch.equal(batched[0], batched[2])


def test_without_envpool_training_says_which_extra_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(locomotion, "engine_available", lambda: False)
    with pytest.raises(ValueError, match=r'HalfCheetahVel runs on envpool.*\.\[mujoco\]'):
        HalfCheetahVel()
    out = tmp_path / "run"
    assert main(["train", str(EXPERIMENTS / "halfcheetah_vel_quick.toml"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'pip install -e ".[mujoco]"' in err
    assert not out.exists()


def test_obs_norm_is_refused_for_a_family_without_a_robot(tmp_path, capsys):
    config = EXPERIMENTS / "navigation2d_quick.toml"
    assert main(["train", str(config), "--out", str(tmp_path / "run"),
                 "--set", "env.obs_norm=true"]) == 2
    assert "env.obs_norm=True must be false, or true for a MuJoCo locomotion family" in (
        capsys.readouterr().err)


def test_pinned_engine_threads_give_the_same_episodes():
    """env.pin_threads changes where the engine's threads run, not what they compute."""
    tasks = {"goal_velocity": [0.5, 1.5]}
    rollouts = []
    for pin in (False, True):
        family = HalfCheetahVel(max_episode_steps=15, obs_norm=True, pin_threads=pin)
        env = make_batch_env(family, family.make_params(2, **tasks), 3,
                             torch.Generator().manual_seed(0))
        obs, steps = env.reset(), []
        actions = torch.Generator().manual_seed(1)
        for _ in range(20):  # an episode ends and restarts on the way
            tr = env.step(torch.rand(2, 3, 6, generator=actions) * 2 - 1)
            steps.append(torch.cat([tr.obs.flatten(), tr.reward.flatten()]))
        rollouts.append(torch.cat([obs.flatten(), *steps]))
        env.close()
    torch.testing.assert_close(rollouts[0], rollouts[1], rtol=0, atol=0)
    assert "pin_threads=True" in repr(HalfCheetahVel(pin_threads=True))
    with pytest.raises(ValueError, match=r"HalfCheetahVel: pin_threads='yes' must be true or"):
        HalfCheetahVel(pin_threads="yes")


def test_pin_threads_is_a_machine_setting_a_run_resumes_with_either_way():
    config = config_from_dict({"env": {"family": "HalfCheetahVel"}})
    pinned = config_from_dict({"env": {"family": "HalfCheetahVel", "pin_threads": True}})
    normed = config_from_dict({"env": {"family": "HalfCheetahVel", "obs_norm": True,
                                       "pin_threads": True}})
    assert pinned.env.pin_threads and config_differences(config, pinned) == []
    assert config_differences(config, normed) == ["env.obs_norm"]


def test_pin_threads_is_refused_for_a_family_without_an_engine(tmp_path, capsys):
    config = EXPERIMENTS / "navigation2d_quick.toml"
    assert main(["train", str(config), "--out", str(tmp_path / "run"),
                 "--set", "env.pin_threads=true"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "env.pin_threads=True must be false, or true for a MuJoCo locomotion family" in err


def test_a_tiny_run_trains_evaluates_and_exports_to_sb3(tmp_path):
    """metarl's whole job on a locomotion family (20-step episodes), and the export of its
    Reptile initialisation to SB3, which needs an env that normalises observations as the run
    did."""
    config = config_from_dict({
        "run": {"checkpoint_every": 1}, "policy": {"hidden": [8]},
        "env": {"family": "HalfCheetahVel", "obs_norm": True, "pin_threads": True,
                "max_episode_steps": 20},
        "ppo": {"num_envs": 2, "num_steps": 20},
        "meta": {"meta_iterations": 1, "meta_batch": 2, "inner_iterations": 1, "val_tasks": 2},
        "eval": {"methods": ["reptile", "scratch"], "test_tasks": 2, "episodes": 2, "updates": 1,
                 "seeds": [0], "oracle_iterations": 0},
    })
    run = train_run(config, tmp_path / "run", quiet=True)
    assert "pin_threads = true" in (run.path / "config.toml").read_text()
    rows = metarl.evaluate(run, quiet=True)
    assert {(r["method"], r["k"]) for r in rows} == {(m, k) for m in ("reptile", "scratch")
                                                      for k in (0, 1)}
    assert all(np.isfinite(r["mean"]) for r in rows)
    for raw in (gym.make("metarl/HalfCheetahVel-v0"), "metarl/HalfCheetahVel-v0"):
        with pytest.raises(ValueError, match=r"normalised observations .*obs_norm=True"):
            metarl.to_sb3(run.path, raw)
    model = metarl.to_sb3(run.path, gym.make("metarl/HalfCheetahVel-v0", obs_norm=True),
                          n_steps=32, batch_size=16, device="cpu")
    policy, theta = from_sb3(model)
    assert policy.hidden == (8,) and theta["actor.0.weight"].shape == (8, 17)
