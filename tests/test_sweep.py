"""metarl train CONFIG --seeds ...: one run per seed, side by side or not, resumable, pooled."""

import csv

import pytest
from tiny import tiny

from metarl.cli import main
from metarl.config import dump_config
from metarl.problems import config_from_dict

TINY = tiny()


@pytest.fixture
def cfg(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(dump_config(config_from_dict(TINY)))
    return path


def _seeds(curves):
    with curves.open() as f:
        return sorted({int(row["seed"]) for row in csv.DictReader(f)})


def test_a_sweep_trains_one_run_per_seed_and_pools_them(cfg, tmp_path):
    out = tmp_path / "sweep"
    assert main(["train", str(cfg), "--seeds", "0", "1", "--out", str(out), "--quiet"]) == 0
    for seed in (0, 1):
        run = out / f"seed_{seed}"
        assert f"seed = {seed}" in (run / "config.toml").read_text()
        assert _seeds(run / "eval" / "curves.csv") == [seed]  # evaluated with its own seed
    assert _seeds(out / "eval" / "curves.csv") == [0, 1]  # the training seeds, pooled
    assert (out / "plots" / "adaptation.png").exists()


def test_side_by_side_seeds_and_a_resumed_sweep_lose_no_finished_seed(cfg, tmp_path):
    out = tmp_path / "sweep"
    assert main(["train", str(cfg), "--seeds", "3", "--out", str(out), "--quiet"]) == 0
    done = {p: p.read_bytes() for p in (out / "seed_3").rglob("*.pt")}
    # interrupted after seed 3: the same command with --resume finishes the others, two at once
    assert main(["train", str(cfg), "--seeds", "3", "4", "5", "--out", str(out), "--jobs", "2",
                 "--resume", "--quiet"]) == 0
    assert {p: p.read_bytes() for p in (out / "seed_3").rglob("*.pt")} == done
    assert _seeds(out / "eval" / "curves.csv") == [3, 4, 5]
    for seed in (4, 5):
        assert (out / f"seed_{seed}" / "eval" / "summary.csv").exists()
    # a finished sweep resumed again trains nothing and pools the same
    before = (out / "eval" / "curves.csv").read_bytes()
    assert main(["train", str(cfg), "--seeds", "3", "4", "5", "--out", str(out), "--resume",
                 "--quiet"]) == 0
    assert (out / "eval" / "curves.csv").read_bytes() == before


def test_the_default_run_directory_names_the_seed(cfg, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", str(cfg), "--seed", "2", "--quiet", "--no-eval"]) == 0
    assert main(["train", str(cfg), "--seed", "3", "--quiet", "--no-eval"]) == 0  # no clash
    assert sorted(p.name for p in (tmp_path / "runs" / "tiny").iterdir()) == ["seed_2",
                                                                              "seed_3"]


@pytest.mark.parametrize(("args", "message"), [
    (["--seeds", "0", "0"], "--seeds 0 0 must be distinct integers from 0 to 2**32 - 1"),
    (["--seeds", "-1", "2"], "--seeds -1 2 must be distinct integers"),
    (["--seeds", "0", "1", "--jobs", "0"], "--jobs=0 must be a positive integer"),
    (["--jobs", "2"], "--jobs=2 runs seeds side by side: it needs --seeds"),
    (["--seed", "1", "--seeds", "0", "1"], "--seed 1 and --seeds exclude each other"),
    (["--seeds", "0", "1", "--set", "meta.epsilon=-1"], "meta.epsilon=-1.0 must be > 0"),
])
def test_bad_sweeps_fail_in_one_line_before_any_work(cfg, tmp_path, capsys, args, message):
    out = tmp_path / "sweep"
    assert main(["train", str(cfg), "--out", str(out), "--quiet", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not out.exists()
