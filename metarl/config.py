"""Configuration files: TOML tables loaded into typed, validated dataclasses, and written back.

Every kind of experiment (:mod:`metarl.problems`) describes its config as a frozen dataclass of
section dataclasses (``[run]``, ``[env]``, ``[meta]``, ``[eval]``, ...); every key is optional and
defaults to the dataclass's value. This module holds what they share: the loader that builds a
config class from plain data, the TOML writer, the ``[run]`` section and the checks every kind
uses. ``--set section.key=value`` overrides a key (the value is read as TOML, or
as a bare string).
Optional numbers that can be switched off (``ppo.max_grad_norm``, ``ppo.target_kl``) take the
string ``"none"``. An unknown key, a wrong type or an out-of-range value raises
:class:`ConfigError` with one line naming the key and the value, before any work starts.

:func:`dump_config` writes the fully resolved config back as TOML; loading that file gives the same
config.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import math
import os
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from metarl.agents.batched_mlp import ACTIVATIONS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

METHODS = ("reptile", "scratch", "pretrain", "fomaml")
"""The initialisations every kind of experiment compares."""
TRAINED = ("reptile", "fomaml", "maml", "pretrain")
"""The methods ``metarl train`` trains (Reptile always, the others when ``eval.methods`` lists
them); ``scratch`` is a random initialisation. ``maml`` (second order) is RL's only."""
CHECKPOINT_RULES = ("last", "best_val")  # which checkpoint of a trained method is evaluated


class ConfigError(ValueError):
    """A config key with a bad name, type or value (the message is one line naming it)."""


WANDB_KEYS = ("project", "mode", "entity", "group", "tags")
WANDB_MODES = ("online", "offline", "disabled")


@dataclass(frozen=True)
class RunConfig:
    """Run settings.

    :param seed: seeds the initial theta, task sampling, actions and start states.
    :param device: torch device (``cpu``, ``cuda``, ``cuda:1``).
    :param checkpoint_every: write a checkpoint every this many meta-iterations (and at the end).
    :param memory_limit: the memory (GB) a run may use; 0: what the device has free. A run whose
        estimated need exceeds it stops before any work (:mod:`metarl.memory`).
    :param wandb: log to Weights & Biases too (the ``wandb`` extra): ``{ project = "...",
        mode = "offline" }`` (``mode``: ``online``, ``offline`` or ``disabled``; also
        ``entity``, ``group``, ``tags``); empty: no wandb.
    :param threads: torch's intra-op CPU threads (0: torch's default, one per core). One by
        default: a run's numbers then do not depend on the machine's core count (float sums
        split over threads round differently), and a run does not collapse when another
        process takes a core (two threads that wait on each other at every small op ran 10-20x
        slower); parallelism comes from processes (``jobs``, ``--seeds ... --jobs``,
        ``torchrun``).
    :param jobs: processes that train the run's methods side by side (Reptile, first-order MAML,
        pretraining), each with ``threads`` threads, while the evaluation's oracle trains beside
        the adaptations; 0 (the default): one per core on a CPU run, at most one per method;
        1: everything in this process. The numbers do not depend on it.
    """

    seed: int = 0
    device: str = "cpu"
    checkpoint_every: int = 10
    memory_limit: float = 0.0
    wandb: dict[str, Any] = field(default_factory=dict)
    threads: int = 1
    jobs: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.jobs, bool) or not isinstance(self.jobs, int) or self.jobs < 0:
            raise ValueError(f"run.jobs={self.jobs!r} must be a non-negative integer (0: one "
                             "process per core)")
        if isinstance(self.threads, bool) or not isinstance(self.threads, int) \
                or self.threads < 0:
            raise ValueError(f"run.threads={self.threads!r} must be a non-negative integer "
                             "(0: torch's default, one per core)")
        if self.checkpoint_every <= 0:
            raise ValueError(f"run.checkpoint_every={self.checkpoint_every!r} must be > 0")
        if not self.memory_limit >= 0:
            raise ValueError(f"run.memory_limit={self.memory_limit!r} must be >= 0 (GB; 0: "
                             "what the device has free)")
        if self.wandb:
            unknown = sorted(set(self.wandb) - set(WANDB_KEYS))
            if unknown:
                raise ValueError(f"run.wandb.{unknown[0]} is not a wandb setting; run.wandb "
                                 f"has {', '.join(WANDB_KEYS)}")
            if not isinstance(self.wandb.get("project"), str) or not self.wandb["project"]:
                raise ValueError(f"run.wandb={self.wandb!r} needs a project name "
                                 "(run.wandb.project)")
            if self.wandb.get("mode", "online") not in WANDB_MODES:
                raise ValueError(f"run.wandb.mode={self.wandb['mode']!r} must be one of "
                                 f"{', '.join(WANDB_MODES)}")
        check_seed("run.seed", self.seed)

    def processes(self, pieces: int) -> int:
        """How many processes run ``pieces`` independent pieces of work side by side: ``jobs``,
        or with ``jobs = 0`` one per ``threads`` cores on a CPU run (one on a GPU, and with
        ``threads = 0``, torch's one thread per core), never more than ``pieces`` nor fewer
        than one."""
        jobs = self.jobs
        if jobs == 0:
            on_cpu = torch.device(self.device).type == "cpu"
            jobs = (os.cpu_count() or 1) // self.threads if on_cpu and self.threads else 1
        return max(1, min(jobs, pieces))


