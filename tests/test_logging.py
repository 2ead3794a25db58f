"""What a run records about itself: run.toml per invocation, TensorBoard against samples."""

import csv
import re
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

import torch
from tiny import tiny

import metarl
import metarl.runs.metrics
from metarl.cli import main
from metarl.config import dump_config
from metarl.problems import config_from_dict

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
    for row in rows:
        steps, iteration = int(row["env_steps"]), int(row["iteration"])
        assert ("reptile/update_norm", float(row["update_norm"]), steps) in calls
        assert ("reptile_by_iteration/update_norm", float(row["update_norm"]),
                iteration) in calls
    assert len({step for tag, _, step in calls if tag == "reptile/env_steps"}) == 2
