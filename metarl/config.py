"""Experiment configuration: TOML files loaded into typed, validated dataclasses.

A config has one table per section (``[run]``, ``[env]``, ``[policy]``, ``[ppo]``, ``[meta]``,
``[fomaml]``, ``[pretrain]``, ``[eval]``); every key is optional and defaults to the
dataclass's value. ``--set section.key=value`` overrides a key (the value is read as TOML, or
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
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metarl.agents.batched_mlp import ACTIVATIONS
from metarl.agents.ppo import PPOConfig
from metarl.envs import FAMILIES
from metarl.fomaml import FomamlConfig
from metarl.meta_train import MetaConfig
from metarl.pretrain import PretrainConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

METHODS = ("reptile", "scratch", "pretrain", "fomaml")
GYM_FAMILY = "gym"  # any Gymnasium env, adapted to by the SB3 inner learner
CHECKPOINT_RULES = ("last", "best_val")  # which checkpoint of a trained method is evaluated
RL_ONLY_METHODS = ("sb3",)  # stable-baselines3 PPO from scratch on each task (RL evaluation)


class ConfigError(ValueError):
    """A config key with a bad name, type or value (the message is one line naming it)."""


@dataclass(frozen=True)
class RunConfig:
    """Run settings.

    :param seed: seeds the initial theta, task sampling, actions and start states.
    :param device: torch device (``cpu``, ``cuda``, ``cuda:1``).
    :param checkpoint_every: write a checkpoint every this many meta-iterations (and at the end).
    """

    seed: int = 0
    device: str = "cpu"
    checkpoint_every: int = 10

    def __post_init__(self) -> None:
        if self.checkpoint_every <= 0:
            raise ValueError(f"run.checkpoint_every={self.checkpoint_every!r} must be > 0")
        check_seed("run.seed", self.seed)


@dataclass(frozen=True)
class EnvConfig:
    """The environment family and its task distribution.

    :param family: a registered family (``metarl envs`` lists them), or ``gym`` for any
        Gymnasium env (``gym_id``; :mod:`metarl.envs.gym_tasks`; needs ``ppo.inner = "sb3"``).
    :param max_episode_steps: episode step limit (0: the family's default).
    :param split_seed: seed of the fixed validation and test task splits.
    :param ranges: sampling range overrides, ``{parameter: [low, high]}`` (for ``gym``: the
        task parameters themselves).
    :param gym_id: the Gymnasium id of a ``gym`` family.
    :param task_via: how a ``gym`` family's task reaches the env: ``make`` (keyword arguments of
        ``gym.make``) or ``set_task`` (a method of the unwrapped env).
    """

    family: str = "Navigation2D"
    max_episode_steps: int = 0
    split_seed: int = 0
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    gym_id: str = ""
    task_via: str = "make"

    def __post_init__(self) -> None:
        if self.family not in FAMILIES and self.family != GYM_FAMILY:
            raise ValueError(f"env.family={self.family!r} must be one of {', '.join(FAMILIES)}, "
                             f"{GYM_FAMILY} (with env.gym_id) or Sine")
        if self.family == GYM_FAMILY and not self.gym_id:
            raise ValueError("env.family='gym' needs env.gym_id, a registered Gymnasium id")
        if self.max_episode_steps < 0:
            raise ValueError(f"env.max_episode_steps={self.max_episode_steps!r} must be >= 0 "
                             "(0: the family's default)")
        check_seed("env.split_seed", self.split_seed)


@dataclass(frozen=True)
class PolicyConfig:
    """The actor-critic MLP.

    :param hidden: hidden layer sizes (actor and critic alike).
    :param activation: ``tanh`` or ``relu``.
    :param init_log_std: initial log-std of a Gaussian action head.
    """

    hidden: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    init_log_std: float = 0.0

    def __post_init__(self) -> None:
        check_network("policy", self.hidden, self.activation)


def check_network(section: str, hidden: tuple[int, ...], activation: str) -> None:
    """One-line errors for an MLP section's ``hidden`` sizes and ``activation``."""
    if not hidden or any(h <= 0 for h in hidden):
        raise ValueError(f"{section}.hidden={list(hidden)!r} must be a non-empty list of "
                         "positive sizes")
    if activation not in ACTIVATIONS:
        raise ValueError(f"{section}.activation={activation!r} must be one of "
                         f"{', '.join(ACTIVATIONS)}")


