"""What a run records about itself: run.toml per invocation, TensorBoard against samples, the
validation curve in metrics.csv."""

import csv
import re
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

import pytest
import torch
from tiny import tiny

import metarl
import metarl.runs.metrics
from metarl.cli import main
from metarl.config import dump_config
from metarl.problems import config_from_dict
from metarl.report.files import read_csv
from metarl.report.plots import plot_meta_training
from metarl.report.stats import mean_ci95
from metarl.runs.metrics import prepare_metrics
from metarl.runs.run_dir import RunDir
from metarl.training import make_trainer

TINY = tiny(2, eval={"methods": ["reptile"]})


def _train(tmp_path, *extra):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(dump_config(config_from_dict(TINY)))
    return main(["train", str(cfg), "--out", str(tmp_path / "run"), "--quiet", "--no-eval",
                 *extra])


def test_run_toml_records_every_train_invocation(tmp_path):
    assert _train(tmp_path, "--seed", "3") == 0
    assert _train(tmp_path, "--seed", "3", "--resume") == 0  # finished: trains nothing, recorded
    entries = tomllib.loads((tmp_path / "run" / "run.toml").read_text())["train"]
    assert [e["resumed"] for e in entries] == [False, True]
    assert entries[0]["command"].startswith("metarl train ") and "--seed 3" in entries[0]["command"]
    assert entries[1]["command"].endswith("--resume")
    first = entries[0]
    assert first["torch"] == torch.__version__ and first["metarl"] == metarl.__version__
    assert first["python"] == ".".join(map(str, sys.version_info[:3]))
    assert re.fullmatch(r"[0-9a-f]{40}|unknown", first["git_commit"])
    assert first["git_tree"] in ("clean", "dirty", "unknown")


def test_tensorboard_logs_against_samples_and_meta_iterations(tmp_path, monkeypatch):
    """Every number twice: against env steps (SB3's and CleanRL's x-axis) and against the
    meta-iteration, as the metrics.csv row says."""
    calls = []

    class Writer:  # records what the TensorBoard writer is given
        def __init__(self, logdir):
            self.logdir = logdir

        def add_scalar(self, tag, value, step):
            calls.append((tag, value, step))

        def flush(self):
            pass

        def close(self):
            pass

    monkeypatch.setattr(metarl.runs.metrics, "SummaryWriter", Writer)
    assert _train(tmp_path) == 0
    with open(tmp_path / "run" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [row["iteration"] for row in rows] == ["0", "1", "2"]
    assert not any(tag.endswith("/update_norm") and step == 0 for tag, _, step in calls)
    for row in rows:
        steps, iteration = int(row["env_steps"]), int(row["iteration"])
        if iteration > 0:  # iteration 0 trained nothing: its training columns are empty
            assert ("reptile/update_norm", float(row["update_norm"]), steps) in calls
            assert ("reptile_by_iteration/update_norm", float(row["update_norm"]),
                    iteration) in calls
        for k in (0, 1):  # the validation curve, also against the training seconds
            value = float(row[f"val_k{k}"])
            assert (f"reptile/val_k{k}", value, steps) in calls
            assert (f"reptile_by_wall_time/val_k{k}", value,
                    round(float(row["wall_time_s"]))) in calls
    assert len({step for tag, _, step in calls if tag == "reptile/env_steps"}) == 3


def test_metrics_hold_the_validation_curve_from_the_initialisation_on(tmp_path):
    """metrics.csv: iteration 0 is the initialisation (no samples, empty training columns), and
    every validated row has the mean and 95% CI over the validation tasks after k = 0..K
    updates, equal to the trainer's own curve; val_return is its k = K mean."""
    data = tiny(3, eval={"methods": ["reptile"]},
                meta={"val_updates": 2, "val_every": 2, "val_tasks": 3})
    config = config_from_dict(data)
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(dump_config(config))
    assert main(["train", str(cfg), "--out", str(tmp_path / "run"), "--quiet", "--no-eval"]) == 0
    rows = read_csv(tmp_path / "run" / "metrics.csv")
    assert [r["iteration"] for r in rows] == ["0", "1", "2", "3"]
    assert list(rows[0])[-7:] == ["val_k0", "val_k1", "val_k2", "val_k0_ci95", "val_k1_ci95",
                                  "val_k2_ci95", "wall_time_s"]
    assert rows[0]["env_steps"] == "0" and rows[0]["update_norm"] == "nan"
    assert rows[1]["val_k0"] == "nan"  # not validated at iteration 1 (val_every = 2)
    trainer = make_trainer("reptile", config, torch.device("cpu"))
    curve = trainer.validate()  # the initialisation, as iteration 0 measured it
    assert curve.shape == (3, 3)
    for k in range(3):
        mean, ci = mean_ci95(curve[k].double().tolist())
        assert float(rows[0][f"val_k{k}"]) == pytest.approx(mean, rel=1e-6)
        assert float(rows[0][f"val_k{k}_ci95"]) == pytest.approx(ci, rel=1e-6)
    for row in (rows[0], rows[2], rows[3]):
        assert float(row["val_return"]) == pytest.approx(float(row["val_k2"]), rel=1e-6)
    assert float(rows[0]["val_k0"]) != float(rows[3]["val_k0"])  # theta moved


def test_an_older_metrics_file_gets_the_new_columns_and_keeps_its_rows(tmp_path):
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.metrics.write_text("method,iteration,env_steps,val_return,wall_time_s\n"
                           "reptile,1,400,-50.0,1.0\nreptile,2,800,-40.0,2.0\n"
                           "fomaml,1,400,-60.0,1.5\n")
    prepare_metrics(run, "reptile", ("iteration", "env_steps", "val_return"), 1, resume_from=1)
    rows = read_csv(run.metrics)
    assert list(rows[0]) == ["method", "iteration", "env_steps", "val_return", "val_k0",
                             "val_k1", "val_k0_ci95", "val_k1_ci95", "wall_time_s"]
    assert [(r["method"], r["iteration"], r["val_return"], r["val_k0"]) for r in rows] == [
        ("reptile", "1", "-50.0", ""), ("fomaml", "1", "-60.0", "")]
    prepare_metrics(run, "fomaml", ("iteration", "env_steps", "val_return"), 1, resume_from=0)
    assert [r["method"] for r in read_csv(run.metrics)] == ["reptile"]  # from scratch: all go
    path = plot_meta_training(run.metrics, tmp_path / "old.png", "Navigation2D")
    assert path.stat().st_size > 10_000  # an older file still plots, its val_return alone
