"""Few-shot adaptation on held-out regression tasks: the regression problem's evaluation.

For each evaluation seed, ``shots`` support points are drawn for every test task (the same points
for every method), each method's initialisation takes ``updates`` steps of the inner optimizer on
them, all tasks at once, and the error is the mean squared error over ``query_points`` evenly
spaced inputs covering the interval, after every step k = 0..updates
(:meth:`~metarl.supervised.learner.RegressionLearner.evaluation_curve`).
"""

from __future__ import annotations

import torch

from metarl.agents.param_tree import Params
from metarl.problem import Evaluator, SummaryStyle, initial_theta
from metarl.supervised.config import SineEvalConfig, SineExperimentConfig
from metarl.supervised.learner import build_sine_components

TABLE_KS = (0, 1, 5, 10)  # the MAML paper's columns, and the last step


class RegressionEvaluator(Evaluator):
    """Mean squared errors after k inner steps (see the module docstring).

    :param config: the run's config.
    :param settings: the evaluation settings.
    """

    score = "mse"

    def __init__(self, config: SineExperimentConfig, settings: SineEvalConfig) -> None:
        _, self.model, learner = build_sine_components(config, settings.shots,
                                                       settings.query_points)
        super().__init__(learner, settings)
        self.config = config

    def initial_theta(self, seed: int, device: torch.device) -> Params:
        """The regressor's random initialisation for seed ``seed``."""
        return initial_theta(self.model, seed, device)

    def summary_style(self) -> SummaryStyle:
        """Errors to three decimals at k = 0, 1, 5, 10 and the last step."""
        settings, inner = self.settings, self.config.inner
        which = "held-out" if settings.split == "test" else "validation"
        title = (f"Sine: mean squared error after k inner steps ({inner.optimizer}, learning "
                 f"rate {inner.learning_rate:g}) from {settings.shots} points, on "
                 f"{settings.test_tasks} {which} tasks (seeds {list(settings.seeds)}; ± 95% CI "
                 "over tasks)")
        ks = tuple(sorted({k for k in (*TABLE_KS, settings.updates) if k <= settings.updates}))
        return SummaryStyle(title, ks, 3)
