"""metarl: meta-reinforcement learning with batched PPO and Reptile.

``import metarl`` registers the Gymnasium ids of the environment families
(``metarl/Navigation2D-v0``, ``metarl/CartPoleMass-v0``, ``metarl/CartPoleDirection-v0``) and
gives what a notebook needs::

    config = metarl.load_config("experiments/navigation2d_quick.toml",
                                ["meta.meta_iterations=5"])
    run = metarl.train(config, "runs/nav_notebook")      # meta-train, baselines, evaluate, plot
    summary = metarl.evaluate(run, updates=5)             # again, with changed settings
    metarl.plot(run)

These are the ``metarl train / evaluate / plot`` commands without the command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from metarl.config import resolve_device
from metarl.envs import (
    FAMILIES,
    CartPoleDirection,
    CartPoleMass,
    EnvFamily,
    Navigation2D,
    TaskParams,
    make_family,
)
from metarl.envs.sine import SineRegression
from metarl.evaluation import evaluate_run
from metarl.plotting import plot_run
from metarl.problem import Config
from metarl.problems import (
    PROBLEMS,
    config_from_dict,
    eval_options,
    eval_settings,
    load_config,
    problem_of,
)
from metarl.runs.export import load_policy, to_sb3
from metarl.runs.run_dir import RunDir
from metarl.training import train_run

__version__ = "0.1.0"


def _run_dir(run: RunDir | str | Path) -> RunDir:
    return run if isinstance(run, RunDir) else RunDir(Path(run))


def train(config: Config | str | Path, out: str | Path, resume: bool = False,
          force: bool = False, evaluate: bool = True, quiet: bool = False) -> RunDir:
    """``metarl train``: meta-train Reptile, train the baselines ``config.eval.methods`` lists,
    then (with ``evaluate``) evaluate every method on the held-out tasks and draw the plots.

    :param config: a config (:func:`load_config`, or built in code) or a TOML file's path.
    :param out: the run directory (created; an existing one needs ``resume`` or ``force``).
    :param resume: continue the run in ``out`` from its newest checkpoints.
    :param force: replace an existing run directory.
    :param evaluate: evaluate and plot after training.
    :param quiet: no progress bars.
    :returns: the run directory.
    """
    if isinstance(config, str | Path):
        config = load_config(Path(config))
    return train_run(config, Path(out), resume=resume, force=force, evaluate=evaluate,
                     quiet=quiet)


def evaluate(run: RunDir | str | Path, device: str | None = None, quiet: bool = False,
             memory_limit: float | None = None, **changes: Any
             ) -> list[dict[str, float | str | int]]:
    """``metarl evaluate``: evaluate a run's methods on held-out tasks, replacing ``eval/``.

    :param run: a run directory.
    :param device: torch device (default: the run's).
    :param quiet: print no table.
    :param memory_limit: GB the evaluation may use (default: the run's ``run.memory_limit``).
    :param changes: evaluation settings that differ from the run's ``[eval]`` section
        (``methods``, ``updates``, ``seeds``, ``test_tasks``, ``split``; for RL runs
        ``episodes``, ``oracle_iterations``, ``checkpoint``, and ``ppo`` and ``vpg``, whose
        settings go on top of the run's ``[eval.ppo]`` and ``[eval.vpg]`` as ``--ppo`` and
        ``--vpg`` do; for sine runs ``shots``, ...).
    :returns: the summary rows (method, k, mean, ci95, tasks, seeds).
    """
    run = _run_dir(run)
    config = run.load_config()
    own = {o.name for o in eval_options()}
    settings = eval_settings(config, {k: v for k, v in changes.items() if k not in own},
                             {k: v for k, v in changes.items() if k in own}, run.path)
    return evaluate_run(run, settings, device=resolve_device(device, "device") if device else None,
                        force=True, quiet=quiet, memory_limit=memory_limit)


def plot(run: RunDir | str | Path) -> list[Path]:
    """``metarl plot``: draw every plot a run's files allow; returns the paths written."""
    return plot_run(_run_dir(run))


__all__ = [
    "FAMILIES",
    "PROBLEMS",
    "CartPoleDirection",
    "CartPoleMass",
    "Config",
    "EnvFamily",
    "Navigation2D",
    "RunDir",
    "SineRegression",
    "TaskParams",
    "config_from_dict",
    "evaluate",
    "load_config",
    "load_policy",
    "make_family",
    "plot",
    "problem_of",
    "to_sb3",
    "train",
]
