"""Supervised inner learner: ``k`` steps of SGD or Adam on each task's support set, batched.

The counterpart of :class:`metarl.agents.ppo.PPO` for few-shot regression: it adapts ``T`` copies
of a regressor to ``T`` tasks in one set of tensors. The loss of task ``i`` is the mean squared
error over its own points, and the gradient of the sum of the ``T`` losses with respect to
parameters stacked ``[T, ...]`` is exactly the ``T`` per-task gradients, so adapting tasks together
gives the same parameters as adapting each alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch

from metarl.agents.batched_adam import BatchedAdam
from metarl.agents.param_tree import Params, stack
from metarl.agents.regressor import MLPRegressor
from metarl.envs.task_streams import AnyGenerator, draw

OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class SupervisedConfig:
    """Inner-loop settings of the supervised learner.

    :param optimizer: ``"sgd"`` or ``"adam"`` (a fresh Adam state per adaptation).
    :param learning_rate: the inner step size.
    :param batch_size: support points per step, reshuffled per task every pass over the support
        set (0: all of them, full-batch steps).
    """

    optimizer: str = "sgd"
    learning_rate: float = 0.02
    batch_size: int = 0

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"inner.optimizer={self.optimizer!r} must be one of "
                             f"{', '.join(OPTIMIZERS)}")
        if not self.learning_rate > 0:
            raise ValueError(f"inner.learning_rate={self.learning_rate!r} must be > 0")
        if not isinstance(self.batch_size, int) or self.batch_size < 0:
            raise ValueError(f"inner.batch_size={self.batch_size!r} must be an integer >= 0 "
                             "(0: the whole support set)")


class SupervisedResult(NamedTuple):
    """What :meth:`SupervisedLearner.adapt` returns.

    :param params: adapted parameters ``{name: [T, ...]}``.
    :param losses: ``[steps + 1, T]`` mean squared error on each task's whole support set after
        ``k`` steps, ``k = 0..steps``.
    :param query_losses: ``[steps + 1, T]`` the same on the query points (``None`` without them).
    """

    params: Params
    losses: torch.Tensor
    query_losses: torch.Tensor | None = None


class SupervisedLearner:
    """Adapts stacked regressors to their tasks' support sets with SGD or Adam.

    :param model: the regressor.
    :param config: inner-loop settings.
    """

    def __init__(self, model: MLPRegressor, config: SupervisedConfig) -> None:
        self.model, self.config = model, config

    def loss(self, params: Params, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-task mean squared error ``[T]`` of stacked ``params`` on points ``[T, N, ...]``."""
        return (self.model.forward(params, x) - y).square().flatten(1).mean(dim=1)

    def gradients(self, params: Params, x: torch.Tensor, y: torch.Tensor
                  ) -> tuple[Params, torch.Tensor]:
        """Per-task gradients of :meth:`loss` (shaped like ``params``) and the losses ``[T]``."""
        leaves = {k: v.detach().requires_grad_(True) for k, v in params.items()}
        with torch.enable_grad():
            losses = self.loss(leaves, x, y)
            grads = torch.autograd.grad(losses.sum(), list(leaves.values()))
        return dict(zip(leaves, grads, strict=True)), losses.detach()

    def adapt(self, theta: Params, x: torch.Tensor, y: torch.Tensor, steps: int,
              generator: AnyGenerator = None,
              query: tuple[torch.Tensor, torch.Tensor] | None = None) -> SupervisedResult:
        """``steps`` optimizer steps from ``theta`` on every task's support set ``x, y``.

        :param theta: shared parameters (no task dimension) or stacked ``[T, ...]`` ones.
        :param x: support inputs ``[T, K, in_dim]``.
        :param y: support targets ``[T, K, out_dim]``.
        :param steps: optimizer steps (0 returns ``theta`` stacked).
        :param generator: shuffles the minibatches (unused for full-batch steps).
        :param query: held-out points ``(x, y)`` of every task, scored after each step (they
            never enter the updates).
        """
        if not isinstance(steps, int) or steps < 0:
            raise ValueError(f"steps={steps!r} must be a non-negative integer")
        num_tasks, k = x.shape[0], x.shape[1]
        first = next(iter(theta.values()))
        stacked = first.dim() > len(next(iter(self.model.shapes().values())))
        params = ({n: v.detach().clone() for n, v in theta.items()} if stacked
                  else stack({n: v.detach() for n, v in theta.items()}, num_tasks))
        cfg = self.config
        batch = cfg.batch_size if 0 < cfg.batch_size < k else k
        adam = BatchedAdam(params, cfg.learning_rate) if cfg.optimizer == "adam" else None
        losses, query_losses = [], []
        rows = torch.arange(num_tasks, device=x.device).unsqueeze(1)
        order, pos = rows.expand(num_tasks, k), k  # the first minibatch step shuffles
        for _ in range(steps):
            if query is not None:
                with torch.no_grad():
                    query_losses.append(self.loss(params, *query))
            if batch < k:
                if pos + batch > k:  # a new pass over the support set (a short rest is dropped)
                    noise = draw(generator, (num_tasks, k), lambda shape, gen: torch.rand(
                        shape, generator=gen, device=x.device))
                    order, pos = noise.argsort(dim=1), 0
                idx = order[:, pos:pos + batch]
                pos += batch
                grads, _ = self.gradients(params, x[rows, idx], y[rows, idx])
                losses.append(self.loss(params, x, y).detach())
            else:
                grads, full = self.gradients(params, x, y)
                losses.append(full)
            with torch.no_grad():
                if adam is not None:
                    adam.step(grads)
                else:
                    for n, p in params.items():
                        p.sub_(grads[n], alpha=cfg.learning_rate)
        with torch.no_grad():
            losses.append(self.loss(params, x, y))
            if query is not None:
                query_losses.append(self.loss(params, *query))
        return SupervisedResult(params, torch.stack(losses),
                                torch.stack(query_losses) if query is not None else None)
