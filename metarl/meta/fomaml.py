"""First-order MAML's outer rule: move theta along minus the mean post-adaptation gradient.

MAML (Finn et al. 2017) differentiates the loss after adaptation, ``L_i(phi_i(theta))``, through
the inner updates. The first-order approximation drops the second derivatives, so the
meta-gradient of task ``i`` is the gradient of its loss at the adapted parameters,
``grad L_i(phi_i)``, measured on fresh data of the task (MAML's query rollout or query points:
the learner's :meth:`~metarl.meta.learner.QueryLearner.query_gradients`). The outer step moves
theta by ``-mean_i grad L_i(phi_i)`` through an outer optimizer (Adam by default).
"""

from __future__ import annotations

from dataclasses import dataclass

from metarl.agents.param_tree import Params
from metarl.meta.reptile import OUTER_OPTIMIZERS


@dataclass(frozen=True)
class FomamlConfig:
    """First-order MAML's outer settings (the inner loop is the inner learner's).

    :param optimizer: outer optimizer, ``"adam"``, ``"sgd"`` or ``"none"`` (plain gradient step).
    :param learning_rate: outer learning rate.
    """

    optimizer: str = "adam"
    learning_rate: float = 1e-3

    def __post_init__(self) -> None:
        if self.optimizer not in OUTER_OPTIMIZERS:
            raise ValueError(f"fomaml.optimizer={self.optimizer!r} must be one of "
                             f"{', '.join(OUTER_OPTIMIZERS)}")
        if not self.learning_rate > 0:
            raise ValueError(f"fomaml.learning_rate={self.learning_rate!r} must be > 0")


def fomaml_direction(grads: Params) -> Params:
    """The outer ascent direction ``-mean_i grad L_i(phi_i)`` from stacked gradients."""
    return {k: -g.mean(dim=0) for k, g in grads.items()}
