"""Meta-training runs: exact resume, atomic checkpoints, Ctrl-C, NaN stop, the run directory."""

import csv
import os
import signal
from pathlib import Path

import pytest
import torch

from metarl.agents.ppo import PPO
from metarl.cli import main
from metarl.problems import config_from_dict
from metarl.runs.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from metarl.training import Interrupted, TrainingDiverged, make_trainer, train_run

TINY = {
    "run": {"checkpoint_every": 2},
    "policy": {"hidden": [8], "init_log_std": -1.0},
    "ppo": {"num_envs": 3, "num_steps": 100, "num_epochs": 2, "num_minibatches": 2,
            "learning_rate": 3e-3},
    "meta": {"meta_iterations": 4, "meta_batch": 2, "inner_iterations": 1, "val_tasks": 2,
             "val_every": 2},
    "eval": {"test_tasks": 3, "updates": 2, "episodes": 3, "seeds": [0, 1],
             "oracle_iterations": 2},
}


def _config(**sections):
    data = {k: dict(v) for k, v in TINY.items()}
    for section, values in sections.items():
        data.setdefault(section, {}).update(values)
    return config_from_dict(data)


@pytest.mark.parametrize("method, sections", [
    ("reptile", {"meta": {"outer_optimizer": "adam", "epsilon": 0.1}}),
    ("fomaml", {}),
    ("maml", {"vpg": {"num_envs": 3}}),
    ("maml", {"vpg": {"num_envs": 3}, "maml": {"optimizer": "adam"}}),
    ("pretrain", {}),
])
def test_n_then_resumed_n_equals_2n(tmp_path, method, sections):
    config = _config(eval={"methods": ["reptile", "scratch", method]} if method == "maml"
                     else {}, **sections)
    device = torch.device("cpu")
    straight = make_trainer(method, config, device)
    for _ in range(4):
        straight.step()
    first = make_trainer(method, config, device)
    records = [first.step(), first.step()]
    path = save_checkpoint({"trainer": first.state_dict()}, tmp_path / "c.pt")
    resumed = make_trainer(method, config, device)
    resumed.load_state_dict(load_checkpoint(path)["trainer"])
    records += [resumed.step(), resumed.step()]
    assert resumed.iteration == 4 and records[-1].iteration == 4
    assert all(r.update_norm > 0 for r in records[2:])  # the resumed steps moved theta
    for k, v in straight.theta.items():
        assert torch.equal(resumed.theta[k], v), k


