"""Side by side: a run's methods trained in several processes, and the oracle beside the
evaluation, give the numbers and files of one process doing it all."""

import csv

import pytest
import torch

from metarl.config import RunConfig
from metarl.problems import config_from_dict
from metarl.runs.checkpoint import load_checkpoint
from metarl.runs.run_dir import RunDir
from metarl.training import progress_line, train_run
from tests.tiny import tiny

STABLE = ("method", "iteration", "env_steps", "train_return_first", "train_return_last",
          "val_return", "update_norm")  # every column but the wall time


def _config(jobs: int):
    return config_from_dict(tiny(2, run={"jobs": jobs, "checkpoint_every": 1}, eval={
        "methods": ["reptile", "scratch", "pretrain", "fomaml"], "oracle_iterations": 2}))


def _rows(path, columns):
    with path.open() as f:
        return sorted(tuple(r[c] for c in columns) for r in csv.DictReader(f))


def test_methods_side_by_side_equal_one_process(tmp_path, capsys):
    one = train_run(_config(1), tmp_path / "one")
    two = train_run(_config(2), tmp_path / "two")
    assert "side by side: 2 processes of 1 torch thread" in capsys.readouterr().out
    for method in ("reptile", "fomaml", "pretrain"):
        a = load_checkpoint(one.checkpoints(method) / "iter_000002.pt")["theta"]
        b = load_checkpoint(two.checkpoints(method) / "iter_000002.pt")["theta"]
        assert all(torch.equal(a[k], b[k]) for k in a), method
    assert _rows(one.metrics, STABLE) == _rows(two.metrics, STABLE)
    for name in ("curves.csv", "oracle.csv"):
        assert (one.eval / name).read_text() == (two.eval / name).read_text(), name


def test_jobs_resolve_to_the_cores_and_the_work():
    assert RunConfig(jobs=3).processes(2) == 2
    assert RunConfig(jobs=1).processes(5) == 1
    assert RunConfig(jobs=0, threads=0).processes(3) == 1  # torch's threads take every core
    assert RunConfig(jobs=0, device="cuda").processes(3) == 1
    assert 1 <= RunConfig().processes(3) <= 3
    with pytest.raises(ValueError, match=r"run.jobs=-1 must be a non-negative integer"):
        RunConfig(jobs=-1)


def test_the_progress_line_counts_each_method_against_its_own_budget(tmp_path):
    run = RunDir(tmp_path)
    run.path.mkdir(exist_ok=True)
    run.metrics.write_text("method,iteration\nreptile,1\nmaml,1\nmaml,2\nmaml,3\n")
    assert progress_line(run, {"reptile": 1, "maml": 60}, 75.0) == (
        "reptile 1/1, maml 3/60  (01:15)")
