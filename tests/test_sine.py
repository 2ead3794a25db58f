"""Sine regression: task sampler, supervised inner learner, Reptile on it, the whole command."""

import math

import pytest
import torch

from metarl.agents.param_tree import task
from metarl.agents.regressor import MLPRegressor
from metarl.agents.supervised import SupervisedConfig, SupervisedLearner
from metarl.cli import main
from metarl.config import ConfigError
from metarl.envs.sine import SineRegression
from metarl.meta.trainer import MetaConfig, MetaTrainer
from metarl.problems import config_from_dict
from metarl.report.files import read_csv
from metarl.runs.checkpoint import load_checkpoint, save_checkpoint
from metarl.supervised.learner import RegressionLearner
from metarl.training import make_trainer

MODEL = MLPRegressor(1, 1, (16, 16), "tanh")


def test_splits_are_fixed_in_range_and_disjoint_from_training_draws():
    family = SineRegression(split_seed=3)
    test = family.tasks.sample(100, split="test")
    assert torch.equal(test.amplitude, SineRegression(split_seed=3).tasks.sample(
        100, split="test").amplitude)
    assert torch.equal(test.amplitude[:40], family.tasks.sample(40, split="test").amplitude)
    assert not torch.equal(test.phase, SineRegression(split_seed=4).tasks.sample(
        100, split="test").phase)
    val = family.tasks.sample(100, split="val")
    assert not torch.isin(test.amplitude, val.amplitude).any()
    train = family.tasks.sample(1000, torch.Generator().manual_seed(0))
    assert train.amplitude.min() >= 0.1 and train.amplitude.max() <= 5.0
    assert train.phase.min() >= 0.0 and train.phase.max() <= 2 * math.pi
    assert train.amplitude.std() > 1.0  # spread over the range, not one value
    again = family.tasks.sample(1000, torch.Generator().manual_seed(0))
    assert torch.equal(train.phase, again.phase)


def test_points_follow_the_task_curves():
    family = SineRegression(ranges={"phase": (0.0, math.pi)})
    tasks = family.tasks.sample(4, torch.Generator().manual_seed(1))
    x, y = family.sample_points(tasks, 7, torch.Generator().manual_seed(2))
    assert x.shape == y.shape == (4, 7, 1)
    assert x.min() >= -5 and x.max() <= 5
    for i in range(4):
        a, b = tasks.amplitude[i].item(), tasks.phase[i].item()
        assert torch.allclose(y[i, :, 0], a * torch.sin(x[i, :, 0] + b), atol=1e-5)
    gx, gy = family.grid(tasks, 11)
    assert torch.allclose(gx[2, :, 0], torch.linspace(-5, 5, 11))
    assert torch.allclose(gy[3, 0, 0], tasks.amplitude[3] * torch.sin(-5 + tasks.phase[3]))
    with pytest.raises(ValueError, match="unknown task parameter 'amp'"):
        SineRegression(ranges={"amp": (1.0, 2.0)})


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_adapting_tasks_together_equals_adapting_each_alone(optimizer):
    family = SineRegression()
    tasks = family.tasks.sample(5, torch.Generator().manual_seed(0))
    x, y = family.sample_points(tasks, 10, torch.Generator().manual_seed(1))
    theta = MODEL.init(torch.Generator().manual_seed(2))
    learner = SupervisedLearner(MODEL, SupervisedConfig(optimizer, 0.01))
    together = learner.adapt(theta, x, y, 8)
    for i in range(5):
        alone = learner.adapt(theta, x[i:i + 1], y[i:i + 1], 8)
        for name, value in task(together.params, i).items():
            assert torch.allclose(value, alone.params[name][0], atol=1e-5), name
        assert torch.allclose(together.losses[:, i], alone.losses[:, 0], atol=1e-5)
    assert (together.losses[-1] < together.losses[0]).all()


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_steps_match_torch_optim_on_an_nn_module(optimizer):
    theta = MODEL.init(torch.Generator().manual_seed(0))
    net = torch.nn.Sequential(torch.nn.Linear(1, 16), torch.nn.Tanh(), torch.nn.Linear(16, 16),
                              torch.nn.Tanh(), torch.nn.Linear(16, 1))
    with torch.no_grad():
        for i, layer in enumerate(net[::2]):
            layer.weight.copy_(theta[f"layers.{i}.weight"])
            layer.bias.copy_(theta[f"layers.{i}.bias"])
    x = torch.linspace(-5, 5, 6).view(6, 1)
    y = 2 * torch.sin(x + 1)
    opt = (torch.optim.SGD(net.parameters(), lr=0.05) if optimizer == "sgd"
           else torch.optim.Adam(net.parameters(), lr=0.05))
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.mse_loss(net(x), y).backward()
        opt.step()
    learner = SupervisedLearner(MODEL, SupervisedConfig(optimizer, 0.05))
    out = learner.adapt(theta, x[None], y[None], 3)
    for i, layer in enumerate(net[::2]):
        assert torch.allclose(out.params[f"layers.{i}.weight"][0], layer.weight, atol=1e-5)
        assert torch.allclose(out.params[f"layers.{i}.bias"][0], layer.bias, atol=1e-5)


