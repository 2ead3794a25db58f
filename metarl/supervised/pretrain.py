"""Multi-task pretraining of a regressor: the baseline of the MAML and Reptile sine experiments.

One network is trained with Adam on the pooled points of many training tasks, without any
adaptation (:mod:`metarl.meta.pretrainer`), so it learns what fits the task distribution on
average. One iteration is ``inner_iterations`` Adam steps, each on ``meta_batch`` fresh tasks with
``batch_size`` points each (``train_points`` for full-batch inner steps): the points of one
Reptile meta-iteration.
"""

from __future__ import annotations

from metarl.agents.param_tree import Params
from metarl.meta.learner import update_norm
from metarl.meta.pretrainer import MixturePretrainer
from metarl.meta.trainer import MetaConfig
from metarl.supervised.learner import RegressionLearner, RegressionRecord


class RegressionPretrainer(MixturePretrainer):
    """Trains one regressor on the mixture of training tasks, resumably.

    :param learner: supplies the tasks, the model and the validation error.
    :param theta: the initial parameters (copied).
    :param config: iterations, tasks per step, steps per iteration, validation settings.
    :param seed: seeds task and point sampling.
    :param learning_rate: Adam's learning rate.
    """

    record_type = RegressionRecord

    def __init__(self, learner: RegressionLearner, theta: Params, config: MetaConfig,
                 seed: int = 0, learning_rate: float = 1e-3) -> None:
        super().__init__(learner, theta, config, seed, learning_rate)
        self.regression = learner

    def mixture_step(self) -> float:
        """One Adam step on the pooled points of ``meta_batch`` fresh tasks; returns its loss."""
        learner = self.regression
        per_task = learner.learner.config.batch_size or learner.train_points
        tasks = learner.sample_tasks(self.config.meta_batch, self.task_gen, device=self.device)
        x, y = learner.family.sample_points(tasks, per_task, self.gen)
        grads, loss = learner.learner.gradients(self.params, x.reshape(1, -1, x.shape[-1]),
                                                y.reshape(1, -1, y.shape[-1]))
        self.optimizer.step(grads)
        self.samples += x.shape[0] * x.shape[1]
        return loss.item()

    def make_record(self, iteration: int, steps: list[float], val: float, before: Params
                    ) -> RegressionRecord:
        """Losses of the first and last steps, validation error, theta's change."""
        return RegressionRecord(iteration, self.samples, self.optimizer.lr, steps[0], steps[-1],
                                val, update_norm(self.theta, before))
