"""The smallest Navigation2D experiment, for the tests that run whole commands (a second each)."""

from __future__ import annotations

from typing import Any

BASE: dict[str, dict[str, Any]] = {
    "policy": {"hidden": [8]},
    "ppo": {"num_envs": 2, "num_steps": 100, "num_epochs": 1, "num_minibatches": 1},
    "meta": {"meta_iterations": 1, "meta_batch": 2, "inner_iterations": 1, "val_tasks": 2,
             "val_every": 1},
    "eval": {"methods": ["reptile", "scratch"], "test_tasks": 2, "updates": 1, "episodes": 2,
             "seeds": [0], "oracle_iterations": 0},
}


def tiny(iterations: int = 1, **sections: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """:data:`BASE` with ``iterations`` meta-iterations and each section's keys changed."""
    data = {name: dict(values) for name, values in BASE.items()}
    data["meta"]["meta_iterations"] = iterations
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return data
