"""The README's Python examples run as written, and give what the README says they give."""

import re
from pathlib import Path

import pytest
import torch

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def _families(ns):  # the three ways to use a family
    assert ns["obs"].shape == (40, 16, 4) and ns["tr"].reward.shape == (40, 16)
    assert ns["single"].unwrapped.task["masspole"] == 0.5 and ns["vec"].num_envs == 3


def _ppo(ns):  # batched PPO: returns after 0..3 updates, one adapted policy per task
    assert ns["result"].returns.shape == (4, 20) and torch.isfinite(ns["result"].returns).all()
    assert all(v.shape[0] == 20 for v in ns["result"].params.values())


def _sb3(ns):  # to stable-baselines3 and back: the same architecture
    assert ns["policy"].hidden == (100, 100) and ns["policy"].activation == "relu"
    assert ns["theta"]["actor.0.weight"].shape == (100, 2)  # read back from the SB3 model
    assert ns["model"].num_timesteps >= 512


def _api(ns):  # the notebook example: a trained, evaluated and plotted run
    assert {(r["method"], r["k"]) for r in ns["rows"]} == {
        (m, k) for m in ("reptile", "scratch") for k in range(3)}
    assert (ns["run"].plots / "adaptation.png").exists()


CHECKS = {"tr": _families, "result": _ppo, "model": _sb3, "rows": _api}


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs(index, monkeypatch):
    monkeypatch.chdir(README.parent)  # the examples run from the project root, as a user would
    ns: dict = {}
    exec(compile(BLOCKS[index], f"README.md python block {index}", "exec"), ns)
    checked = [check for name, check in CHECKS.items() if name in ns]
    assert checked, "a README example whose result no test checks"
    for check in checked:
        check(ns)


def test_readme_has_python_examples():
    assert len(BLOCKS) >= 2


def test_readme_is_a_guide_of_at_most_350_lines():
    assert len(README.read_text().splitlines()) <= 350
