"""The stable-baselines3 bridge: exported policies act and value like ours; round trips."""

import gymnasium as gym
import numpy as np
import pytest
import torch

import metarl  # registers the Gymnasium ids; metarl.to_sb3 reads run directories too
from metarl.agents.actor_critic import ActorCritic
from metarl.agents.sb3 import from_sb3, to_sb3
from metarl.problems import config_from_dict
from metarl.training import train_run


def _theta(policy: ActorCritic, seed: int = 0):
    theta = policy.init(torch.Generator().manual_seed(seed))
    gen = torch.Generator().manual_seed(seed + 1)
    # perturb every tensor (orthogonal init leaves biases at 0 and the heads tiny)
    return {k: v + 0.3 * torch.randn(v.shape, generator=gen) for k, v in theta.items()}


@pytest.mark.parametrize("env_id,activation", [("metarl/Navigation2D-v0", "relu"),
                                               ("metarl/CartPoleMass-v0", "tanh")])
def test_exported_policy_gives_our_distribution_and_value(env_id, activation):
    env = gym.make(env_id)
    policy = ActorCritic.for_spaces(env.observation_space, env.action_space, hidden=(32, 16),
                                    activation=activation)
    theta = _theta(policy)
    model = to_sb3(theta, env, activation=activation, n_steps=64, batch_size=32, device="cpu")
    obs = torch.randn(50, policy.obs_dim, generator=torch.Generator().manual_seed(3))
    stacked = {k: v.unsqueeze(0) for k, v in theta.items()}
    ours = policy.actor(stacked, obs.unsqueeze(0))[0]
    with torch.no_grad():
        dist = model.policy.get_distribution(obs).distribution
        value = model.policy.predict_values(obs).squeeze(-1)
    if policy.discrete:
        assert torch.allclose(dist.logits, torch.log_softmax(ours, dim=-1), atol=1e-5)
    else:
        assert torch.allclose(dist.mean, ours, atol=1e-5)
        assert torch.allclose(dist.stddev, theta["log_std"].exp().expand_as(ours), atol=1e-6)
    assert torch.allclose(value, policy.value(stacked, obs.unsqueeze(0))[0], atol=1e-5)

    back_policy, back = from_sb3(model)
    assert back_policy == policy
    assert list(back) == list(theta)
    for k, v in theta.items():
        assert torch.equal(back[k], v), k


@pytest.mark.parametrize("normalize", [False, True])
def test_export_from_a_run_directory_and_a_checkpoint(tmp_path, normalize):
    config = config_from_dict({
        "run": {"checkpoint_every": 1}, "policy": {"hidden": [8], "activation": "relu"},
        "env": {"normalize_actions": normalize},
        "ppo": {"num_envs": 2, "num_steps": 20},
        "meta": {"meta_iterations": 1, "meta_batch": 2, "inner_iterations": 1, "val_tasks": 2},
        "eval": {"methods": ["reptile"]},
    })
    run = train_run(config, tmp_path / "run", evaluate=False, quiet=True)
    env = gym.make("metarl/Navigation2D-v0", normalize_actions=normalize)
    if normalize:  # the policy acts in [-1, 1]: the env must too
        for raw in (gym.make("metarl/Navigation2D-v0"), "metarl/Navigation2D-v0"):
            with pytest.raises(ValueError, match=r"acts in \[-1, 1\] .*normalize_actions=True"):
                metarl.to_sb3(run.path, raw)
    from_dir = metarl.to_sb3(run.path, env, n_steps=64, batch_size=32, device="cpu")
    from_file = metarl.to_sb3(run.checkpoints("reptile") / "iter_000001.pt", env, n_steps=64,
                              batch_size=32, device="cpu")
    policy, theta = from_sb3(from_dir)
    assert policy.hidden == (8,) and policy.activation == "relu"
    for k, v in from_sb3(from_file)[1].items():
        assert torch.equal(theta[k], v)
    # plain SB3 fine-tunes it
    from_dir.learn(64)


def test_mismatched_env_is_a_one_line_error():
    env = gym.make("metarl/Navigation2D-v0")
    nav = ActorCritic.for_spaces(env.observation_space, env.action_space, hidden=(8,))
    with pytest.raises(ValueError, match=r"observation space .* does not match"):
        to_sb3(nav.init(), gym.make("metarl/CartPoleMass-v0"), n_steps=64, batch_size=32,
               device="cpu")
    with pytest.raises(ValueError, match="neither a run directory nor a checkpoint"):
        metarl.to_sb3("no/such/run", env)