def test_minibatches_cover_the_support_set_once_per_pass():
    # with a learning rate of 0 nothing moves, so each step's gradient is theta's gradient on
    # its minibatch: two minibatches of a pass must add up to the full-batch gradient
    theta = MODEL.init(torch.Generator().manual_seed(0))
    family = SineRegression()
    tasks = family.tasks.sample(3, torch.Generator().manual_seed(0))
    x, y = family.sample_points(tasks, 8, torch.Generator().manual_seed(1))
    learner = SupervisedLearner(MODEL, SupervisedConfig("sgd", 1e-9, batch_size=4))
    seen = []
    original = learner.gradients

    def spy(params, xb, yb):
        seen.append(xb.clone())
        return original(params, xb, yb)

    learner.gradients = spy  # type: ignore[method-assign]
    learner.adapt(theta, x, y, 4, torch.Generator().manual_seed(2))
    assert [s.shape for s in seen] == [(3, 4, 1)] * 4
    for first, second in ((0, 1), (2, 3)):
        both = torch.cat([seen[first], seen[second]], dim=1).sort(dim=1).values
        assert torch.equal(both, x.sort(dim=1).values)  # each point exactly once per pass
    assert not torch.equal(seen[0], seen[2])  # reshuffled between passes


def test_query_losses_are_scored_but_never_trained_on():
    theta = MODEL.init(torch.Generator().manual_seed(0))
    x = torch.linspace(-5, 5, 5).view(1, 5, 1)
    learner = SupervisedLearner(MODEL, SupervisedConfig("sgd", 0.02))
    plain = learner.adapt(theta, x, torch.sin(x), 4)
    scored = learner.adapt(theta, x, torch.sin(x), 4, query=(x + 0.5, torch.cos(x)))
    assert torch.equal(plain.params["layers.0.weight"], scored.params["layers.0.weight"])
    assert plain.query_losses is None and scored.query_losses.shape == (5, 1)
    assert torch.allclose(scored.query_losses[-1],
                          learner.loss(scored.params, x + 0.5, torch.cos(x)))


def test_reptile_learns_an_initialisation_that_adapts_from_five_points():
    family = SineRegression()
    model = MLPRegressor()  # 1-64-64-1 tanh
    learner = RegressionLearner(family, SupervisedLearner(model, SupervisedConfig("sgd", 0.02,
                                                                                  10)), 50)
    theta = model.init(torch.Generator().manual_seed(0))
    config = MetaConfig(meta_iterations=600, meta_batch=10, inner_iterations=5,
                        groups=("body", "head"), val_tasks=100, val_every=600, val_updates=10)
    trainer = MetaTrainer(learner, theta, config, seed=0)
    while not trainer.done:
        record = trainer.step()
    tasks = family.tasks.sample(100, split="test")
    before = learner.validate(theta, tasks, 10, seed=0)[-1].mean().item()
    after = learner.validate(trainer.theta, tasks, 10, seed=0)[-1].mean().item()
    assert after < 0.5 * before, (before, after)
    curve = learner.validate(trainer.theta, trainer.val_tasks, 10, seed=2)
    assert curve.shape == (11, 100)
    assert record.val_loss == pytest.approx(curve[-1].mean().item())
    assert torch.equal(trainer.validation, curve)  # the last step's curve, as metrics.csv has it


