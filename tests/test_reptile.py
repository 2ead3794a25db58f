"""The Reptile outer step against its definition."""

import re

import pytest
import torch

from metarl.agents.actor_critic import ActorCritic
from metarl.meta.groups import group_of, names_in_groups
from metarl.meta.reptile import ReptileOuter, reptile_delta


def _toy(num_tasks: int = 4, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    theta = {"w": torch.randn(3, 2, generator=g, dtype=torch.float64),
             "b": torch.randn(3, generator=g, dtype=torch.float64)}
    adapted = {k: v + torch.randn(num_tasks, *v.shape, generator=g, dtype=torch.float64)
               for k, v in theta.items()}
    return theta, adapted


def test_plain_step_equals_definition():
    theta, adapted = _toy()
    outer = ReptileOuter(theta, epsilon=0.3)
    new = outer.step(adapted)
    for k in theta:
        expected = theta[k] + 0.3 * (adapted[k].mean(dim=0) - theta[k])
        torch.testing.assert_close(new[k], expected, rtol=0, atol=1e-12)


def test_epsilon_one_jumps_to_the_mean_and_annealing_reaches_zero():
    theta, adapted = _toy()
    new = ReptileOuter(theta, epsilon=1.0).step(adapted)
    for k in theta:
        torch.testing.assert_close(new[k], adapted[k].mean(dim=0), rtol=0, atol=1e-12)
    outer = ReptileOuter(theta, epsilon=1.0, anneal_iterations=4)
    epsilons = []
    for _ in range(5):
        epsilons.append(outer.current_epsilon())
        outer.step(adapted)
    assert epsilons == [1.0, 0.75, 0.5, 0.25, 0.0]


def test_only_meta_learned_parameters_move():
    theta, adapted = _toy()
    new = ReptileOuter(theta, epsilon=0.5, names=["w"]).step(adapted)
    assert not torch.equal(new["w"], theta["w"])
    assert torch.equal(new["b"], theta["b"])
    with pytest.raises(ValueError, match="unknown parameters"):
        reptile_delta(theta, adapted, ["v"])


def test_sgd_without_momentum_is_the_plain_step_and_adam_moves_by_lr():
    theta, adapted = _toy()
    plain = ReptileOuter(theta, epsilon=0.2).step(adapted)
    sgd = ReptileOuter(theta, epsilon=0.2, optimizer="sgd").step(adapted)
    adam = ReptileOuter(theta, epsilon=0.01, optimizer="adam").step(adapted)
    for k in theta:
        torch.testing.assert_close(sgd[k], plain[k], rtol=0, atol=1e-12)
        direction = torch.sign(adapted[k].mean(0) - theta[k])
        torch.testing.assert_close(adam[k] - theta[k], 0.01 * direction, rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("optimizer", ["none", "sgd", "adam"])
def test_resume_from_state_dict_continues_exactly(optimizer):
    theta, _ = _toy()
    steps = [_toy(seed=s)[1] for s in range(1, 7)]
    straight = ReptileOuter(theta, 0.1, anneal_iterations=10, optimizer=optimizer, momentum=0.9)
    for a in steps:
        straight.step(a)
    first = ReptileOuter(theta, 0.1, anneal_iterations=10, optimizer=optimizer, momentum=0.9)
    for a in steps[:3]:
        first.step(a)
    resumed = ReptileOuter(theta, 0.1, anneal_iterations=10, optimizer=optimizer, momentum=0.9)
    resumed.load_state_dict(first.state_dict())
    for a in steps[3:]:
        resumed.step(a)
    for k in theta:
        assert torch.equal(resumed.theta[k], straight.theta[k])


def test_parameter_groups_of_the_actor_critic():
    policy = ActorCritic(2, 2, False, hidden=(8, 8))
    theta = policy.init()
    groups = {k: group_of(k, len(policy.hidden)) for k in theta}
    assert groups["actor.0.weight"] == "body" and groups["actor.1.bias"] == "body"
    assert groups["actor.2.weight"] == "head" and groups["log_std"] == "log_std"
    assert groups["critic.0.weight"] == "value" and groups["critic.2.bias"] == "value"
    assert names_in_groups(theta, ["log_std"], 2) == ["log_std"]
    with pytest.raises(ValueError, match=re.escape("groups has 'torso'")):
        names_in_groups(theta, ["torso"], 2)


def test_bad_settings_name_the_field():
    theta, _ = _toy()
    with pytest.raises(ValueError, match=re.escape("epsilon=0 must be > 0")):
        ReptileOuter(theta, 0)
    with pytest.raises(ValueError, match=re.escape("optimizer='rmsprop' must be one of")):
        ReptileOuter(theta, 0.1, optimizer="rmsprop")


def test_meta_train_runs_records_and_moves_only_chosen_groups():
    from metarl.agents.ppo import PPO, PPOConfig
    from metarl.envs import Navigation2D
    from metarl.meta.trainer import MetaConfig, meta_train
    from metarl.rl.learner import PPOLearner

    family = Navigation2D()
    policy = ActorCritic.for_spaces(family.observation_space, family.action_space, hidden=(8,))
    ppo = PPO(family, policy, PPOConfig(num_envs=2, num_steps=100, num_epochs=1,
                                        num_minibatches=1, learning_rate=1e-2))
    theta = policy.init(torch.Generator().manual_seed(0))
    config = MetaConfig(meta_iterations=3, meta_batch=2, inner_iterations=1, epsilon=0.5,
                        groups=("body", "head"), val_tasks=2, val_every=2)
    seen = []
    result = meta_train(PPOLearner(ppo), theta, config, seed=0, on_step=seen.append)
    assert [r.iteration for r in result.history] == [1, 2, 3] and seen == result.history
    assert [r.env_steps for r in result.history] == [400, 800, 1200]
    assert [r.step_size for r in result.history] == pytest.approx([0.5, 1 / 3, 1 / 6])
    val = [r.val_return for r in result.history]
    assert val[0] != val[0] and val[1] == val[1] and val[2] == val[2]  # NaN, then measured
    assert not torch.equal(result.theta["actor.0.weight"], theta["actor.0.weight"])
    assert not torch.equal(result.theta["actor.1.weight"], theta["actor.1.weight"])
    assert torch.equal(result.theta["critic.0.weight"], theta["critic.0.weight"])
    assert torch.equal(result.theta["log_std"], theta["log_std"])
    again = meta_train(PPOLearner(ppo), theta, config, seed=0)
    for k in theta:
        assert torch.equal(again.theta[k], result.theta[k])  # same seed, same theta