def test_sb3_from_scratch_is_an_evaluation_method(tmp_path):
    import dataclasses
    import math

    from metarl.evaluation import evaluate_run
    from metarl.report.files import read_csv

    config = config_from_dict({
        "policy": {"hidden": [8], "init_log_std": -1.0},
        "ppo": {"num_envs": 2, "num_steps": 20, "num_minibatches": 2, "num_epochs": 2},
        "meta": {"meta_iterations": 1, "meta_batch": 2, "inner_iterations": 1, "val_tasks": 2},
        "eval": {"methods": ["reptile"]}, "env": {"max_episode_steps": 20},
    })
    run = train_run(config, tmp_path / "run", evaluate=False, quiet=True)
    settings = dataclasses.replace(config.eval, methods=("scratch", "sb3"), test_tasks=2,
                                   updates=2, episodes=3, seeds=(0,), oracle_iterations=0)
    evaluate_run(run, settings, quiet=True)
    rows = [r for r in read_csv(run.eval / "curves.csv") if r["method"] == "sb3"]
    assert len(rows) == 2 * 3  # tasks x (K + 1)
    assert sorted({int(r["k"]) for r in rows}) == [0, 1, 2]
    assert all(math.isfinite(float(r["return"])) and float(r["return"]) < 0 for r in rows)
    assert {int(r["env_steps"]) for r in rows} == {0, 60, 120}


def _sb3_inner_config(**eval_settings):
    return config_from_dict({
        "env": {"family": "CartPoleMass", "max_episode_steps": 32},  # whole episodes per rollout
        "policy": {"hidden": [8]},
        "ppo": {"inner": "sb3", "num_envs": 2, "num_steps": 32, "num_minibatches": 2,
                "num_epochs": 2, "learning_rate": 1e-3},
        "meta": {"meta_iterations": 2, "meta_batch": 2, "inner_iterations": 2, "val_tasks": 2,
                 "val_every": 2},
        "eval": {"methods": ["reptile", "scratch"], "test_tasks": 2, "updates": 1,
                 "episodes": 2, "seeds": [0], "oracle_iterations": 0, **eval_settings},
    })


def test_sb3_inner_learner_adapts_each_task_as_if_alone():
    from metarl.problem import initial_theta
    from metarl.rl.components import build_components
    from metarl.rl.sb3.learner import SB3Learner

    config = _sb3_inner_config()
    family, policy, ppo = build_components(config)
    learner = SB3Learner(ppo)
    theta = initial_theta(policy, 0, torch.device("cpu"))
    tasks = family.tasks.sample(2, torch.Generator().manual_seed(0))
    both = learner.adapt(theta, tasks, 2, torch.Generator().manual_seed(5))
    first = learner.adapt(theta, tasks.index(slice(0, 1)), 2, torch.Generator().manual_seed(5))
    for k, v in first.params.items():
        assert torch.allclose(both.params[k][0], v[0], atol=1e-6), k  # fresh Adam per task
    assert not torch.equal(both.params["actor.0.weight"][0], theta["actor.0.weight"])
    assert both.details.returns.shape == (2, 2) and both.samples == 2 * 2 * 64


def test_reptile_with_the_sb3_inner_learner_through_the_gym_id(tmp_path):
    run = train_run(_sb3_inner_config(), tmp_path / "run", quiet=True)
    from metarl.report.files import read_csv

    metrics = read_csv(run.metrics)
    assert [int(r["iteration"]) for r in metrics] == [0, 1, 2]
    assert int(metrics[-1]["env_steps"]) == 2 * 2 * 2 * 64
    assert all(float(r["train_return_first"]) > 0 for r in metrics[1:])
    assert float(metrics[0]["val_k0"]) > 0  # iteration 0: the initialisation, validated
    summary = read_csv(run.eval / "summary.csv")
    assert {(r["method"], int(r["k"])) for r in summary} == {
        ("reptile", 0), ("reptile", 1), ("scratch", 0), ("scratch", 1)}
    with pytest.raises(ValueError, match="fomaml, which needs"):
        _sb3_inner_config(methods=["reptile", "fomaml"])


