"""The regression problem: Reptile over batched SGD (or Adam) on few-shot regression tasks
(``[env] family = "Sine"``), scored by the mean squared error after k inner steps."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from metarl.agents.param_tree import Params
from metarl.memory import (
    MemoryNeed,
    adaptation_bytes,
    chunk_bytes,
    mlp_parameters,
    tasks_at_once,
)
from metarl.meta.distributed import Distributed
from metarl.meta.trainer import MetaTrainer, Trainer
from metarl.problem import EvalOption, PlotLabels, Problem, initial_theta
from metarl.supervised.config import SineEvalConfig, SineExperimentConfig, is_sine
from metarl.supervised.evaluation import RegressionEvaluator
from metarl.supervised.learner import build_sine_components
from metarl.supervised.plot import plot_sine_fits
from metarl.supervised.pretrain import RegressionPretrainer


class Regression(Problem):
    """Few-shot sine regression (Finn et al. 2017; Nichol et al. 2018)."""

    name = "regression"
    label = "Sine"
    config_type = SineExperimentConfig
    eval_options = (EvalOption("shots", {"type": int,
                                         "help": "support points per task (Sine runs)"}),)

    def reads(self, data: dict[str, Any]) -> bool:
        """``[env] family = "Sine"``."""
        return is_sine(data)

    def describes(self, config: Any) -> bool:
        """A sine config."""
        return isinstance(config, SineExperimentConfig)

    def check(self, config: SineExperimentConfig, evaluate: bool) -> None:
        """The family, regressor and inner learner build."""
        build_sine_components(config)

    def memory_needs(self, config: SineExperimentConfig, train: bool,
                     settings: SineEvalConfig | None, processes: int = 1) -> list[MemoryNeed]:
        """Adaptations of a meta-batch on ``train_points`` points per task, of the validation and
        test tasks on ``shots`` points with the error on ``query_points`` inputs, and
        pretraining's pooled points of a meta-batch."""
        hidden = tuple(config.model.hidden)
        parameters = mlp_parameters([1, *hidden, 1])
        meta, needs = config.meta, []

        def need(tasks: int, points: int) -> float:
            return adaptation_bytes(tasks, points, 2, parameters, points * 4 * sum(hidden))

        if train:
            chunk = meta.chunk(torch.device(config.run.device).type)
            tasks = tasks_at_once(meta.meta_batch, chunk, processes)
            points = config.env.train_points
            needs.append(MemoryNeed(
                "meta-training", need(tasks, points) + chunk_bytes(
                    meta.meta_batch, tasks, processes, 2 * points, parameters),
                f"{tasks} tasks of meta.meta_batch={meta.meta_batch} x {points} points",
                "meta.meta_batch (or set meta.task_chunk), env.train_points or model.hidden"))
            shots = config.eval.shots + config.eval.query_points
            needs.append(MemoryNeed(
                "validation", need(meta.val_tasks, shots),
                f"meta.val_tasks={meta.val_tasks} x {shots} points",
                "meta.val_tasks, eval.shots, eval.query_points or model.hidden"))
            if "pretrain" in config.eval.methods:
                pooled = meta.meta_batch * (config.inner.batch_size or points)
                needs.append(MemoryNeed(
                    "pretraining", need(1, pooled),
                    f"meta.meta_batch={meta.meta_batch} tasks' points pooled",
                    "meta.meta_batch, inner.batch_size or model.hidden"))
        if settings is not None:
            points = settings.shots + settings.query_points
            needs.append(MemoryNeed(
                "evaluation", need(settings.test_tasks, points),
                f"eval.test_tasks={settings.test_tasks} x {points} points",
                "eval.test_tasks (--tasks), eval.shots or eval.query_points"))
        return needs

    def trainer(self, method: str, config: SineExperimentConfig, device: torch.device,
                dist: Distributed | None = None) -> Trainer:
        """Reptile or first-order MAML over the regression learner, or pretraining."""
        _, model, learner = build_sine_components(config)
        start = initial_theta(model, config.run.seed, device)
        if method == "pretrain":
            return RegressionPretrainer(learner, start, config.meta, config.run.seed,
                                        config.pretrain.learning_rate)
        return MetaTrainer(learner, start, config.meta, config.run.seed, algorithm=method,
                           fomaml=config.fomaml, dist=dist)

    def evaluator(self, config: SineExperimentConfig, settings: SineEvalConfig
                  ) -> RegressionEvaluator:
        """Errors after k steps from ``settings.shots`` points."""
        return RegressionEvaluator(config, settings)

    def plot_labels(self, config: SineExperimentConfig) -> PlotLabels:
        """Errors, on a log scale, against optimizer steps."""
        optimizer = "SGD" if config.inner.optimizer == "sgd" else "Adam"
        return PlotLabels(config.env.family, f"inner {optimizer} steps k on the new task",
                          "mean squared error after k steps (log scale)", "points",
                          f"validation mean squared error from {config.eval.shots} points",
                          log=True)

    def extra_plots(self, config: SineExperimentConfig, settings: Callable[[], SineEvalConfig],
                    theta_of: Callable[[str], Params], directory: Path) -> list[Path]:
        """``sine_fits.png``: predictions before and after adaptation."""
        return [plot_sine_fits(config, settings(), theta_of, directory)]