def check_network(section: str, hidden: tuple[int, ...], activation: str) -> None:
    """One-line errors for an MLP section's ``hidden`` sizes and ``activation``."""
    if not hidden or any(h <= 0 for h in hidden):
        raise ValueError(f"{section}.hidden={list(hidden)!r} must be a non-empty list of "
                         "positive sizes")
    if activation not in ACTIVATIONS:
        raise ValueError(f"{section}.activation={activation!r} must be one of "
                         f"{', '.join(ACTIVATIONS)}")


def check_methods(methods: tuple[str, ...], known: tuple[str, ...], split: str,
                     seeds: tuple[int, ...]) -> None:
    """One-line errors for the ``eval`` keys every kind of experiment has."""
    bad = [m for m in methods if m not in known]
    if bad or not methods or len(set(methods)) != len(methods):
        raise ValueError(f"eval.methods={list(methods)!r} must be distinct names "
                         f"among {', '.join(known)}")
    if split not in ("test", "val"):
        raise ValueError(f"eval.split={split!r} must be test or val")
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"eval.seeds={list(seeds)!r} must be a non-empty list of "
                         "distinct integers")
    for seed in seeds:
        check_seed("eval.seeds", seed, list(seeds))


MAX_SEED = 2**32 - 1
"""The largest seed: what numpy and stable-baselines3 accept (torch takes more)."""


def check_seed(name: str, seed: int, shown: object = None) -> None:
    """A one-line error unless ``0 <= seed <= MAX_SEED`` (``shown``: the value to name)."""
    if not 0 <= seed <= MAX_SEED:
        what = "must be" if shown is None else "must hold seeds"
        raise ValueError(f"{name}={seed if shown is None else shown!r} {what} from 0 to "
                         "2**32 - 1")


def sections_to_dict(config: Any) -> dict[str, dict[str, Any]]:
    """A config of section dataclasses as a plain nested dict, as written to TOML."""
    return {f.name: _plain(dataclasses.asdict(getattr(config, f.name)))
            for f in dataclasses.fields(config)}