class PointGoal(gym.Env):
    """A user's own env: a point on a line walks to ``goal`` (set by make kwargs or set_task)."""

    def __init__(self, goal: float = 0.0) -> None:
        self.goal = goal
        self.observation_space = gym.spaces.Box(-10.0, 10.0, (1,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), dtype=np.float32)

    def set_task(self, goal: float) -> None:
        self.goal = goal

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x = float(self.np_random.uniform(-0.1, 0.1))
        return np.array([self.x], np.float32), {}

    def step(self, action):
        self.x += 0.1 * float(np.clip(action[0], -1.0, 1.0))
        return np.array([self.x], np.float32), -abs(self.x - self.goal), False, False, {}


POINT_ID = "metarl-tests/PointGoal-v0"
if POINT_ID not in gym.registry:
    gym.register(POINT_ID, entry_point=PointGoal, max_episode_steps=20)


@pytest.mark.parametrize("task_via", ["make", "set_task"])
def test_reptile_over_sb3_on_a_users_own_env(tmp_path, task_via):
    from metarl.report.files import read_csv
    from metarl.rl.components import build_components

    config = config_from_dict({
        "env": {"family": "gym", "gym_id": f"{__name__}:{POINT_ID}",  # module:id form
                "ranges": {"goal": [-1.0, 1.0]}, "task_via": task_via},
        "policy": {"hidden": [8]},
        "ppo": {"inner": "sb3", "num_envs": 2, "num_steps": 20, "num_minibatches": 2,
                "num_epochs": 2},
        "meta": {"meta_iterations": 2, "meta_batch": 2, "inner_iterations": 1, "val_tasks": 2,
                 "val_every": 2},
        "eval": {"methods": ["reptile", "scratch", "sb3"], "test_tasks": 2, "updates": 1,
                 "episodes": 2, "seeds": [0], "oracle_iterations": 0},
    })
    family = build_components(config).family
    tasks = family.tasks.sample(3, split="test")
    for task in tasks.to_list():
        assert family.make_env(task).unwrapped.goal == task["goal"]
    assert (tasks.goal.abs() <= 1).all() and len(set(tasks.goal.tolist())) == 3
    run = train_run(config, tmp_path / "run", quiet=True)
    summary = read_csv(run.eval / "summary.csv")
    assert {r["method"] for r in summary} == {"reptile", "scratch", "sb3"}
    assert all(float(r["mean"]) < 0 for r in summary)  # rewards are minus distances


def test_gym_family_needs_the_sb3_inner_learner():
    from metarl.rl.components import build_components

    with pytest.raises(ValueError, match="no batched dynamics"):
        config_from_dict({"env": {"family": "gym", "gym_id": POINT_ID,
                                  "ranges": {"goal": [-1.0, 1.0]}}})
    with pytest.raises(ValueError, match="cannot import no_such_module"):
        build_components(config_from_dict({
            "env": {"family": "gym", "gym_id": "no_such_module:X-v0", "ranges": {"goal": [0, 1]}},
            "ppo": {"inner": "sb3"}, "eval": {"methods": ["reptile"], "oracle_iterations": 0}}))
    with pytest.raises(ValueError, match=r"needs env\.gym_id"):
        config_from_dict({"env": {"family": "gym"}, "ppo": {"inner": "sb3"}})


def test_sb3_ppo_gets_the_log_std_learning_rate():
    from stable_baselines3 import PPO as SB3PPO

    from metarl.agents.ppo import PPOConfig
    from metarl.envs import Navigation2D
    from metarl.rl.sb3.runner import learn_rollouts, split_log_std_lr, task_vec_env

    cfg = PPOConfig(num_envs=2, num_steps=32, num_epochs=2, num_minibatches=2,
                    learning_rate=1e-4, log_std_learning_rate=0.05)
    env = task_vec_env(Navigation2D(), {"goal": [0.3, -0.2]}, 2)
    model = split_log_std_lr(SB3PPO("MlpPolicy", env, n_steps=32, batch_size=32, n_epochs=2,
                                    learning_rate=1e-4, seed=0, device="cpu"), cfg)
    before = model.policy.log_std.detach().clone()
    weight = model.policy.action_net.weight.detach().clone()
    learn_rollouts(model, 2, 64)  # 2 updates x 2 epochs x 2 minibatches: 8 Adam steps
    assert [g["lr"] for g in model.policy.optimizer.param_groups] == pytest.approx([1e-4, 0.05])
    assert (model.policy.log_std.detach() - before).abs().max() > 8 * 1e-4 * 10
    assert (model.policy.action_net.weight.detach() - weight).abs().max() <= 8 * 1e-4 * 1.01
    env.close()


