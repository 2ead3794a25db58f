"""The inner-learner interface: what the outer loop needs from a learner, RL or supervised.

:class:`metarl.meta.trainer.MetaTrainer` (Reptile and first-order MAML) knows nothing about
environments or losses. It samples a meta-batch of tasks, has the inner learner adapt the shared
initialisation to all of them at once, turns the adapted parameters (Reptile) or the gradients
at them (first-order MAML) into an outer step, and asks the learner for a validation score and a
record of the step. The evaluation and checkpoint selection ask every learner for one thing, its
adaptation curve ``[K + 1, T]`` (:meth:`InnerLearner.evaluation_curve`), or several at once
(:meth:`InnerLearner.evaluation_curves`). Learners:

* :class:`metarl.rl.learner.PPOLearner`: batched PPO on an environment family;
* :class:`metarl.rl.sb3.learner.SB3Learner`: stable-baselines3 PPO, task by task (Reptile only);
* :class:`metarl.supervised.learner.RegressionLearner`: SGD or Adam on few-shot regression.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable

import torch

from metarl.agents.param_tree import Params, flatten


class Adaptation(NamedTuple):
    """Parameters adapted to a meta-batch, and what it took.

    :param params: adapted parameters ``{name: [T, ...]}``.
    :param samples: samples consumed by all tasks together (env steps, labelled points).
    :param details: the learner's own result (returns, losses, statistics) for its record.
    """

    params: Params
    samples: int
    details: Any


class QueryGradients(NamedTuple):
    """First-order MAML's per-task gradients at the adapted parameters, on fresh task data.

    :param grads: ``{name: [T, ...]}``, gradients of the loss to minimise.
    :param samples: samples consumed by all tasks together.
    :param details: the learner's own result, for its record.
    """

    grads: Params
    samples: int
    details: Any


class Record(Protocol):
    """One outer step's record: a ``NamedTuple`` of plain numbers (a row of ``metrics.csv``)."""

    iteration: int
    _fields: tuple[str, ...]
    unit: str  # what the sample count counts (``steps``, ``points``); a class attribute

    def _asdict(self) -> dict[str, Any]:
        """The record as ``{column: value}``."""

    def progress(self) -> tuple[int, float, float]:
        """Samples so far, the training score and the validation score, for the progress bar."""

    @classmethod
    def start(cls, val: float) -> Record:
        """The record of iteration 0, before any training: no samples, no training numbers
        (NaN), and the initialisation's validation score ``val``."""


@runtime_checkable
class InnerLearner(Protocol):
    """What :class:`metarl.meta.trainer.MetaTrainer` drives for Reptile (see the module
    docstring)."""

    #: the ``NamedTuple`` type of :meth:`record`'s rows (its fields are the metrics columns)
    record_type: type[Record]

    def sample_tasks(self, n: int, generator: torch.Generator | None = None,
                     split: str = "train", device: torch.device | str = "cpu") -> Any:
        """``n`` tasks of ``split`` (``train`` draws use ``generator``)."""

    def meta_names(self, theta: Params, groups: tuple[str, ...]) -> list[str]:
        """The names of ``theta``'s parameters in the meta-learned ``groups``."""

    def adapt(self, theta: Params, tasks: Any, steps: int,
              generator: torch.Generator) -> Adaptation:
        """Adapt ``theta`` to every task with ``steps`` inner updates, all tasks at once."""

    def evaluation_curve(self, theta: Params, tasks: Any, steps: int, seed: int
                         ) -> torch.Tensor:
        """``[steps + 1, T]`` (on the CPU): each task's score after k = 0..steps inner updates
        from ``theta`` (mean episode return, mean squared error); uses its own generator seeded
        by ``seed`` and changes no training state."""

    def evaluation_curves(self, starts: Sequence[tuple[Params, int]], tasks: Any, steps: int,
                          max_tasks: int = 0) -> torch.Tensor:
        """``[len(starts), steps + 1, T]``: :meth:`evaluation_curve` of every ``(theta, seed)``
        start on the same tasks, each equal (up to float rounding) to its curve computed alone;
        a batched learner adapts them together, at most ``max_tasks`` tasks at once (0: no
        limit; :func:`curves_one_by_one` is the plain loop)."""

    def validate(self, theta: Params, tasks: Any, steps: int, seed: int) -> torch.Tensor:
        """``[steps + 1, T]`` (on the CPU): each validation task's score after k = 0..steps
        updates by the rule meta-training adapts with (higher or lower is better, as the record
        says); the record's validation score is the mean over ``tasks`` of its last row. All
        tasks adapt at once, with a generator seeded ``seed``."""

    def summary(self, adapted: Adaptation, query: QueryGradients | None
                ) -> dict[str, torch.Tensor]:
        """The per-task numbers :meth:`record` needs, each with the task dimension last
        (``query`` is ``None`` for Reptile). When a meta-batch is split over processes, these
        are what the processes exchange, so that every record covers the whole meta-batch."""

    def record(self, iteration: int, samples: int, step_size: float,
               summary: dict[str, torch.Tensor], val: float, theta: Params,
               before: Params) -> Record:
        """The record of one outer step from the meta-batch's :meth:`summary`."""