TINY = {"run": {"checkpoint_every": 3}, "env": {"family": "Sine", "train_points": 20},
        "model": {"hidden": [8, 8]}, "inner": {"batch_size": 5},
        "meta": {"meta_iterations": 6, "meta_batch": 3, "inner_iterations": 2, "val_tasks": 4,
                 "val_every": 3},
        "eval": {"test_tasks": 4, "updates": 3, "seeds": [0, 1]}}


@pytest.mark.parametrize("method", ["reptile", "fomaml", "pretrain"])
def test_n_then_resumed_n_equals_2n(tmp_path, method):
    config = config_from_dict(TINY)
    device = torch.device("cpu")
    straight = make_trainer(method, config, device)
    for _ in range(4):
        straight.step()
    first = make_trainer(method, config, device)
    first.step()
    first.step()
    path = save_checkpoint({"trainer": first.state_dict()}, tmp_path / "c.pt")
    resumed = make_trainer(method, config, device)
    resumed.load_state_dict(load_checkpoint(path)["trainer"])
    resumed.step()
    assert resumed.step().iteration == 4
    for k, v in straight.theta.items():
        assert torch.equal(resumed.theta[k], v), k


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"meta.groups=\['value'\]: a regressor"):
        config_from_dict({"env": {"family": "Sine"}, "meta": {"groups": ["value"]}})
    with pytest.raises(ConfigError, match=r"inner\.learning_rate=0\.0 must be > 0"):
        config_from_dict({"env": {"family": "Sine"}, "inner": {"learning_rate": 0.0}})
    with pytest.raises(ConfigError, match="unknown key ppo"):
        config_from_dict({"env": {"family": "Sine"}, "ppo": {}})
    # a partial [meta] keeps the sine defaults for the keys it does not set
    config = config_from_dict({"env": {"family": "Sine"}, "meta": {"meta_iterations": 7}})
    assert config.meta.groups == ("body", "head") and config.meta.meta_batch == 10


def test_train_command_writes_results_and_plots(tmp_path):
    path = tmp_path / "sine.toml"
    path.write_text("""
[run]
checkpoint_every = 3
[env]
family = "Sine"
train_points = 20
[model]
hidden = [8, 8]
[meta]
meta_iterations = 6
meta_batch = 3
val_tasks = 4
val_every = 3
[eval]
test_tasks = 4
updates = 3
seeds = [0, 1]
""")
    out = tmp_path / "run"
    assert main(["train", str(path), "--out", str(out)]) == 0
    rows = read_csv(out / "eval" / "summary.csv")
    assert {r["method"] for r in rows} == {"reptile", "scratch", "pretrain", "fomaml"}
    assert {int(r["k"]) for r in rows} == {0, 1, 2, 3}
    assert all(float(r["mean"]) > 0 and int(r["tasks"]) == 4 for r in rows)
    assert "| reptile |" in (out / "eval" / "summary.md").read_text()
    for name in ("adaptation.png", "meta_training.png", "sine_fits.png"):
        assert (out / "plots" / name).stat().st_size > 10_000
    metrics = read_csv(out / "metrics.csv")
    assert len(metrics) == 21 and "val_loss" in metrics[0]  # 3 methods x iterations 0..6
    assert main(["evaluate", str(out), "--k", "2", "--force"]) == 0
    assert {int(r["k"]) for r in read_csv(out / "eval" / "summary.csv")} == {0, 1, 2}
    assert main(["evaluate", str(out), "--episodes", "3"]) == 2  # an RL-only option
