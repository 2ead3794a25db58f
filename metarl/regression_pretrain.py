"""Multi-task pretraining of a regressor: the baseline of the MAML and Reptile sine experiments.

One network is trained with Adam on the pooled points of many training tasks, without any
adaptation, so it learns what fits the task distribution on average. One iteration is
``inner_iterations`` Adam steps, each on ``meta_batch`` fresh tasks with ``batch_size`` points
each (``train_points`` for full-batch inner steps): the points of one Reptile meta-iteration.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from metarl.agents.batched_adam import BatchedAdam
from metarl.agents.param_tree import Params, stack
from metarl.meta_train import MetaConfig, check_finite
from metarl.ppo_learner import update_norm
from metarl.regression_learner import RegressionLearner, RegressionRecord


class RegressionPretrainer:
    """Trains one regressor on the mixture of training tasks, resumably.

    :param learner: supplies the tasks, the model and the validation error.
    :param theta: the initial parameters (copied).
    :param config: iterations, tasks per step, steps per iteration, validation settings.
    :param seed: seeds task and point sampling.
    :param learning_rate: Adam's learning rate.
    """

    record_fields, record_unit = RegressionRecord._fields, RegressionRecord.unit

    def __init__(self, learner: RegressionLearner, theta: Params, config: MetaConfig,
                 seed: int = 0, learning_rate: float = 1e-3) -> None:
        self.learner, self.config, self.seed = learner, config, seed
        self.device = next(iter(theta.values())).device
        self.task_gen = torch.Generator().manual_seed(seed)
        self.gen = torch.Generator(device=self.device).manual_seed(seed + 1)
        self.params = stack({k: v.detach() for k, v in theta.items()}, 1)
        self.optimizer = BatchedAdam(self.params, learning_rate)
        self.val_tasks = learner.sample_tasks(config.val_tasks, split="val", device=self.device)
        self.iteration = 0
        self.points = 0

    @property
    def theta(self) -> Params:
        """The current parameters (no task dimension)."""
        return {k: v.detach()[0] for k, v in self.params.items()}

    @property
    def done(self) -> bool:
        """Whether the budget of ``meta_iterations`` steps is spent."""
        return self.iteration >= self.config.meta_iterations

    def step(self) -> RegressionRecord:
        """``inner_iterations`` Adam steps on fresh task mixtures; raises on NaN or Inf."""
        it = self.iteration + 1
        before = {k: v.clone() for k, v in self.theta.items()}
        learner = self.learner
        per_task = learner.learner.config.batch_size or learner.train_points
        losses = []
        for _ in range(self.config.inner_iterations):
            tasks = learner.sample_tasks(self.config.meta_batch, self.task_gen, device=self.device)
            x, y = learner.family.sample_points(tasks, per_task, self.gen)
            grads, loss = learner.learner.gradients(self.params, x.reshape(1, -1, x.shape[-1]),
                                                    y.reshape(1, -1, y.shape[-1]))
            self.optimizer.step(grads)
            losses.append(loss.item())
            self.points += x.shape[0] * x.shape[1]
        check_finite(self.params, f"pretraining iteration {it}")
        self.iteration = it
        val = math.nan
        if self.config.validates_at(it):
            val = learner.validate(self.theta, self.val_tasks, self.config.val_updates,
                                   self.seed + 2)
        return RegressionRecord(it, self.points, self.optimizer.lr, losses[0], losses[-1], val,
                                update_norm(self.theta, before))

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly."""
        return {
            "theta": {k: v.clone() for k, v in self.theta.items()},
            "optimizer": self.optimizer.state_dict(),
            "iteration": self.iteration,
            "points": self.points,
            "task_gen": self.task_gen.get_state(),
            "gen": self.gen.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved."""
        with torch.no_grad():
            for k, v in self.params.items():
                v[0].copy_(state["theta"][k])
        self.optimizer.load_state_dict(state["optimizer"])
        self.iteration = int(state["iteration"])
        self.points = int(state["points"])
        self.task_gen.set_state(state["task_gen"])
        self.gen.set_state(state["gen"])