@runtime_checkable
class QueryLearner(InnerLearner, Protocol):
    """An inner learner that first-order MAML can drive: it also measures the gradient at the
    adapted parameters on fresh data of each task."""

    def query_gradients(self, adapted: Adaptation, tasks: Any,
                        generator: torch.Generator) -> QueryGradients:
        """Per-task gradients at the adapted parameters on fresh data of each task."""


class MetaObjective(Protocol):
    """MAML's post-adaptation objective on one meta-batch, its data already collected.

    It is two functions, so that an outer optimizer can evaluate and differentiate it at any
    theta (TRPO's line search, Adam): :meth:`adapted` replays the inner steps from a theta on the
    stored inner data, and :meth:`query_losses` scores adapted parameters on the stored query
    data. :meth:`adapted` composes with ``torch.func`` transforms (``vjp``, ``jvp``), so that
    the outer step can differentiate through the inner steps.
    """

    #: samples its data took, all tasks together
    samples: int

    def adapted(self, theta: Params) -> Params:
        """The adapted parameters ``{name: [T, ...]}`` after the inner steps from ``theta``."""

    def query_losses(self, adapted: Params) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-task ``[T]`` surrogate loss of adapted parameters on the query data (to minimise)
        and KL divergence of their policies from the ones that collected it."""

    def summary(self, kl: torch.Tensor) -> dict[str, torch.Tensor]:
        """The per-task numbers of the learner's record (as :meth:`InnerLearner.summary`), with
        ``kl [T]``, the KL divergence of the outer step."""


@runtime_checkable
class MamlLearner(InnerLearner, Protocol):
    """An inner learner that second-order MAML can drive: it builds the post-adaptation
    objective of a meta-batch, differentiable through its inner steps."""

    def maml_objective(self, theta: Params, tasks: Any, steps: int,
                       generator: torch.Generator) -> MetaObjective:
        """Collect the inner and query data of ``tasks`` with ``steps`` inner steps from
        ``theta`` and return the objective over them."""


def curves_one_by_one(learner: InnerLearner, starts: Sequence[tuple[Params, int]], tasks: Any,
                      steps: int) -> torch.Tensor:
    """:meth:`InnerLearner.evaluation_curves` of a learner that adapts one start at a time."""
    return torch.stack([learner.evaluation_curve(theta, tasks, steps, seed)
                        for theta, seed in starts])


def validation_score(curve: torch.Tensor) -> float:
    """A record's validation score: the mean over tasks (NaN-free ones) of the last row of a
    :meth:`InnerLearner.validate` curve, the score after ``val_updates`` updates."""
    return curve[-1].nanmean().item()


def update_norm(theta: Params, before: Params) -> float:
    """L2 norm of the change from ``before`` to ``theta`` (a record's ``update_norm``)."""
    return (flatten(theta) - flatten(before)).norm().item()
