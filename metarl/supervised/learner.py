"""Few-shot regression behind the inner-learner interface: the supervised side of metarl.

Each meta-training task brings ``train_points`` fresh labelled points; the
:class:`~metarl.agents.supervised.SupervisedLearner` takes ``inner_iterations`` SGD or Adam steps
on them. First-order MAML's query gradient is the loss gradient at the adapted weights on another
``train_points`` points of the same task. Scores are mean squared errors over a grid of the input
interval (lower is better) after ``K``-shot adaptation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch

from metarl.agents.param_tree import Params
from metarl.agents.regressor import MLPRegressor
from metarl.agents.supervised import SupervisedLearner, SupervisedResult
from metarl.envs.sine import SineParams, SineRegression
from metarl.meta.groups import names_in_groups
from metarl.meta.learner import Adaptation, QueryGradients, curves_one_by_one, update_norm
from metarl.supervised.config import SineExperimentConfig


class RegressionRecord(NamedTuple):
    """One outer step's record of a regression run.

    :param iteration: outer steps done.
    :param points: labelled points used for training so far (validation excluded).
    :param step_size: the outer step size (or learning rate) used by this step.
    :param train_loss_first: mean support-set error of theta itself on the meta-batch.
    :param train_loss_last: mean support-set error after adaptation (first-order MAML: the
        error at the adapted weights on the query points).
    :param val_loss: mean error over the input grid on the validation tasks after
        ``val_updates`` steps from ``shots`` points (NaN when not measured).
    :param update_norm: L2 norm of theta's change in this step.
    """

    iteration: int
    points: int
    step_size: float
    train_loss_first: float
    train_loss_last: float
    val_loss: float
    update_norm: float

    unit = "points"  # what the sample count counts (a class attribute, not a field)

    def progress(self) -> tuple[int, float, float]:
        """Points, the adapted training error and the validation error."""
        return self.points, self.train_loss_last, self.val_loss

    @classmethod
    def start(cls, val: float) -> RegressionRecord:
        """The record of iteration 0: no points yet, and the validation error ``val``."""
        nan = math.nan
        return cls(0, 0, nan, nan, nan, val, nan)


class RegressionLearner:
    """:class:`~metarl.meta.learner.QueryLearner` over few-shot regression tasks.

    :param family: the task family (sampling, support points, query grid).
    :param learner: the supervised inner learner.
    :param train_points: labelled points per meta-training task (and per query set).
    :param shots: support points per validation task.
    :param query_points: grid points of the validation error.
    """

    record_type = RegressionRecord

    def __init__(self, family: SineRegression, learner: SupervisedLearner, train_points: int,
                 shots: int = 5, query_points: int = 100) -> None:
        self.family, self.learner = family, learner
        self.train_points, self.shots, self.query_points = train_points, shots, query_points

    def sample_tasks(self, n: int, generator: torch.Generator | None = None,
                     split: str = "train", device: torch.device | str = "cpu") -> SineParams:
        """``n`` tasks of ``split``."""
        return self.family.tasks.sample(n, generator, split=split,  # type: ignore[arg-type]
                                        device=device)

    def meta_names(self, theta: Params, groups: tuple[str, ...]) -> list[str]:
        """Regressor parameters in ``groups`` (``body``: hidden layers, ``head``: the last)."""
        return names_in_groups(theta, groups, len(self.learner.model.hidden))

    def adapt(self, theta: Params, tasks: SineParams, steps: int,
              generator: torch.Generator) -> Adaptation:
        """``steps`` inner steps on ``train_points`` fresh points of every task."""
        x, y = self.family.sample_points(tasks, self.train_points, generator)
        out = self.learner.adapt(theta, x, y, steps, generator)
        return Adaptation(out.params, tasks.num_tasks * self.train_points, out)

    def query_gradients(self, adapted: Adaptation, tasks: SineParams,
                        generator: torch.Generator) -> QueryGradients:
        """Loss gradients at the adapted weights on ``train_points`` new points per task."""
        x, y = self.family.sample_points(tasks, self.train_points, generator)
        grads, losses = self.learner.gradients(adapted.params, x, y)
        return QueryGradients(grads, tasks.num_tasks * self.train_points, losses)

    def few_shot(self, theta: Params, tasks: SineParams, steps: int, generator: torch.Generator,
                 shots: int | None = None, query_points: int | None = None
                 ) -> SupervisedResult:
        """Adapt to ``shots`` points per task; ``query_losses`` are the errors on a grid of
        ``query_points`` inputs after every step (both default to the learner's settings)."""
        x, y = self.family.sample_points(tasks, shots or self.shots, generator)
        grid = self.family.grid(tasks, query_points or self.query_points)
        return self.learner.adapt(theta, x, y, steps, generator, query=grid)

    def _curve(self, theta: Params, tasks: SineParams, steps: int, seed: int) -> torch.Tensor:
        gen = torch.Generator(device=tasks.device).manual_seed(seed)  # the same points for all
        out = self.few_shot(theta, tasks, steps, gen)
        assert out.query_losses is not None
        return out.query_losses

    def evaluation_curve(self, theta: Params, tasks: SineParams, steps: int, seed: int
                         ) -> torch.Tensor:
        """``[steps + 1, T]`` grid errors after k = 0..steps steps on ``shots`` points per task
        (the points drawn by a generator seeded ``seed``), on the CPU."""
        return self._curve(theta, tasks, steps, seed).cpu()

    def evaluation_curves(self, starts: Sequence[tuple[Params, int]], tasks: SineParams,
                          steps: int, max_tasks: int = 0) -> torch.Tensor:
        """:meth:`evaluation_curve` of every ``(theta, seed)``, one after another."""
        return curves_one_by_one(self, starts, tasks, steps)

    def validate(self, theta: Params, tasks: SineParams, steps: int, seed: int
                 ) -> torch.Tensor:
        """``[steps + 1, T]`` grid errors after k = 0..steps steps on ``shots`` points per task
        (lower is better): :meth:`evaluation_curve`."""
        return self.evaluation_curve(theta, tasks, steps, seed)

    def summary(self, adapted: Adaptation, query: QueryGradients | None
                ) -> dict[str, torch.Tensor]:
        """Per-task support errors before and after adaptation (or at the query points)."""
        result: SupervisedResult = adapted.details
        last = query.details if query is not None else result.losses[-1]
        return {"first": result.losses[0], "last": last}

    def record(self, iteration: int, samples: int, step_size: float,
               summary: dict[str, torch.Tensor], val: float, theta: Params,
               before: Params) -> RegressionRecord:
        """Support errors before and after adaptation, validation error, theta's change."""
        return RegressionRecord(iteration, samples, step_size, summary["first"].mean().item(),
                                summary["last"].mean().item(), val, update_norm(theta, before))


class SineComponents(NamedTuple):
    """The task family, the regressor and the inner learner of a sine-regression config."""

    family: SineRegression
    model: MLPRegressor
    learner: RegressionLearner


def build_sine_components(config: SineExperimentConfig, shots: int | None = None,
                          query_points: int | None = None) -> SineComponents:
    """Instantiate the family, the regressor and the inner learner a sine config describes
    (validation and evaluation from ``shots`` points with the error on ``query_points``
    inputs: by default ``config.eval``'s)."""
    env = config.env
    family = SineRegression(env.split_seed, dict(env.ranges) or None, env.x_range)
    model = MLPRegressor(1, 1, tuple(config.model.hidden), config.model.activation)
    learner = RegressionLearner(family, SupervisedLearner(model, config.inner), env.train_points,
                                shots or config.eval.shots,
                                query_points or config.eval.query_points)
    return SineComponents(family, model, learner)
