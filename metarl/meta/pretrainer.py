"""Multi-task pretraining: one network trained on mixtures of training tasks, without adaptation.

The baseline that meta-learning must beat: one network that does as well as it can on average
over the task distribution. :class:`MixturePretrainer` holds what every kind of pretraining
shares: one network (no task dimension) trained with
:class:`~metarl.agents.batched_adam.BatchedAdam` over one stacked copy ``[1, ...]``, the random
generators, the budget and validation of the meta-training it is compared with, and exact
save and restore. One of its iterations is ``inner_iterations`` optimizer steps (or PPO
iterations), each on a fresh mixture of ``meta_batch`` tasks: the samples of one meta-iteration.
A subclass says what one step on a mixture is and what its record holds:
:class:`metarl.rl.pretrain.Pretrainer` (PPO on task mixtures) and
:class:`metarl.supervised.pretrain.RegressionPretrainer` (Adam on pooled regression points).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import torch

from metarl.agents.batched_adam import BatchedAdam
from metarl.agents.param_tree import Params
from metarl.meta.learner import InnerLearner, Record, validation_score
from metarl.meta.trainer import MetaConfig, check_finite


class MixturePretrainer(ABC):
    """Resumable training of one network for ``config.meta_iterations`` iterations.

    :param learner: the inner learner of the run (its tasks and its validation score).
    :param theta: the initial parameters (copied).
    :param config: the budget (``meta_iterations``), the mixture (``meta_batch`` tasks,
        ``inner_iterations`` steps per iteration) and validation settings.
    :param seed: seeds task sampling (CPU generator) and everything else (``gen``).
    :param learning_rate: Adam's learning rate.
    :param adam_eps: Adam's epsilon.
    """

    #: the type of :meth:`step`'s records
    record_type: type[Record]

    def __init__(self, learner: InnerLearner, theta: Params, config: MetaConfig, seed: int,
                 learning_rate: float, adam_eps: float = 1e-8) -> None:
        self.learner, self.config, self.seed = learner, config, seed
        self.device = next(iter(theta.values())).device
        self.task_gen = torch.Generator().manual_seed(seed)
        self.gen = torch.Generator(device=self.device).manual_seed(seed + 1)
        self.params = {k: v.detach().clone().unsqueeze(0).requires_grad_()
                       for k, v in theta.items()}
        self.optimizer = BatchedAdam(self.params, learning_rate, eps=adam_eps)
        self.iteration = 0
        self.samples = 0  # env steps or labelled points used so far
        self.val_tasks = learner.sample_tasks(config.val_tasks, split="val", device=self.device)
        #: the validation curve measured by the last step (None: none measured)
        self.validation: torch.Tensor | None = None

    @property
    def theta(self) -> Params:
        """The current parameters (no task dimension)."""
        return {k: v.detach()[0] for k, v in self.params.items()}

    @property
    def iterations(self) -> int:
        """The budget: ``meta_iterations`` steps."""
        return self.config.meta_iterations

    @property
    def done(self) -> bool:
        """Whether the budget of ``meta_iterations`` steps is spent."""
        return self.iteration >= self.config.meta_iterations

    @abstractmethod
    def mixture_step(self) -> Any:
        """One optimizer step (or PPO iteration) on a fresh mixture of ``meta_batch`` training
        tasks; adds its samples to :attr:`samples` and returns what :meth:`make_record` needs."""

    @abstractmethod
    def make_record(self, iteration: int, steps: list[Any], val: float, before: Params
                    ) -> Record:
        """The record of one iteration from its :meth:`mixture_step` results, the validation
        score (NaN when not measured) and theta before the iteration."""

    def step(self) -> Record:
        """``inner_iterations`` steps on fresh task mixtures; raises ``FloatingPointError`` on
        NaN or Inf."""
        it = self.iteration + 1
        before = {k: v.clone() for k, v in self.theta.items()}
        steps = [self.mixture_step() for _ in range(self.config.inner_iterations)]
        check_finite(self.params, f"pretraining iteration {it}")
        self.iteration = it
        self.validation = self.validate() if self.config.validates_at(it) else None
        val = math.nan if self.validation is None else validation_score(self.validation)
        return self.make_record(it, steps, val, before)

    def validate(self) -> torch.Tensor:
        """``[val_updates + 1, val_tasks]``: the validation tasks' scores after k =
        0..val_updates inner updates from the current parameters (changes no training
        state)."""
        return self.learner.validate(self.theta, self.val_tasks, self.config.val_updates,
                                     self.seed + 2)

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly."""
        return {
            "theta": {k: v.clone() for k, v in self.theta.items()},
            "optimizer": self.optimizer.state_dict(),
            "iteration": self.iteration,
            "samples": self.samples,
            "task_gen": self.task_gen.get_state(),
            "gen": self.gen.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (``env_steps``: a checkpoint of an older
        version)."""
        with torch.no_grad():
            for k, v in self.params.items():
                v[0].copy_(state["theta"][k])
        self.optimizer.load_state_dict(state["optimizer"])
        self.iteration = int(state["iteration"])
        self.samples = int(state.get("samples", state.get("env_steps", 0)))
        self.task_gen.set_state(state["task_gen"])
        self.gen.set_state(state["gen"])
