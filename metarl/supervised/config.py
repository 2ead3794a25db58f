"""The configuration of a sine-regression experiment (``[env] family = "Sine"``).

Same file format, loader, one-line errors and ``--set`` overrides as the RL configs
(:mod:`metarl.config`), with the sections of a supervised problem:

* ``[run]``: seed, device, checkpoint interval (as for RL);
* ``[env]``: the task distribution (ranges, input interval) and the training tasks' data;
* ``[model]``: the MLP regressor;
* ``[inner]``: the supervised inner learner (SGD or Adam, learning rate, minibatch size);
* ``[meta]``: the outer loop (as for RL; ``inner_iterations`` are optimizer steps);
* ``[fomaml]``, ``[pretrain]``: the baselines' settings;
* ``[eval]``: few-shot evaluation on held-out tasks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from metarl.agents.supervised import SupervisedConfig
from metarl.config import (
    METHODS,
    RunConfig,
    check_methods,
    check_network,
    check_seed,
    sections_to_dict,
)
from metarl.envs.sine import SineRegression
from metarl.meta.fomaml import FomamlConfig
from metarl.meta.trainer import MetaConfig


@dataclass(frozen=True)
class SineEnvConfig:
    """The sine task distribution and the data of a meta-training task.

    :param family: ``"Sine"``.
    :param split_seed: seed of the fixed validation and test task splits.
    :param ranges: sampling range overrides, e.g. ``{ phase = [0, 3.1416] }`` for MAML's.
    :param x_range: the input interval.
    :param train_points: labelled points drawn per meta-training task (the inner learner takes
        minibatches of ``inner.batch_size`` from them).
    """

    family: str = SineRegression.name
    split_seed: int = 0
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    x_range: tuple[float, float] = (-5.0, 5.0)
    train_points: int = 50

    def __post_init__(self) -> None:
        if self.family != SineRegression.name:
            raise ValueError(f"env.family={self.family!r} must be {SineRegression.name} here")
        if not self.x_range[0] < self.x_range[1]:
            raise ValueError(f"env.x_range={list(self.x_range)!r} needs low < high")
        if self.train_points <= 0:
            raise ValueError(f"env.train_points={self.train_points!r} must be > 0")
        check_seed("env.split_seed", self.split_seed)
        SineRegression(self.split_seed, dict(self.ranges) or None)  # validates the ranges


@dataclass(frozen=True)
class ModelConfig:
    """The MLP regressor ``1 -> hidden... -> 1``.

    :param hidden: hidden layer sizes.
    :param activation: ``tanh`` or ``relu``.
    """

    hidden: tuple[int, ...] = (64, 64)
    activation: str = "tanh"

    def __post_init__(self) -> None:
        check_network("model", self.hidden, self.activation)


@dataclass(frozen=True)
class RegressionPretrainConfig:
    """Multi-task pretraining of one regressor on the mixture of training tasks.

    :param learning_rate: its Adam learning rate.
    """

    learning_rate: float = 1e-3

    def __post_init__(self) -> None:
        if not self.learning_rate > 0:
            raise ValueError(f"pretrain.learning_rate={self.learning_rate!r} must be > 0")


@dataclass(frozen=True)
class SineEvalConfig:
    """Few-shot adaptation on held-out sine tasks.

    :param methods: initialisations compared (``reptile``, ``scratch``, ``pretrain``,
        ``fomaml``); the trained ones are trained by ``metarl train``.
    :param test_tasks: number of held-out tasks.
    :param split: ``test`` (held-out tasks, for results) or ``val`` (for tuning).
    :param shots: labelled support points per task (``K``-shot).
    :param updates: inner optimizer steps; the error is recorded after k = 0..updates.
    :param seeds: evaluation seeds (support points, scratch's random initialisation).
    :param query_points: evenly spaced inputs over the interval on which the error is measured.
    """

    methods: tuple[str, ...] = METHODS
    test_tasks: int = 100
    split: str = "test"
    shots: int = 5
    updates: int = 32
    seeds: tuple[int, ...] = (0, 1, 2)
    query_points: int = 100

    def __post_init__(self) -> None:
        check_methods(self.methods, METHODS, self.split, self.seeds)
        for name in ("test_tasks", "shots", "query_points"):
            if getattr(self, name) <= 0:
                raise ValueError(f"eval.{name}={getattr(self, name)!r} must be > 0")
        if self.updates < 0:
            raise ValueError(f"eval.updates={self.updates!r} must be >= 0")


@dataclass(frozen=True)
class SineExperimentConfig:
    """A whole sine-regression experiment: what ``metarl train`` reads and saves."""

    run: RunConfig = field(default_factory=RunConfig)
    env: SineEnvConfig = field(default_factory=SineEnvConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    inner: SupervisedConfig = field(default_factory=lambda: SupervisedConfig(batch_size=10))
    meta: MetaConfig = field(default_factory=lambda: MetaConfig(
        meta_iterations=15000, meta_batch=10, inner_iterations=5, groups=("body", "head"),
        val_tasks=100, val_every=1000, val_updates=10))
    fomaml: FomamlConfig = field(default_factory=FomamlConfig)
    pretrain: RegressionPretrainConfig = field(default_factory=RegressionPretrainConfig)
    eval: SineEvalConfig = field(default_factory=SineEvalConfig)

    def __post_init__(self) -> None:
        unused = [g for g in self.meta.groups if g not in ("body", "head")]
        if unused:
            raise ValueError(f"meta.groups={list(self.meta.groups)!r}: a regressor has only "
                             "the groups body and head")

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain nested dict (tuples as lists, ``None`` as ``"none"``), as written to TOML."""
        return sections_to_dict(self)


def is_sine(data: dict[str, Any]) -> bool:
    """Whether raw config data describes a sine-regression experiment."""
    env = data.get("env")
    return isinstance(env, dict) and env.get("family") == SineRegression.name


