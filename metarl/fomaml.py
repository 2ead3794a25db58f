"""First-order MAML over batched PPO: the post-adaptation gradient, applied to theta.

MAML (Finn et al. 2017) differentiates the loss after adaptation, ``L_i(phi_i(theta))``, through
the inner updates. The first-order approximation drops the second derivatives, so the
meta-gradient of task ``i`` is the gradient of its loss at the adapted parameters,
``grad L_i(phi_i)``, measured on fresh data collected by ``phi_i`` (MAML's query rollout). The
outer step moves theta by ``-mean_i grad L_i(phi_i)`` through an outer optimizer (Adam by
default). ``L_i`` is the inner learner's PPO loss; on data collected by the same parameters the
ratio is 1, so its policy term is the vanilla policy gradient with advantages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch

from metarl.agents.param_tree import Params
from metarl.agents.ppo import PPO
from metarl.agents.rollout import collect
from metarl.envs import AutoResetEnv, TaskParams
from metarl.envs.task_shard import AnyGenerator
from metarl.reptile import OUTER_OPTIMIZERS


@dataclass(frozen=True)
class FomamlConfig:
    """First-order MAML's outer settings (the inner loop is the PPO inner learner's).

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


class PostAdaptation(NamedTuple):
    """The gradients at the adapted parameters and what their query rollout returned.

    :param grads: ``{name: [T, *shape]}``, the gradient of each task's loss at its ``phi_i``.
    :param returns: mean return of the query rollout's completed episodes, ``[T]``.
    """

    grads: Params
    returns: torch.Tensor


def post_adaptation_gradients(ppo: PPO, adapted: Params, tasks: TaskParams,
                              generator: AnyGenerator) -> PostAdaptation:
    """Per-task gradients of the PPO loss at the adapted parameters, on a fresh rollout of each.

    :param ppo: the inner learner (its rollout size and loss).
    :param adapted: the adapted stacked parameters ``{name: [T, *shape]}``.
    :param tasks: the ``T`` tasks they were adapted to.
    :param generator: random generator on the tasks' device.
    """
    cfg = ppo.config
    params = {k: v.detach().clone().requires_grad_() for k, v in adapted.items()}
    env = AutoResetEnv(ppo.family, tasks, cfg.num_envs, generator)
    rollout, _ = collect(ppo.policy, params, env, env.reset(), cfg.num_steps, generator)
    loss = ppo.loss(params, ppo.make_batch(params, rollout)).loss
    grads = torch.autograd.grad(loss.sum(), list(params.values()))
    return PostAdaptation(dict(zip(params, grads, strict=True)), rollout.mean_return)


def fomaml_direction(grads: Params) -> Params:
    """The outer ascent direction ``-mean_i grad L_i(phi_i)`` from stacked gradients."""
    return {k: -g.mean(dim=0) for k, g in grads.items()}
