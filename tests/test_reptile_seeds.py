"""Pooling seeds (metarl.seeds, experiments/reptile_seeds.py --pool-only --from): one seed's
methods evaluated apart, pooled."""

import csv
import shutil
from pathlib import Path

import pytest

from metarl.cli import main as metarl
from metarl.config import dump_config
from metarl.problems import config_from_dict
from metarl.seeds import train_seeds

TINY = {
    "policy": {"hidden": [8]},
    "ppo": {"num_envs": 2, "num_steps": 100, "num_epochs": 1, "num_minibatches": 1},
    "meta": {"meta_iterations": 1, "meta_batch": 2, "inner_iterations": 1, "val_tasks": 2,
             "val_every": 1},
    "eval": {"methods": ["reptile"], "test_tasks": 2, "updates": 1, "episodes": 2,
             "seeds": [0], "oracle_iterations": 1},
}


def _pool(config: Path, out: Path, *sources: Path) -> None:
    train_seeds(config, [0], out, pool_only=True, sources=sources, quiet=True)


def _rows(curves: Path) -> list[dict[str, str]]:
    with curves.open() as f:
        return list(csv.DictReader(f))


def _methods(curves: Path) -> list[str]:
    return sorted({row["method"] for row in _rows(curves)})


def test_pool_only_from_several_directories(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(dump_config(config_from_dict(TINY)))
    trained = tmp_path / "a" / "seed_0"
    assert metarl(["train", str(config), "--out", str(trained), "--quiet"]) == 0
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    assert metarl(["evaluate", str(tmp_path / "b" / "seed_0"), "--methods", "scratch",
                   "--force", "--quiet"]) == 0

    out = tmp_path / "pooled"
    _pool(config, out, tmp_path / "a", tmp_path / "b")
    assert _methods(out / "eval" / "curves.csv") == ["reptile", "scratch"]
    pooled = _rows(out / "eval" / "curves.csv")
    sources = [row for d, method in (("a", "reptile"), ("b", "scratch"))
               for row in _rows(tmp_path / d / "seed_0" / "eval" / "curves.csv")
               if row["method"] == method]
    assert sorted(pooled, key=repr) == sorted(sources, key=repr)  # every value, unchanged
    assert 'methods = ["reptile", "scratch"]' in (out / "eval" / "eval.toml").read_text()
    assert "seed 0: reptile: last checkpoint" in (out / "eval" / "summary.md").read_text()
    oracle = (trained / "eval" / "oracle.csv").read_text()  # every source has it: pooled once
    assert (out / "eval" / "oracle.csv").read_text() == oracle

    with pytest.raises(ValueError, match="'reptile' is also in an earlier --from"):
        _pool(config, out, tmp_path / "a", tmp_path / "a")
    saved = tmp_path / "b" / "seed_0" / "config.toml"
    text = saved.read_text()
    saved.write_text(text.replace("epsilon = 1.0", "epsilon = 0.5"))
    with pytest.raises(ValueError, match="--from pools evaluations of the same runs"):
        _pool(config, out, tmp_path / "a", tmp_path / "b")
    saved.write_text(text)
    assert metarl(["evaluate", str(tmp_path / "b" / "seed_0"), "--methods", "scratch",
                   "--k", "2", "--force", "--quiet"]) == 0
    with pytest.raises(ValueError, match="evaluation settings differ"):
        _pool(config, out, tmp_path / "a", tmp_path / "b")
