"""Multi-task pretraining of a regressor: the baseline of the MAML and Reptile sine experiments.

One network is trained with Adam on the pooled points of many training tasks, without any
adaptation, so it learns what fits the task distribution on average. One iteration is
``inner_iterations`` Adam steps, each on ``meta_batch`` fresh tasks with ``batch_size`` points
each (``train_points`` for full-batch inner steps): the points of one Reptile meta-iteration.
"""

from __future__ import annotations

import math

from metarl.agents.param_tree import Params
from metarl.meta_train import MetaConfig, check_finite
from metarl.network_trainer import NetworkTrainer
from metarl.ppo_learner import update_norm
from metarl.regression_learner import RegressionLearner, RegressionRecord


class RegressionPretrainer(NetworkTrainer):
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
        super().__init__(theta, config, seed, learning_rate)
        self.learner = learner
        self.val_tasks = learner.sample_tasks(config.val_tasks, split="val", device=self.device)

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
            self.samples += x.shape[0] * x.shape[1]
        check_finite(self.params, f"pretraining iteration {it}")
        self.iteration = it
        val = math.nan
        if self.config.validates_at(it):
            val = learner.validate(self.theta, self.val_tasks, self.config.val_updates,
                                   self.seed + 2)
        return RegressionRecord(it, self.samples, self.optimizer.lr, losses[0], losses[-1], val,
                                update_norm(self.theta, before))
