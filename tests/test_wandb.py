"""run.wandb: every metrics row also goes to Weights & Biases, against env steps (a fake wandb
here, as CI installs no wandb)."""

import math
from pathlib import Path

import pytest
from tiny import tiny

import metarl.runs.metrics
from metarl.cli import main
from metarl.config import dump_config
from metarl.problems import config_from_dict
from metarl.runs.run_dir import RunDir, foreign_entries

TINY = tiny(2, eval={"methods": ["reptile"]})


class FakeRun:
    def __init__(self, calls):
        self.calls = calls

    def define_metric(self, name, step_metric=None):
        self.calls.append(("define_metric", name, step_metric))

    def log(self, values):
        self.calls.append(("log", values))

    def finish(self):
        self.calls.append(("finish",))


class FakeWandb:
    def __init__(self):
        self.calls = []

    def init(self, **kwargs):
        self.calls.append(("init", kwargs))
        (Path(kwargs["dir"]) / "wandb" / "offline-run").mkdir(parents=True)  # as wandb does
        return FakeRun(self.calls)


def _config(tmp_path, wandb):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(dump_config(config_from_dict({**TINY, "run": {"wandb": wandb}})))
    return cfg


def test_rows_go_to_wandb_against_env_steps(tmp_path, monkeypatch):
    fake = FakeWandb()
    monkeypatch.setattr(metarl.runs.metrics, "wandb", fake)
    cfg = _config(tmp_path, {"project": "metarl-tests", "mode": "offline"})
    out = tmp_path / "run"
    assert main(["train", str(cfg), "--out", str(out), "--quiet", "--no-eval"]) == 0
    init = next(c[1] for c in fake.calls if c[0] == "init")
    assert init["project"] == "metarl-tests" and init["mode"] == "offline"
    assert init["name"] == "run/reptile" and init["dir"] == str(out)
    assert ("define_metric", "reptile/*", "env_steps") in fake.calls
    logged = [c[1] for c in fake.calls if c[0] == "log"]
    # iteration 0 (the initialisation's validation), then 2 tasks x 2 envs x 100 steps each
    assert [v["env_steps"] for v in logged] == [0, 400, 800]
    assert all(not (isinstance(x, float) and math.isnan(x)) for v in logged for x in v.values())
    assert fake.calls[-1] == ("finish",)
    assert foreign_entries(RunDir(out)) == []  # wandb's folder is one a run writes


def test_wandb_settings_are_checked_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(metarl.runs.metrics, "wandb", None)
    cfg = _config(tmp_path, {"project": "p"})
    assert main(["train", str(cfg), "--out", str(tmp_path / "run"), "--quiet"]) == 2
    assert "run.wandb is set but the wandb package is not installed" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    with pytest.raises(ValueError, match=r"run\.wandb\.mode='sometimes' must be one of"):
        config_from_dict({"run": {"wandb": {"project": "p", "mode": "sometimes"}}})
    with pytest.raises(ValueError, match="needs a project name"):
        config_from_dict({"run": {"wandb": {"mode": "offline"}}})
    with pytest.raises(ValueError, match=r"run\.wandb\.projet is not a wandb setting"):
        config_from_dict({"run": {"wandb": {"projet": "p"}}})