class Sections(typing.Protocol):
    """A config: a dataclass of section dataclasses that can write itself as plain data."""

    run: RunConfig

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain nested dict (tuples as lists, ``None`` as ``"none"``), as written to TOML."""


# ---------------------------------------------------------------------------------- loading
def read_toml(path: Path) -> dict[str, Any]:
    """The parsed contents of a TOML file."""
    return tomllib.loads(Path(path).read_text())


def read_config_data(path: Path, overrides: list[str] | None = None) -> dict[str, Any]:
    """The plain data of a TOML config with ``section.key=value`` overrides applied; a file that
    is missing or not TOML raises a one-line :class:`ConfigError`.
    (:func:`metarl.problems.load_config` builds the config from it.)"""
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory, not a TOML file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"config file {path} cannot be read as UTF-8 text: {err}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {path} is not valid TOML: {err}") from None
    for item in overrides or []:
        apply_override(data, item)
    return data


def parse_assignment(item: str, option: str = "--set") -> tuple[str, Any]:
    """``key=value`` as ``(key, value)``, the value read as TOML, else as a number (``.001``),
    else as a bare string."""
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"{option} {item!r} must look like key=value")
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = text.strip()
        with contextlib.suppress(ValueError):  # a number TOML does not write: .001, 5.
            value = float(value)
    return key.strip(), value


def apply_override(data: dict[str, Any], item: str) -> None:
    """Set ``section.key=value`` in ``data`` (value read as TOML, else as a bare string)."""
    key, value = parse_assignment(item)
    if "." not in key:
        raise ConfigError(f"--set {item!r} must look like section.key=value")
    *path, last = key.split(".")
    node = data
    for part in path:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {item!r}: {part} is not a section")
    node[last] = value


def build_config(cls: type, data: Any, prefix: str = "", base: Any = None) -> Any:
    """``cls`` from the keys in ``data``; missing keys come from ``base`` (an instance of ``cls``
    holding a section's defaults in its parent), else from ``cls``'s own defaults."""
    where = prefix.rstrip(".") or "config"
    if not isinstance(data, dict):
        raise ConfigError(f"{where} = {data!r} must be a table")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f" (did you mean {prefix}{close[0]}?)" if close else ""
            raise ConfigError(f"unknown key {prefix}{key}{hint}; {where} has "
                              f"{', '.join(names)}")
    kwargs = ({f.name: getattr(base, f.name) for f in dataclasses.fields(cls)}
              if base is not None else {})
    for k, v in data.items():
        hint = hints[k]
        if dataclasses.is_dataclass(hint):  # a section: the parent's default fills it in
            field_ = next(f for f in dataclasses.fields(cls) if f.name == k)
            default = (field_.default_factory() if field_.default_factory is not dataclasses.MISSING
                       else None)
            kwargs[k] = build_config(hint, v, f"{prefix}{k}.", default)
        else:
            kwargs[k] = _coerce(hint, v, f"{prefix}{k}")
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (ValueError, TypeError) as err:
        raise ConfigError(str(err)) from None


def _coerce(hint: Any, value: Any, key: str) -> Any:
    """``value`` as type ``hint``, or a one-line :class:`ConfigError` naming ``key``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return build_config(hint, value, f"{key}.")
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if isinstance(value, str) and value.lower() == "none":
            return None
        for choice in inner[:-1]:  # the first type that takes the value (int | str: "auto")
            try:
                return _coerce(choice, value, key)
            except ConfigError:
                pass
        return _coerce(inner[-1], value, key)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key} = {value!r} must be true or false")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{key} = {value!r} must be an integer")
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        raise ConfigError(f"{key} = {value!r} must be a finite number")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key} = {value!r} must be a string")
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key} = {value!r} must be a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, key) for v in value)
        if len(value) != len(args):
            raise ConfigError(f"{key} = {value!r} must be a list of {len(args)} values")
        return tuple(_coerce(a, v, key) for a, v in zip(args, value, strict=True))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key} = {value!r} must be a table")
        if args[1] is Any:  # overrides of another section, checked against it later
            return dict(value)
        return {k: _coerce(args[1], v, f"{key}.{k}") for k, v in value.items()}
    raise TypeError(f"config field {key} has unsupported type {hint}")  # a bug, not user input


# ---------------------------------------------------------------------------------- writing
def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return "none" if value is None else value


def toml_value(value: Any) -> str:
    """One value (bool, number, string, list, table) as TOML text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def dump_config(config: Sections) -> str:
    """The fully resolved config as TOML text (every key, defaults included)."""
    lines = []
    for section, values in config.to_dict().items():
        lines.append(f"[{section}]")
        lines.extend(f"{k} = {toml_value(v)}" for k, v in values.items())
        lines.append("")
    return "\n".join(lines)


MACHINE_SETTINGS = ("run.memory_limit", "run.wandb", "run.jobs", "env.pin_threads")
"""Settings of the machine a run is on and of where it logs, not of the experiment: a run
resumes or is evaluated with other values of them."""


def config_differences(a: Sections, b: Sections) -> list[str]:
    """``section.key`` of every experiment setting that differs between two configs (the
    :data:`MACHINE_SETTINGS` are not compared)."""
    if type(a) is not type(b):
        return ["env.family"]
    da, db = a.to_dict(), b.to_dict()
    return [f"{s}.{k}" for s in da for k in da[s]
            if da[s][k] != db[s][k] and f"{s}.{k}" not in MACHINE_SETTINGS]


def first_difference(a: Sections, b: Sections) -> tuple[str, Any, Any, int] | None:
    """The first setting :func:`config_differences` finds, its value in ``a`` and in ``b``, and
    how many settings differ (``None``: none)."""
    differ = config_differences(a, b)
    if not differ:
        return None
    section, name = differ[0].split(".")
    return differ[0], a.to_dict()[section][name], b.to_dict()[section][name], len(differ)


def resolve_device(name: str, field: str = "run.device") -> torch.device:
    """``torch.device(name)``, or a one-line error naming ``field`` (the config key or option
    that gave ``name``) when it does not exist on this machine."""
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"{field}={name!r} is not a torch device: {err}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{field}={name!r} but torch sees no CUDA device on this machine")
    if device.type == "cuda" and device.index is not None and \
            device.index >= torch.cuda.device_count():
        raise ValueError(f"{field}={name!r} but torch sees {torch.cuda.device_count()} CUDA "
                         "device(s) on this machine")
    return device
