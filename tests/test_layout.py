"""The package's shape: imports at module level only, and one place that asks a run's kind.

The layer and cycle contracts themselves are import-linter's (``pyproject.toml``, run by
``experiments/lint_imports.sh`` in CI); these tests keep the two rules that it cannot see.
"""

import ast
from pathlib import Path

import pytest

import metarl
from metarl.problems import PROBLEMS, config_from_dict, problem_of
from metarl.rl.problem import SB3RL, BatchedRL
from metarl.supervised.problem import Regression

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(p for folder in ("metarl", "envs", "agents")
                 for p in (ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_import_inside_a_function(path):
    """A function-level import hides a dependency (and can hide a cycle) from the contracts."""
    tree = ast.parse(path.read_text())
    inside = [f"line {node.lineno}" for fn in ast.walk(tree)
              if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
              for node in ast.walk(fn) if isinstance(node, ast.Import | ast.ImportFrom)]
    assert inside == []


def test_the_registry_decides_each_kind_of_run_once():
    """Every config belongs to exactly one problem, the one its data and settings say."""
    cases = {
        "regression": {"env": {"family": "Sine"}},
        "rl-sb3": {"ppo": {"inner": "sb3"}, "eval": {"methods": ["reptile", "scratch"]},
                   "policy": {"hidden": [8]}},
        "rl": {"env": {"family": "CartPoleMass"}},
    }
    for name, data in cases.items():
        config = config_from_dict(data)
        owners = [p.name for p in PROBLEMS if p.describes(config)]
        assert owners == [name]
        assert problem_of(config).name == name
    assert {type(p) for p in PROBLEMS} == {BatchedRL, SB3RL, Regression}
    assert metarl.problem_of is problem_of
