"""The one dispatch point: which problem (kind of run) a config describes.

:data:`PROBLEMS` lists every problem (:mod:`metarl.problem`). A config file is read into the
config type of the first problem that reads its data, validated, and then belongs to the problem
that describes it; nothing else in metarl asks what kind of run a config is. A new kind of run is
one :class:`~metarl.problem.Problem` subclass and one entry here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from metarl.config import ConfigError, build_config, read_config_data, resolve_device
from metarl.memory import check_memory
from metarl.problem import Config, EvalOption, Problem
from metarl.rl.problem import SB3RL, BatchedRL
from metarl.supervised.problem import Regression

PROBLEMS: tuple[Problem, ...] = (Regression(), SB3RL(), BatchedRL())
"""Every problem, in the order they are asked (the first that reads a config's data builds it)."""


def problem_of(config: Any) -> Problem:
    """The problem a built config describes."""
    for problem in PROBLEMS:
        if problem.describes(config):
            return problem
    raise TypeError(f"no problem describes a {type(config).__name__}")  # a bug, not user input


def config_from_dict(data: dict[str, Any]) -> Any:
    """Build and validate an experiment config from nested plain data (see :func:`load_config`)."""
    reader = next(p for p in PROBLEMS if p.reads(data))
    config = build_config(reader.config_type, data)
    try:
        problem_of(config).validate(config)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    return config


def check_config(config: Any, evaluate: bool = True, processes: int = 1,
                 device: torch.device | None = None) -> None:
    """Before any work: the problem's checks of a config (:meth:`~metarl.problem.Problem.validate`,
    as at loading, for configs built in code too, then :meth:`~metarl.problem.Problem.check`) and
    whether its memory needs fit on ``device`` (default: the config's; :mod:`metarl.memory`),
    each a one-line :class:`ConfigError`."""
    problem = problem_of(config)
    try:
        problem.validate(config)
        problem.check(config, evaluate)
        needs = problem.memory_needs(config, True, config.eval if evaluate else None, processes)
        check_memory(needs, config.run.memory_limit,
                     device or resolve_device(config.run.device))
    except ConfigError:
        raise
    except ValueError as err:
        raise ConfigError(str(err)) from None


def load_config(path: Path, overrides: list[str] | None = None) -> Config:
    """Read a TOML config and apply ``section.key=value`` overrides; validate everything.

    ``[env] family = "Sine"`` gives a :class:`~metarl.supervised.config.SineExperimentConfig`,
    any other family an :class:`~metarl.rl.config.ExperimentConfig`.
    """
    return config_from_dict(read_config_data(path, overrides))  # type: ignore[no-any-return]


def eval_options() -> list[EvalOption]:
    """Every problem's own ``metarl evaluate`` options, each once."""
    return list({o.name: o for p in PROBLEMS for o in p.eval_options}.values())


def eval_settings(config: Any, changes: dict[str, Any], options: dict[str, Any],
                  where: Path) -> Any:
    """The evaluation settings of a run (``where``) with the common ``changes`` and the
    problem-specific ``options`` of ``metarl evaluate`` (``None``: not given); a one-line
    :class:`ConfigError` for an option of another kind of run or a bad value."""
    problem = problem_of(config)
    own = {o.name for o in problem.eval_options}
    given = {k: v for k, v in options.items() if v is not None}
    for name, value in given.items():
        if name not in own:
            owner = next(p for p in PROBLEMS if name in {o.name for o in p.eval_options})
            flag = "--" + name.replace("_", "-")
            raise ConfigError(f"{flag}={value} applies to {owner.label} runs; {where} is "
                              f"{problem.article} {problem.label} run")
    try:
        return problem.eval_settings(config, {**changes, **given})
    except ConfigError:
        raise
    except ValueError as err:
        raise ConfigError(str(err)) from None