def test_sb3_ppo_refuses_the_bound_penalty_it_does_not_have():
    from metarl.agents.ppo import PPOConfig
    from metarl.rl.config import PolicyConfig
    from metarl.rl.sb3.runner import sb3_ppo_kwargs

    with pytest.raises(ValueError, match=r"ppo.bound_coef=0.1 has no stable-baselines3"):
        sb3_ppo_kwargs(PPOConfig(bound_coef=0.1), PolicyConfig(), 4)
    assert sb3_ppo_kwargs(PPOConfig(), PolicyConfig(), 4)["n_epochs"] == PPOConfig().num_epochs


def test_sb3_ppo_anneals_its_clip_and_learning_rate_like_the_batched_learner():
    from stable_baselines3 import PPO as SB3PPO

    from metarl.agents.ppo import PPOConfig
    from metarl.envs import Navigation2D
    from metarl.rl.sb3.runner import anneal_like_batched, learn_rollouts, task_vec_env

    cfg = PPOConfig(num_envs=2, num_steps=16, num_epochs=1, num_minibatches=1, clip_coef=6.0,
                    learning_rate=3e-3, anneal_clip=True, anneal_lr=True)
    env = task_vec_env(Navigation2D(), {"goal": [0.3, -0.2]}, 2)
    # three updates measured by four rollouts, as the evaluation runs them (the fourth
    # rollout's update is never measured)
    model = anneal_like_batched(SB3PPO("MlpPolicy", env, n_steps=16, batch_size=32, n_epochs=1,
                                       clip_range=6.0, learning_rate=3e-3, seed=0,
                                       device="cpu"), cfg, 3, 4)
    seen = []
    train = model.train

    def spy() -> None:
        train()
        seen.append((model.clip_range(model._current_progress_remaining),
                     model.policy.optimizer.param_groups[0]["lr"]))

    model.train = spy  # type: ignore[method-assign]
    learn_rollouts(model, 4, 32)
    env.close()
    expected = [(pytest.approx(6.0 * f), pytest.approx(3e-3 * f)) for f in (1, 2 / 3, 1 / 3)]
    assert seen[:3] == expected
    # a clip schedule reaches SB3 the same way
    seen.clear()
    scheduled = cfg.replace(anneal_clip=False, clip_schedule=(20.0, 2.5))
    env = task_vec_env(Navigation2D(), {"goal": [0.3, -0.2]}, 2)
    model = anneal_like_batched(SB3PPO("MlpPolicy", env, n_steps=16, batch_size=32, n_epochs=1,
                                       clip_range=6.0, learning_rate=3e-3, seed=0,
                                       device="cpu"), scheduled, 3, 4)
    train = model.train
    model.train = spy  # type: ignore[method-assign]
    learn_rollouts(model, 4, 32)
    env.close()
    assert [clip for clip, _ in seen[:3]] == [20.0, 2.5, 2.5]


@pytest.mark.parametrize("reset", [True, False])
def test_sb3_rollouts_start_from_fresh_episodes_like_the_batched_learner(reset):
    """With ppo.reset_every_iteration, every SB3 rollout starts at the start state, as the
    batched learner's do; without it, unfinished episodes carry over."""
    from stable_baselines3 import PPO as SB3PPO
    from stable_baselines3.common.vec_env import DummyVecEnv

    from metarl.rl.sb3.runner import learn_rollouts

    env = DummyVecEnv([lambda: gym.make("metarl/Navigation2D-v0", goal=(0.4, 0.4),
                                        max_episode_steps=150)] * 2)
    model = SB3PPO("MlpPolicy", env, n_steps=100, batch_size=100, n_epochs=1, seed=0,
                   device="cpu")
    returns = learn_rollouts(model, 2, 200, reset_every_rollout=reset)
    assert len(returns) == 2
    start = model.rollout_buffer.observations[0]  # the second rollout's first observations
    assert np.all(start == 0) == reset  # 100 steps into a 150-step episode otherwise
