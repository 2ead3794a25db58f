"""The inner-learner interface: what the outer loop needs from a learner, RL or supervised.

:class:`metarl.meta_train.MetaTrainer` (Reptile and first-order MAML) knows nothing about
environments or losses. It samples a meta-batch of tasks, has the inner learner adapt the shared
initialisation to all of them at once, turns the adapted parameters (Reptile) or the gradients
at them (first-order MAML) into an outer step, and asks the learner for a validation score and a
record of the step. Two learners implement it:

* :class:`metarl.ppo_learner.PPOLearner`: batched PPO on an environment family;
* :class:`metarl.regression_learner.RegressionLearner`: SGD or Adam on few-shot regression tasks.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import torch

from metarl.agents.param_tree import Params


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


class InnerLearner(Protocol):
    """What :class:`metarl.meta_train.MetaTrainer` drives (see the module docstring)."""

    #: the ``NamedTuple`` type of :meth:`record`'s rows (its fields are the metrics columns)
    record_type: type

    def sample_tasks(self, n: int, generator: torch.Generator | None = None,
                     split: str = "train", device: torch.device | str = "cpu") -> Any:
        """``n`` tasks of ``split`` (``train`` draws use ``generator``)."""

    def meta_names(self, theta: Params, groups: tuple[str, ...]) -> list[str]:
        """The names of ``theta``'s parameters in the meta-learned ``groups``."""

    def adapt(self, theta: Params, tasks: Any, steps: int,
              generator: torch.Generator) -> Adaptation:
        """Adapt ``theta`` to every task with ``steps`` inner updates, all tasks at once."""

    def query_gradients(self, adapted: Adaptation, tasks: Any,
                        generator: torch.Generator) -> QueryGradients:
        """Per-task gradients at the adapted parameters on fresh data of each task."""

    def validate(self, theta: Params, tasks: Any, steps: int, seed: int) -> float:
        """Validation score (higher or lower is better, as the record says) after ``steps``
        updates; uses its own generator seeded by ``seed`` and changes no training state."""

    def summary(self, adapted: Adaptation, query: QueryGradients | None
                ) -> dict[str, torch.Tensor]:
        """The per-task numbers :meth:`record` needs, each with the task dimension last
        (``query`` is ``None`` for Reptile). When a meta-batch is split over processes, these
        are what the processes exchange, so that every record covers the whole meta-batch."""

    def record(self, iteration: int, samples: int, step_size: float,
               summary: dict[str, torch.Tensor], val: float, theta: Params,
               before: Params) -> Record:
        """The record of one outer step from the meta-batch's :meth:`summary`."""
