"""metarl compare and the statistics behind it: IQM, stratified bootstrap, P(improvement)."""

import csv

import numpy as np
import pytest
from tiny import tiny

from metarl.cli import main
from metarl.config import dump_config
from metarl.problems import config_from_dict
from metarl.report.aggregate import aggregate, difference, iqm, probability_of_improvement

TINY = tiny(eval={"test_tasks": 3})


def test_iqm_is_the_mean_of_the_middle_half():
    scores = np.array([[1.0, 100.0, 3.0, 4.0], [5.0, 6.0, -50.0, 8.0]])  # 8 scores, 2 cut per end
    assert iqm(scores) == pytest.approx(np.mean([3.0, 4.0, 5.0, 6.0]))
    assert iqm(scores[None], axis=(1, 2))[0] == pytest.approx(4.5)


def test_the_bootstrap_resamples_runs_within_each_task():
    """Tasks are strata: runs that agree within every task leave no spread at all, however far
    apart the tasks are (resampling across tasks would)."""
    same_runs = np.array([[0.0, 100.0], [0.0, 100.0], [0.0, 100.0]])
    assert aggregate(same_runs, "mean") == (50.0, 50.0, 50.0)
    spread = np.array([[0.0, 100.0], [10.0, 110.0], [20.0, 120.0]])
    est = aggregate(spread, "mean", replicates=4000)
    assert est.low < 60.0 < est.high and est.low >= 50.0 and est.high <= 70.0


def test_probability_of_improvement_and_differences_by_hand():
    x = np.array([[1.0, 10.0], [3.0, 12.0]])
    y = np.array([[2.0, 10.0], [2.0, 11.0]])
    # task 0: pairs (1,2),(1,2),(3,2),(3,2) -> 2/4; task 1: (10,10)=tie,(10,11),(12,10),(12,11)
    # -> (0.5 + 0 + 1 + 1) / 4; mean over tasks
    assert probability_of_improvement(x, y).value == pytest.approx((0.5 + 0.625) / 2)
    assert difference(x, y, paired=True).value == pytest.approx(0.25)
    assert difference(x, x, paired=True) == (0.0, 0.0, 0.0)
    assert difference(x, y[:1], paired=False).value == pytest.approx(6.5 - 6.0)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    folder = tmp_path_factory.mktemp("compare")
    cfg = folder / "tiny.toml"
    cfg.write_text(dump_config(config_from_dict(TINY)))
    assert main(["train", str(cfg), "--seeds", "0", "1", "--out", str(folder / "sweep"),
                 "--quiet"]) == 0
    return folder


def test_compare_a_sweep(sweep, capsys):
    out = sweep / "cmp"
    assert main(["compare", str(sweep / "sweep"), "--out", str(out)]) == 0
    text = (out / "compare.md").read_text()
    assert "return: mean and IQM over runs x tasks" in text and "sweep: 2 run(s)" in text
    assert "| reptile | 1 |" in text and "| scratch | 0 |" in text
    assert "P(reptile > other)" in text and "| scratch | 1 |" in text
    with open(out / "compare.csv") as f:
        rows = list(csv.DictReader(f))
    stats = {(r["entry"], r["k"], r["statistic"]) for r in rows}
    assert ("reptile", "1", "iqm") in stats
    assert ("reptile > scratch", "0", "probability_of_improvement") in stats
    assert all(float(r["low"]) <= float(r["value"]) <= float(r["high"]) for r in rows)
    assert (out / "compare.png").exists()


def test_compare_two_sources_labels_them_and_refuses_other_tasks(sweep, capsys, tmp_path):
    single = sweep / "sweep" / "seed_0"
    assert main(["compare", str(sweep / "sweep"), str(single), "--methods", "reptile",
                 "--k", "1", "--out", str(tmp_path / "cmp")]) == 0
    text = (tmp_path / "cmp" / "compare.md").read_text()
    assert "| sweep:reptile | 1 |" in text and "| seed_0:reptile | 1 |" in text
    other = tmp_path / "other.toml"
    other.write_text(dump_config(config_from_dict({**TINY, "env": {"family": "CartPoleMass"},
                                                   "ppo": {**TINY["ppo"], "num_steps": 500}})))
    assert main(["train", str(other), "--out", str(tmp_path / "cartpole"), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["compare", str(sweep / "sweep"), str(tmp_path / "cartpole"),
                 "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "evaluate different tasks: env is" in err
    assert main(["compare", str(sweep / "sweep"), "--methods", "fomaml"]) == 2
    assert "method 'fomaml' is not evaluated in every run of sweep" in capsys.readouterr().err