def test_killed_write_leaves_previous_checkpoint_loadable(tmp_path, monkeypatch):
    good = save_checkpoint({"iteration": 2, "x": torch.ones(3)}, tmp_path / "iter_000002.pt")

    def dies_midway(obj, f):
        f.write(b"partial bytes of a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint({"iteration": 4}, tmp_path / "iter_000004.pt")
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["iter_000002.pt"]
    # a process killed outright leaves only its temporary file, which is never picked up
    (tmp_path / ".iter_000006.pt.abc.tmp").write_bytes(b"\x80garbage")
    assert latest_checkpoint(tmp_path) == good
    assert torch.equal(load_checkpoint(good)["x"], torch.ones(3))
    (tmp_path / "iter_000008.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="is not a metarl checkpoint"):
        load_checkpoint(tmp_path / "iter_000008.pt")


def _thetas(run_dir: Path, method: str = "reptile"):
    return load_checkpoint(latest_checkpoint(run_dir / "checkpoints" / method))["theta"]


def _metric_rows(run_dir: Path):
    with (run_dir / "metrics.csv").open() as f:
        return [{k: v for k, v in r.items() if k != "wall_time_s"} for r in csv.DictReader(f)]


def test_ctrl_c_checkpoints_and_resume_matches_uninterrupted(tmp_path, monkeypatch):
    config = _config(eval={"methods": ["reptile", "scratch"]})
    straight = train_run(config, tmp_path / "a", evaluate=False, quiet=True)
    before = signal.getsignal(signal.SIGINT)  # default_int_handler, or SIG_IGN in a background job

    original = PPO.adapt
    calls = {"n": 0}

    def interrupting(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # the training adaptation of meta-iteration 3 (2 had a validation)
            os.kill(os.getpid(), signal.SIGINT)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(PPO, "adapt", interrupting)
    with pytest.raises(Interrupted, match="interrupted after reptile meta-iteration"):
        train_run(config, tmp_path / "b", evaluate=False, quiet=True)
    monkeypatch.undo()
    stopped = load_checkpoint(latest_checkpoint(tmp_path / "b" / "checkpoints" / "reptile"))
    assert 0 < stopped["iteration"] < 4
    assert signal.getsignal(signal.SIGINT) is before  # handler restored
    train_run(config, tmp_path / "b", resume=True, evaluate=False, quiet=True)
    for k, v in _thetas(straight.path).items():
        assert torch.equal(_thetas(tmp_path / "b")[k], v), k
    assert _metric_rows(tmp_path / "b") == _metric_rows(straight.path)


def test_nan_stops_with_message_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    config = _config(eval={"methods": ["reptile"]})
    original = PPO.adapt
    calls = {"n": 0}

    def poisoned(self, init, tasks, iterations, *args, **kwargs):
        out = original(self, init, tasks, iterations, *args, **kwargs)
        if not kwargs.get("evaluate_final"):  # a training adaptation, not a validation
            calls["n"] += 1
            if calls["n"] == 3:
                out.params["actor.0.weight"][1, 0, 0] = float("nan")
        return out

    monkeypatch.setattr(PPO, "adapt", poisoned)
    with pytest.raises(TrainingDiverged, match=r"meta-iteration 3: adaptation: NaN or Inf in "
                       r"the parameters of task\(s\) \[1\].*iter_000002.pt"):
        train_run(config, tmp_path / "run", evaluate=False, quiet=True)
    ckpts = sorted(p.name for p in (tmp_path / "run" / "checkpoints" / "reptile").iterdir())
    assert ckpts == ["iter_000002.pt"]
    theta = _thetas(tmp_path / "run")
    assert all(torch.isfinite(v).all() for v in theta.values())
    # the last good checkpoint resumes to the run that never saw the NaN
    monkeypatch.undo()
    train_run(config, tmp_path / "run", resume=True, evaluate=False, quiet=True)
    straight = train_run(config, tmp_path / "straight", evaluate=False, quiet=True)
    for k, v in _thetas(straight.path).items():
        assert torch.equal(_thetas(tmp_path / "run")[k], v), k
    assert _metric_rows(tmp_path / "run") == _metric_rows(straight.path)


def test_cli_train_evaluate_plot_and_never_overwrite(tmp_path, capsys):
    cfg = tmp_path / "tiny.toml"
    from metarl.config import dump_config

    cfg.write_text(dump_config(_config()))
    out = tmp_path / "run"
    assert main(["train", str(cfg), "--out", str(out), "--set", "meta.meta_iterations=2"]) == 0
    text = capsys.readouterr().out
    assert "| reptile |" in text and "oracle" in text
    for name in ("config.toml", "metrics.csv", "eval/curves.csv", "eval/summary.csv",
                 "eval/oracle.csv", "eval/summary.md", "plots/adaptation.png",
                 "plots/meta_training.png", "checkpoints/reptile/iter_000002.pt",
                 "checkpoints/fomaml/iter_000002.pt", "checkpoints/pretrain/iter_000002.pt"):
        assert (out / name).is_file(), name
    assert (out / "plots" / "adaptation.png").stat().st_size > 20_000
    with (out / "eval" / "curves.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["method", "seed", "task", "k", "return", "env_steps"]
    assert len(rows) == 4 * 2 * 3 * 3  # methods x seeds x tasks x (K + 1)
    assert {r["env_steps"] for r in rows if r["k"] == "2"} == {"600"}
    with (out / "metrics.csv").open() as f:
        metrics = list(csv.DictReader(f))
    # the methods train side by side (run.jobs): each one's rows in order, interleaved
    assert sorted((r["method"], r["iteration"]) for r in metrics) == sorted(
        (m, str(i)) for m in ("reptile", "fomaml", "pretrain") for i in (0, 1, 2))
    for m in ("reptile", "fomaml", "pretrain"):
        assert [r["iteration"] for r in metrics if r["method"] == m] == ["0", "1", "2"]
    saved = (out / "config.toml").read_text()
    assert "meta_iterations = 2" in saved

    # an existing run is never overwritten; a changed config is not silently resumed
    assert main(["train", str(cfg), "--out", str(out)]) == 2
    assert "exists; pass --resume" in capsys.readouterr().err
    assert main(["train", str(cfg), "--out", str(out), "--resume"]) == 2
    assert "meta.meta_iterations is 2" in capsys.readouterr().err
    assert (out / "config.toml").read_text() == saved
    assert main(["train", str(cfg), "--out", str(out), "--resume",
                 "--set", "meta.meta_iterations=2"]) == 0  # finished: nothing to redo

    # evaluate with other settings replaces results only with --force
    assert main(["evaluate", str(out), "--k", "1", "--methods", "reptile", "scratch"]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["evaluate", str(out), "--k", "1", "--methods", "reptile", "scratch",
                 "--oracle-iterations", "0", "--force", "--quiet"]) == 0
    with (out / "eval" / "curves.csv").open() as f:
        assert len(list(csv.DictReader(f))) == 2 * 2 * 3 * 2
    assert not (out / "eval" / "oracle.csv").exists()
    assert main(["evaluate", str(out), "--k", "-1", "--force"]) == 2
    assert "eval.updates=-1 must be >= 0" in capsys.readouterr().err

    # --ppo changes the evaluation's inner learner (recorded in eval.toml), nothing else
    def k1_returns():
        with (out / "eval" / "curves.csv").open() as f:
            return [r["return"] for r in csv.DictReader(f) if r["k"] == "1"]

    before = k1_returns()
    assert main(["evaluate", str(out), "--k", "1", "--methods", "reptile", "scratch",
                 "--oracle-iterations", "0", "--force", "--quiet",
                 "--ppo", "clip_schedule=[1e-3]"]) == 0
    assert "ppo = { clip_schedule = [0.001] }" in (out / "eval" / "eval.toml").read_text()
    assert k1_returns() != before  # a clip that binds: other updates, other returns
    assert (out / "config.toml").read_text() == saved
    assert main(["evaluate", str(out), "--force", "--ppo", "clip_shedule=[1]"]) == 2
    assert "unknown key eval.ppo.clip_shedule" in capsys.readouterr().err
    assert main(["evaluate", str(out), "--force", "--ppo", "clip_schedule"]) == 2
    assert "--ppo 'clip_schedule' must look like key=value" in capsys.readouterr().err
    assert main(["plot", str(out)]) == 0

    # --force replaces a run directory, but never a directory that is not one
    assert main(["train", str(cfg), "--out", str(out), "--force", "--no-eval",
                 "--set", "meta.meta_iterations=1"]) == 0
    assert not (out / "eval").exists()
    mine = tmp_path / "my_notes"
    mine.mkdir()
    (mine / "notes.txt").write_text("important")
    assert main(["train", str(cfg), "--out", str(mine), "--force"]) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert (mine / "notes.txt").read_text() == "important"
    # nor a project folder that happens to hold a config.toml, nor a user's file in a run
    (mine / "config.toml").write_text("[tool.black]\nline-length = 100\n")
    assert main(["train", str(cfg), "--out", str(mine), "--force"]) == 2
    assert "its config.toml is not a metarl config" in capsys.readouterr().err
    (out / "notes.txt").write_text("mine")
    assert main(["train", str(cfg), "--out", str(out), "--force"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("it holds notes.txt, which no run writes (move it out, or pass "
                        "another --out)")
    assert len(err.splitlines()) == 1
    (out / "notes.txt").unlink()
    link = tmp_path / "link"
    link.symlink_to(out, target_is_directory=True)
    assert main(["train", str(cfg), "--out", str(link), "--force"]) == 2
    assert "it is a symbolic link" in capsys.readouterr().err
    assert (out / "config.toml").exists() and (mine / "notes.txt").exists()
    assert main(["train", str(mine)]) == 2  # a config path that is a directory
    assert capsys.readouterr().err.strip().startswith("metarl: error: ")
    assert main(["train", str(cfg), "--out", str(mine / "notes.txt")]) == 2
    assert "is a file, not a directory" in capsys.readouterr().err


def test_bad_config_fails_before_any_work(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[ppo]\nnum_epochs = 0\n")
    assert main(["train", str(cfg), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "metarl: error: ppo.num_epochs=0 must be a positive integer"
    assert not (tmp_path / "run").exists()
    # a device this machine does not have (no GPU, or not 100 of them): refused, on any machine
    assert main(["train", str(cfg), "--set", "ppo.num_epochs=2", "--device", "cuda:99",
                 "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "run.device='cuda:99' but torch sees" in err and "CUDA device" in err
    assert torch.cuda.is_available() or "torch sees no CUDA device" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("family", "setting", "evaluate", "message"), [
    ("CartPoleMass", {"eval": {"ppo": {"bound_coef": 0.1}}}, True,
     "eval.ppo.bound_coef=0.1 needs a Box action space with finite bounds; this family's is "
     "Discrete(2)"),
    ("CartPoleMass", {"pretrain": {"bound_coef": 0.1}, "eval": {"methods": ["pretrain"]}}, False,
     "pretrain.bound_coef=0.1 needs a Box action space"),
    ("Navigation2D", {"ppo": {"num_steps": 50}}, True,
     "ppo.num_steps=50 is shorter than an episode (100 steps)"),
    ("Navigation2D", {"eval": {"ppo": {"num_steps": 99}}}, True,
     "eval.ppo.num_steps=99 is shorter than an episode (100 steps)"),
])
def test_what_evaluation_or_pretraining_cannot_use_fails_before_any_work(
        tmp_path, family, setting, evaluate, message):
    """Checked before the run directory is written, not after hours of meta-training."""
    config = _config(env={"family": family}, **setting)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        train_run(config, tmp_path / "run", evaluate=evaluate, quiet=True)
    assert not (tmp_path / "run").exists()


def test_short_rollouts_are_fine_without_evaluation_and_when_the_evaluation_has_its_own(
        tmp_path, capsys, monkeypatch):
    config = _config(ppo={"num_steps": 50}, meta={"meta_iterations": 1},
                     eval={"ppo": {"num_steps": 100}, "methods": ["reptile"],
                           "oracle_iterations": 0, "updates": 1})
    run = train_run(config, tmp_path / "run", quiet=True)
    assert (run.eval / "summary.csv").exists()
    short = _config(ppo={"num_steps": 50}, meta={"meta_iterations": 1})
    train_run(short, tmp_path / "short", evaluate=False, quiet=True)
    assert main(["evaluate", str(tmp_path / "short"), "--quiet"]) == 2
    assert "ppo.num_steps=50 is shorter than an episode" in capsys.readouterr().err
    # a family without a step limit to check: tasks with no complete episode are not dropped
    import metarl.rl.problem
    monkeypatch.setattr(metarl.rl.problem, "check_evaluation", lambda *args: None)
    assert main(["evaluate", str(tmp_path / "short"), "--quiet", "--methods", "scratch",
                 "--oracle-iterations", "0"]) == 2
    assert "completed no episode in a rollout of 50 steps" in capsys.readouterr().err
    assert not (tmp_path / "short" / "eval" / "summary.csv").exists()


def test_summary_reports_updates_to_the_reward_threshold():
    """CartPoleMass's summary says at which k each method's mean return first reaches 475."""
    from metarl.problems import config_from_dict, problem_of
    from metarl.report.summary import summary_markdown, updates_to_threshold

    def markdown(rows, family):  # the summary as the RL problem's evaluation writes it
        config = config_from_dict({"env": {"family": family},
                                   "eval": {"ppo": {"num_steps": 500}}})
        style = problem_of(config).evaluator(config, config.eval).summary_style()
        return summary_markdown(rows, style.title, digits=style.digits,
                                threshold=style.threshold)

    rows = [{"method": m, "k": k, "mean": v, "ci95": 1.0, "tasks": 40, "seeds": 3}
            for m, values in (("reptile", (100.0, 480.0, 470.0, 499.0)),
                              ("scratch", (20.0, 200.0, 474.9, 476.0)),
                              ("pretrain", (300.0, 400.0, 450.0, 460.0)))
            for k, v in enumerate(values)]
    assert updates_to_threshold(rows, 475.0) == {"reptile": 1, "scratch": 3, "pretrain": None}
    text = markdown(rows, "CartPoleMass")
    assert "mean return >= 475: reptile 1; scratch 3; pretrain not within 3" in text
    assert ">=" not in markdown(rows, "Navigation2D")
