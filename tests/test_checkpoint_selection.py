"""Choosing the evaluated checkpoint on the validation tasks: the rule, its config and its run."""

import csv
import math

import pytest
import torch

from metarl.agents.actor_critic import ActorCritic
from metarl.agents.ppo import PPO, PPOConfig
from metarl.cli import main
from metarl.config import dump_config
from metarl.envs import Navigation2D
from metarl.problems import config_from_dict
from metarl.report.files import write_csv
from metarl.rl.config import EvalConfig
from metarl.rl.episode_returns import first_episode_returns
from metarl.rl.learner import adaptation_returns
from metarl.runs.checkpoint import checkpoint_path, save_checkpoint
from metarl.runs.run_dir import RunDir
from metarl.runs.selection import (
    SELECTION_COLUMNS,
    evaluated_iteration,
    score,
    select_checkpoint,
)


def _run_with_checkpoints(tmp_path, values: dict[int, float]) -> RunDir:
    """A run whose reptile checkpoint at each iteration holds a one-number theta."""
    run = RunDir(tmp_path / "run")
    for iteration, value in values.items():
        save_checkpoint({"theta": {"w": torch.tensor([value])}},
                        checkpoint_path(run.checkpoints("reptile"), iteration))
    return run


def _curves(table: dict[float, list[float]]):
    """``returns_of`` that reads each theta's [K + 1, 2 tasks] returns from ``table``."""
    def returns_of(thetas):
        returns = [torch.tensor(table[theta["w"].item()]) for theta in thetas]
        return torch.stack([torch.stack([r, r], dim=1) for r in returns])
    return returns_of


def test_best_val_maximises_the_mean_after_adapting_not_before(tmp_path):
    run = _run_with_checkpoints(tmp_path, {10: 1.0, 20: 2.0, 30: 3.0})
    table = {1.0: [50.0, -9.0, -9.0],     # best before adapting, worst after
             2.0: [-40.0, -6.0, -2.0],    # best mean over k = 1, 2: -4
             3.0: [-40.0, -8.0, -1.0]}    # best at k = 2 alone, mean -4.5
    chosen = select_checkpoint(run, "reptile", "best_val", _curves(table))
    assert chosen.iteration == 20 and chosen.theta["w"].item() == 2.0
    assert chosen.scores == {10: table[1.0], 20: table[2.0], 30: table[3.0]}
    assert "meta-iteration 20 of 30" in chosen.describe()
    assert "-4.00" in chosen.describe() and "last checkpoint -4.50" in chosen.describe()
    assert len(chosen.rows()) == 3 * 3


def test_best_val_ties_go_to_the_earlier_checkpoint_and_nan_never_wins(tmp_path):
    run = _run_with_checkpoints(tmp_path, {5: 1.0, 10: 2.0, 15: 3.0})
    table = {1.0: [0.0, math.nan], 2.0: [0.0, -3.0], 3.0: [0.0, -3.0]}
    assert select_checkpoint(run, "reptile", "best_val", _curves(table)).iteration == 10
    assert score([0.0, math.nan]) == -math.inf
    assert score([-7.0]) == -7.0  # K = 0: the return before adapting


def test_the_evaluated_iteration_is_read_back_from_selection_csv(tmp_path):
    run = _run_with_checkpoints(tmp_path, {10: 1.0, 20: 2.0, 30: 3.0})
    assert evaluated_iteration(run, "reptile") == 30  # no selection.csv: the last
    table = {1.0: [50.0, -9.0, -9.0], 2.0: [-40.0, -6.0, -2.0], 3.0: [-40.0, -8.0, -1.0]}
    chosen = select_checkpoint(run, "reptile", "best_val", _curves(table))
    run.eval.mkdir(parents=True)
    write_csv(run.eval / "selection.csv", SELECTION_COLUMNS, chosen.rows())
    assert evaluated_iteration(run, "reptile") == chosen.iteration == 20


def test_last_rule_and_missing_checkpoints(tmp_path):
    run = _run_with_checkpoints(tmp_path, {2: 1.0, 4: 2.0, 3: 5.0})
    last = select_checkpoint(run, "reptile", "last")
    assert last.iteration == 4 and last.theta["w"].item() == 2.0 and not last.scores
    with pytest.raises(ValueError, match=r"method 'fomaml' has no checkpoint.*train it with"):
        select_checkpoint(run, "fomaml", "last")
    run.config.write_text(dump_config(config_from_dict({"eval": {"methods": ["fomaml"]}})))
    with pytest.raises(ValueError, match=r"'fomaml' has no checkpoint.*training stopped before"):
        select_checkpoint(run, "fomaml", "last")  # listed, but stopped before its first
    with pytest.raises(ValueError, match="checkpoint rule 'best'"):
        select_checkpoint(run, "reptile", "best")


def test_config_rejects_unknown_rule_and_choosing_on_the_reported_tasks():
    with pytest.raises(ValueError, match=r"^eval.checkpoint='best' must be one of last, "
                                         r"best_val$"):
        EvalConfig(checkpoint="best")
    with pytest.raises(ValueError, match=r"eval\.split='val' would report the tasks it chose on"):
        EvalConfig(checkpoint="best_val", split="val")


