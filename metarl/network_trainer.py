"""What the multi-task pretrainers share: one network (no task dimension), Adam, the generators.

:class:`metarl.pretrain.Pretrainer` (PPO on task mixtures) and
:class:`metarl.regression_pretrain.RegressionPretrainer` (Adam on pooled regression points) train
a single network with :class:`~metarl.agents.batched_adam.BatchedAdam` over one stacked copy
``[1, ...]``; this base holds that state and saves and restores it exactly.
"""

from __future__ import annotations

from typing import Any

import torch

from metarl.agents.batched_adam import BatchedAdam
from metarl.agents.param_tree import Params
from metarl.meta_train import MetaConfig


class NetworkTrainer:
    """Resumable state of one network trained for ``config.meta_iterations`` iterations.

    :param theta: the initial parameters (copied).
    :param config: the budget (``meta_iterations``) and validation settings.
    :param seed: seeds task sampling (CPU generator) and everything else (``gen``).
    :param learning_rate: Adam's learning rate.
    :param adam_eps: Adam's epsilon.
    """

    def __init__(self, theta: Params, config: MetaConfig, seed: int, learning_rate: float,
                 adam_eps: float = 1e-8) -> None:
        self.config, self.seed = config, seed
        self.device = next(iter(theta.values())).device
        self.task_gen = torch.Generator().manual_seed(seed)
        self.gen = torch.Generator(device=self.device).manual_seed(seed + 1)
        self.params = {k: v.detach().clone().unsqueeze(0).requires_grad_()
                       for k, v in theta.items()}
        self.optimizer = BatchedAdam(self.params, learning_rate, eps=adam_eps)
        self.iteration = 0
        self.samples = 0  # env steps or labelled points used so far

    @property
    def theta(self) -> Params:
        """The current parameters (no task dimension)."""
        return {k: v.detach()[0] for k, v in self.params.items()}

    @property
    def done(self) -> bool:
        """Whether the budget of ``meta_iterations`` steps is spent."""
        return self.iteration >= self.config.meta_iterations

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
