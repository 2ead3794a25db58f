"""The problem interface: everything that differs between kinds of run, behind one class.

A *problem* is a kind of run: batched RL (:class:`metarl.rl.problem.BatchedRL`), RL with
stable-baselines3 as the inner learner (:class:`metarl.rl.problem.SB3RL`), supervised few-shot
regression (:class:`metarl.supervised.problem.Regression`). It provides:

* its config type, and whether a config (raw or built) is one of its own;
* the checks of a config that depend on the kind, run before any work;
* the trainers of ``reptile``, ``fomaml`` and ``pretrain`` (:class:`~metarl.meta.trainer.Trainer`);
* an :class:`Evaluator`: the inner learner whose adaptation curve ``[K + 1, T]`` scores every
  method, the random initialisation of ``scratch``, the baselines without a checkpoint, the
  oracle, and how the summary reads;
* the labels of its plots, and the plots of its own (sine fits);
* the ``metarl evaluate`` options only it takes.

The registry (:mod:`metarl.problems`) is the one place that asks which problem a config is;
training, evaluation, checkpoint selection and plots are one loop each over this interface.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, Protocol

import torch

from metarl.agents.param_tree import Params
from metarl.config import RunConfig
from metarl.memory import MemoryNeed
from metarl.meta.distributed import Distributed
from metarl.meta.learner import InnerLearner
from metarl.meta.trainer import MetaConfig, Trainer


class Config(Protocol):
    """What every problem's config dataclass has (its :attr:`Problem.config_type`)."""

    run: RunConfig
    meta: MetaConfig
    env: Any
    eval: Any

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain nested dict, as written to TOML."""


class EvalOption(NamedTuple):
    """A ``metarl evaluate`` option that only some problems take.

    :param name: the evaluation setting it changes (``--episodes``: ``episodes``).
    :param kwargs: ``argparse`` keyword arguments (``type``, ``help``, ...).
    :param parse: turns the command line's value into the setting's (``None``: as given).
    """

    name: str
    kwargs: dict[str, Any]
    parse: Callable[[Any], Any] | None = None

    @property
    def flag(self) -> str:
        """The command-line flag, ``--oracle-iterations`` for ``oracle_iterations``."""
        return "--" + self.name.replace("_", "-")


class SummaryStyle(NamedTuple):
    """How a problem's ``summary.md`` reads.

    :param title: the line above the table.
    :param ks: the columns k shown.
    :param digits: decimals of means and CIs.
    :param threshold: a score whose first k is reported per method (``None``: none).
    """

    title: str
    ks: tuple[int, ...]
    digits: int = 2
    threshold: float | None = None


class PlotLabels(NamedTuple):
    """The words of a problem's plots.

    :param family: the task family's name in titles.
    :param x: the adaptation plot's x axis.
    :param y: its y axis.
    :param samples: the ``metrics.csv`` column of the samples used (the meta-training plot's
        x axis).
    :param val: the meta-training plot's y axis.
    :param log: scores on a log scale.
    """

    family: str
    x: str
    y: str
    samples: str
    val: str
    log: bool = False


def initial_theta(model: Any, seed: int, device: torch.device) -> Params:
    """The random initialisation every trained method starts from (and scratch's, per seed) of a
    network with an ``init(generator, device)`` method (actor-critic, regressor)."""
    return model.init(torch.Generator().manual_seed(seed), device=device)


class Evaluator(ABC):
    """A problem's evaluation of fast adaptation for one set of evaluation settings.

    :param learner: the inner learner whose ``evaluation_curve``
        (:meth:`~metarl.meta.learner.InnerLearner.evaluation_curve`) scores every
        initialisation, and which samples the tasks.
    :param settings: the evaluation settings (the config's ``[eval]``, or changed ones).
    """

    #: the name of the score in ``curves.csv`` (``return``, ``mse``)
    score: ClassVar[str]

    def __init__(self, learner: InnerLearner, settings: Any) -> None:
        self.learner, self.settings = learner, settings

    @property
    def checkpoint_rule(self) -> str:
        """Which checkpoint of each trained method is evaluated (``last``, ``best_val``)."""
        return "last"

    def max_tasks(self, device: torch.device, limit_gb: float = 0.0) -> int:
        """The most tasks the learner adapts at once when it adapts several initialisations
        together (:meth:`~metarl.meta.learner.InnerLearner.evaluation_curves`) on ``device``
        with ``limit_gb`` of memory (0: what it has free); 0: no limit (the default)."""
        return 0

    @property
    def samples_per_update(self) -> int | None:
        """Samples per task and update (the ``env_steps`` column; ``None``: no such column)."""
        return None

    @abstractmethod
    def initial_theta(self, seed: int, device: torch.device) -> Params:
        """``scratch``'s random initialisation for evaluation seed ``seed``."""

    def baseline_curve(self, method: str, tasks: Any, updates: int, seed: int) -> torch.Tensor:
        """``[updates + 1, T]`` scores of a method that is neither trained nor ``scratch``."""
        raise ValueError(f"method {method!r} is not one this problem evaluates")

    def own_rule(self, method: str) -> str | None:
        """The label of a trained method's own adaptation rule where it differs from the
        evaluation's learner (``maml-vpg``), else ``None`` (the default, for every method)."""
        return None

    def own_rule_curve(self, method: str, theta: Params, tasks: Any, updates: int, seed: int
                       ) -> torch.Tensor:
        """``[updates + 1, T]`` scores of ``theta`` adapted by ``method``'s own rule."""
        raise ValueError(f"method {method!r} has no adaptation rule of its own here")

    def check_curve(self, method: str, seed: int, curve: torch.Tensor) -> None:  # noqa: B027
        """A one-line error when a curve cannot be scored (default: every curve can)."""

    @property
    def has_oracle(self) -> bool:
        """Whether :meth:`oracle` trains anything (default: no)."""
        return False

    def oracle(self, tasks: Any, device: torch.device) -> list[dict[str, float | str | int]]:
        """``oracle.csv`` rows: each task's score after long training from scratch (default:
        no oracle)."""
        return []

    @abstractmethod
    def summary_style(self) -> SummaryStyle:
        """How ``summary.md`` reads."""


class Problem(ABC):
    """One kind of run (see the module docstring)."""

    #: the problem's name (``rl``, ``rl-sb3``, ``regression``)
    name: ClassVar[str]
    #: what a user calls its runs in an error message (``RL``, ``Sine``), and its article
    label: ClassVar[str]
    article: ClassVar[str] = "a"
    #: its config dataclass
    config_type: ClassVar[type]
    #: the ``metarl evaluate`` options only this problem takes
    eval_options: ClassVar[tuple[EvalOption, ...]] = ()

    @abstractmethod
    def reads(self, data: dict[str, Any]) -> bool:
        """Whether raw config data is of :attr:`config_type`."""

    @abstractmethod
    def describes(self, config: Any) -> bool:
        """Whether a built config is a run of this problem."""

    def validate(self, config: Any) -> None:  # noqa: B027
        """``ValueError`` (one line, naming the key) for settings this problem cannot run;
        called when a config is loaded."""

    @abstractmethod
    def check(self, config: Any, evaluate: bool) -> None:
        """Build the problem's objects once, before any work, so that a bad task range or
        Gymnasium id, or settings the pretraining or (with ``evaluate``) the evaluation cannot
        use, stop a command with their one-line error and leave nothing behind."""

    @abstractmethod
    def trainer(self, method: str, config: Any, device: torch.device,
                dist: Distributed | None = None) -> Trainer:
        """A fresh trainer of ``method`` (``reptile``, ``fomaml``, ``pretrain``) from the run's
        initial theta, split over the ranks of ``dist`` for the meta-learners."""

    @abstractmethod
    def memory_needs(self, config: Any, train: bool, settings: Any | None,
                     processes: int = 1) -> list[MemoryNeed]:
        """The estimated peak memory of each phase (:mod:`metarl.memory`): training's with
        ``train``, the evaluation's under ``settings`` (``None``: no evaluation), with a
        meta-batch split over ``processes`` processes."""

    @abstractmethod
    def evaluator(self, config: Any, settings: Any) -> Evaluator:
        """The evaluation of a run under ``settings``; a one-line error for settings it cannot
        use."""

    def eval_settings(self, config: Any, changes: dict[str, Any]) -> Any:
        """The config's evaluation settings with ``changes`` (``None`` values ignored);
        ``ValueError`` for a bad one."""
        known = [f.name for f in dataclasses.fields(config.eval)]
        for name in changes:
            if name not in known:
                raise ValueError(f"{name} is not an evaluation setting of {self.article} "
                                 f"{self.label} run; eval has {', '.join(known)}")
        return dataclasses.replace(config.eval,
                                   **{k: v for k, v in changes.items() if v is not None})

    @abstractmethod
    def plot_labels(self, config: Any) -> PlotLabels:
        """The words of this problem's plots."""

    def extra_plots(self, config: Any, settings: Callable[[], Any],
                    theta_of: Callable[[str], Params], directory: Path) -> list[Path]:
        """Plots of this problem's own in ``directory``, after an evaluation; ``settings()``
        gives that evaluation's settings and ``theta_of(method)`` a trained method's last theta
        (default: none)."""
        return []