def check_evaluation(methods: tuple[str, ...], known: tuple[str, ...], split: str,
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


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation of fast adaptation on held-out tasks.

    :param methods: initialisations compared (``reptile``, ``scratch``, ``pretrain``,
        ``fomaml``, and ``sb3``: stable-baselines3 PPO from scratch, task by task); the trained
        ones are trained by ``metarl train``.
    :param test_tasks: number of held-out tasks evaluated.
    :param split: ``test`` (held-out tasks, for results) or ``val`` (validation tasks, for
        choosing settings without looking at the test tasks).
    :param updates: inner PPO updates ``K``; returns are recorded after k = 0..K.
    :param episodes: environments per task in every evaluation rollout (with episodes of the
        rollout's length, the episodes per update).
    :param seeds: evaluation seeds (rollouts, and scratch's random initialisation).
    :param oracle_iterations: PPO iterations of the oracle, trained from scratch on each test
        task with the ``[pretrain]`` settings (0: no oracle).
    :param checkpoint: which checkpoint of each trained method is evaluated: ``last``, or
        ``best_val``, the one whose mean return over k = 1..K on ``test_tasks`` validation tasks
        is highest (:mod:`metarl.checkpoint_selection`; with ``split = "test"`` only).
    :param ppo: the evaluation's inner learner where it differs from the ``[ppo]`` section
        meta-training uses: ``{setting: value}`` overrides of ``[ppo]`` (a ``[eval.ppo]`` table),
        used for every method's adaptation on the test tasks and for ``best_val``'s scores;
        ``num_envs`` is ``episodes``. Choose them on the validation tasks.
    """

    methods: tuple[str, ...] = METHODS
    test_tasks: int = 40
    split: str = "test"
    updates: int = 3
    episodes: int = 40
    seeds: tuple[int, ...] = (0, 1, 2)
    oracle_iterations: int = 100
    checkpoint: str = "last"
    ppo: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_evaluation(self.methods, METHODS + RL_ONLY_METHODS, self.split, self.seeds)
        if "num_envs" in self.ppo:
            raise ValueError(f"eval.ppo.num_envs={self.ppo['num_envs']!r}: the evaluation's "
                             "environments per task are eval.episodes")
        if self.checkpoint not in CHECKPOINT_RULES:
            raise ValueError(f"eval.checkpoint={self.checkpoint!r} must be one of "
                             f"{', '.join(CHECKPOINT_RULES)}")
        if self.checkpoint == "best_val" and self.split == "val":
            raise ValueError("eval.checkpoint='best_val' chooses on the validation tasks, so "
                             "eval.split='val' would report the tasks it chose on; use "
                             "eval.checkpoint='last' (--checkpoint last) there")
        for name in ("test_tasks", "episodes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"eval.{name}={getattr(self, name)!r} must be > 0")
        for name in ("updates", "oracle_iterations"):
            if getattr(self, name) < 0:
                raise ValueError(f"eval.{name}={getattr(self, name)!r} must be >= 0")

    def inner(self, ppo: PPOConfig) -> PPOConfig:
        """The evaluation's inner learner: ``ppo`` (the meta-training one) with the ``ppo``
        overrides and ``episodes`` environments per task; a one-line :class:`ConfigError`
        names a bad override."""
        try:
            return _build(PPOConfig, self.ppo, "eval.ppo.", ppo).replace(num_envs=self.episodes)
        except ConfigError as err:
            if "eval.ppo." in str(err):  # _build named the override already
                raise
            raise ConfigError(f"{err} (in the evaluation's inner learner: [ppo] with the "
                              f"eval.ppo overrides {self.ppo!r})") from None


@dataclass(frozen=True)
class ExperimentConfig:
    """A whole experiment: what ``metarl train`` reads and saves as ``config.toml``."""

    run: RunConfig = field(default_factory=RunConfig)
    env: EnvConfig = field(default_factory=EnvConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    meta: MetaConfig = field(default_factory=MetaConfig)
    fomaml: FomamlConfig = field(default_factory=FomamlConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self) -> None:
        inner = self.eval.inner(self.ppo)  # a bad eval.ppo override fails when the config is read
        if "sb3" in self.eval.methods and inner.bound_coef > 0:
            raise ValueError(f"eval.methods has sb3, whose stable-baselines3 PPO has no bound "
                             f"penalty, but the evaluation's bound_coef is {inner.bound_coef!r}: "
                             f"leave sb3 out or set eval.ppo.bound_coef = 0 (for every method)")
        if self.ppo.inner == "sb3" and "fomaml" in self.eval.methods:
            raise ValueError("eval.methods has fomaml, which needs ppo.inner = \"batched\" "
                             "(the SB3 inner learner supports Reptile)")
        if self.env.family == GYM_FAMILY:
            batched = [m for m in self.eval.methods if m in ("pretrain", "fomaml")]
            if self.ppo.inner != "sb3" or batched or self.eval.oracle_iterations:
                raise ValueError(
                    "env.family='gym' has no batched dynamics: it needs ppo.inner = \"sb3\", "
                    "eval.oracle_iterations = 0 and eval.methods among reptile, scratch, sb3")

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain nested dict (tuples as lists, ``None`` as ``"none"``), as written to TOML."""
        return sections_to_dict(self)


def sections_to_dict(config: Any) -> dict[str, dict[str, Any]]:
    """A config of section dataclasses as a plain nested dict, as written to TOML."""
    return {f.name: _plain(dataclasses.asdict(getattr(config, f.name)))
            for f in dataclasses.fields(config)}


if typing.TYPE_CHECKING:
    from metarl.sine_config import SineExperimentConfig

AnyConfig = typing.Union[ExperimentConfig, "SineExperimentConfig"]


# ---------------------------------------------------------------------------------- loading
def read_toml(path: Path) -> dict[str, Any]:
    """The parsed contents of a TOML file."""
    return tomllib.loads(Path(path).read_text())


def load_config(path: Path, overrides: list[str] | None = None) -> AnyConfig:
    """Read a TOML config and apply ``section.key=value`` overrides; validate everything.

    ``[env] family = "Sine"`` gives a :class:`~metarl.sine_config.SineExperimentConfig`, any
    other family an :class:`ExperimentConfig`.
    """
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
    return config_from_dict(data)


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


def config_from_dict(data: dict[str, Any]) -> AnyConfig:
    """Build and validate an experiment config from nested plain data (see :func:`load_config`)."""
    from metarl.sine_config import SineExperimentConfig, is_sine

    if is_sine(data):
        return _build(SineExperimentConfig, data, "")
    return _build(ExperimentConfig, data, "")


def _build(cls: type, data: Any, prefix: str, base: Any = None) -> Any:
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
            kwargs[k] = _build(hint, v, f"{prefix}{k}.", default)
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
        return _build(hint, value, f"{key}.")
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if isinstance(value, str) and value.lower() == "none":
            return None
        return _coerce(inner[0], value, key)
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


def dump_config(config: AnyConfig) -> str:
    """The fully resolved config as TOML text (every key, defaults included)."""
    lines = []
    for section, values in config.to_dict().items():
        lines.append(f"[{section}]")
        lines.extend(f"{k} = {toml_value(v)}" for k, v in values.items())
        lines.append("")
    return "\n".join(lines)


def config_differences(a: AnyConfig, b: AnyConfig) -> list[str]:
    """``section.key`` of every setting that differs between two configs."""
    if type(a) is not type(b):
        return ["env.family"]
    da, db = a.to_dict(), b.to_dict()
    return [f"{s}.{k}" for s in da for k in da[s] if da[s][k] != db[s][k]]