def test_run_evaluates_the_checkpoint_chosen_on_validation_tasks(tmp_path, capsys):
    config = config_from_dict({
        "run": {"checkpoint_every": 1},
        "policy": {"hidden": [8], "init_log_std": -1.0},
        "ppo": {"num_envs": 3, "num_steps": 100, "num_epochs": 2, "num_minibatches": 2,
                "learning_rate": 3e-3},
        "meta": {"meta_iterations": 3, "meta_batch": 2, "inner_iterations": 1, "val_tasks": 2,
                 "val_every": 3},
        "eval": {"methods": ["reptile", "scratch"], "test_tasks": 3, "updates": 2,
                 "episodes": 3, "seeds": [4, 5], "oracle_iterations": 0,
                 "checkpoint": "best_val"},
    })
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(dump_config(config))
    out = tmp_path / "run"
    assert main(["train", str(cfg), "--out", str(out)]) == 0
    assert "checkpoints evaluated:\n- reptile: meta-iteration" in capsys.readouterr().out
    with (out / "eval" / "selection.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {(r["method"], r["iteration"], r["k"]) for r in rows} == {
        ("reptile", str(i), str(k)) for i in (1, 2, 3) for k in range(3)}

    # the scores are the adaptation returns of each checkpoint on the first validation tasks
    from metarl.agents.ppo import PPO
    from metarl.rl.components import build_components
    from metarl.runs.checkpoint import load_checkpoint

    family, policy, ppo = build_components(config)
    ppo = PPO(family, policy, ppo.config.replace(num_envs=3))
    val = family.tasks.sample(3, split="val")
    scores = {}
    for i in (1, 2, 3):
        theta = load_checkpoint(checkpoint_path(RunDir(out).checkpoints("reptile"), i))["theta"]
        scores[i] = adaptation_returns(ppo, theta, val, 2, seed=4).mean(dim=1).tolist()
        for k in range(3):
            saved = next(float(r["return"]) for r in rows if (r["iteration"], r["k"])
                         == (str(i), str(k)))
            assert saved == pytest.approx(scores[i][k], abs=1e-4)
    best = max(scores, key=lambda i: (score(scores[i]), -i))
    summary = (out / "eval" / "summary.md").read_text()
    assert f"reptile: meta-iteration {best} of 3" in summary

    # the test curves are that checkpoint's; --checkpoint last evaluates the last and drops the
    # scores
    theta = load_checkpoint(checkpoint_path(RunDir(out).checkpoints("reptile"), best))["theta"]
    test = family.tasks.sample(3, split="test")
    expected = adaptation_returns(ppo, theta, test, 2, seed=5)
    with (out / "eval" / "curves.csv").open() as f:
        curves = [r for r in csv.DictReader(f) if r["method"] == "reptile" and r["seed"] == "5"]
    got = torch.tensor([[float(r["return"]) for r in curves if r["k"] == str(k)]
                        for k in range(3)])
    assert torch.allclose(got, expected, atol=1e-4)
    assert main(["evaluate", str(out), "--checkpoint", "last", "--force", "--quiet"]) == 0
    assert not (out / "eval" / "selection.csv").exists()
    assert "reptile: last checkpoint (meta-iteration 3)" in (
        out / "eval" / "summary.md").read_text()


def test_the_return_at_k_is_the_return_of_the_policy_after_k_updates():
    """Hand-built: a nearly deterministic Navigation2D policy (std 1e-7) adapted for two updates.
    Row k of the adaptation curve, the number the evaluation and the selection score, equals the
    return that the greedy policy with the parameters after exactly k updates gets on each goal,
    measured apart by running its means through the environment (rl.episode_returns)."""
    family = Navigation2D()
    policy = ActorCritic.for_spaces(family.observation_space, family.action_space, hidden=(16,),
                                    init_log_std=-16.0)
    cfg = PPOConfig(num_envs=4, num_steps=100, learning_rate=0.05, num_epochs=2,
                    num_minibatches=1, log_std_learning_rate=1e-12)
    ppo = PPO(family, policy, cfg)
    theta = policy.init(torch.Generator().manual_seed(0))
    tasks = family.tasks.sample(3, split="val")
    curve = adaptation_returns(ppo, theta, tasks, 2, seed=4)  # [3, T]: k = 0, 1, 2
    for k in range(3):
        params = theta if k == 0 else ppo.adapt(
            theta, tasks, k, torch.Generator().manual_seed(4)).params
        stacked = params if k else {n: v.expand(3, *v.shape) for n, v in theta.items()}
        greedy = first_episode_returns(family, tasks, 1,
                                       lambda obs, p=stacked: policy.actor(p, obs))
        torch.testing.assert_close(curve[k], greedy[:, 0], atol=2e-3, rtol=0)
    assert not torch.allclose(curve[0], curve[2], atol=0.1)  # the updates changed the policy
