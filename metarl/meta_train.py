"""Reptile meta-training over batched PPO: the outer loop without the command line around it.

Every meta-iteration samples a meta-batch of training tasks, adapts theta to all of them at once
with :meth:`metarl.agents.ppo.PPO.adapt`, and moves theta toward the adapted weights with
:class:`metarl.reptile.ReptileOuter`. Every ``val_every`` iterations it measures the return on the
fixed validation tasks after ``val_updates`` inner updates from the current theta.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch

from metarl.agents.param_tree import Params
from metarl.agents.ppo import PPO
from metarl.reptile import GROUPS, ReptileOuter, names_in_groups


@dataclass(frozen=True)
class MetaConfig:
    """Outer-loop settings.

    :param meta_iterations: outer steps.
    :param meta_batch: training tasks adapted per outer step.
    :param inner_iterations: PPO iterations per task inside one outer step.
    :param epsilon: outer step size.
    :param anneal: anneal ``epsilon`` linearly to 0 over ``meta_iterations`` (as the paper does).
    :param outer_optimizer: ``"none"`` (plain Reptile), ``"sgd"`` or ``"adam"``.
    :param momentum: SGD momentum of the outer optimizer.
    :param groups: meta-learned parameter groups (``body``, ``head``, ``log_std``, ``value``).
    :param val_tasks: validation tasks (the family's fixed ``val`` split).
    :param val_every: validate every this many outer steps (and after the last).
    :param val_updates: inner updates before the validation return is read.
    """

    meta_iterations: int = 100
    meta_batch: int = 20
    inner_iterations: int = 3
    epsilon: float = 1.0
    anneal: bool = True
    outer_optimizer: str = "none"
    momentum: float = 0.0
    groups: tuple[str, ...] = GROUPS
    val_tasks: int = 20
    val_every: int = 10
    val_updates: int = 1

    def __post_init__(self) -> None:
        for name in ("meta_iterations", "meta_batch", "inner_iterations", "val_tasks",
                     "val_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"meta.{name}={value!r} must be a positive integer")
        if not isinstance(self.val_updates, int) or self.val_updates < 0:
            raise ValueError(
                f"meta.val_updates={self.val_updates!r} must be a non-negative integer"
            )


class MetaRecord(NamedTuple):
    """One outer step's record (plain Python numbers, for CSV files and progress bars)."""

    iteration: int
    env_steps: int
    epsilon: float
    train_return: float
    val_return: float


@dataclass
class MetaResult:
    """What :func:`meta_train` returns: the final theta and one record per outer step."""

    theta: Params
    history: list[MetaRecord] = field(default_factory=list)


def meta_train(ppo: PPO, theta: Params, config: MetaConfig, seed: int = 0,
               on_step: Callable[[MetaRecord], Any] | None = None) -> MetaResult:
    """Reptile over batched PPO, from ``theta``.

    :param ppo: the inner learner (its family supplies the tasks).
    :param theta: the initial shared parameters.
    :param config: outer-loop settings.
    :param seed: seeds task sampling, actions and start states.
    :param on_step: called with each :class:`MetaRecord` (a progress bar, a CSV writer).
    """
    family = ppo.family
    device = next(iter(theta.values())).device
    task_gen = torch.Generator().manual_seed(seed)
    gen = torch.Generator(device=device).manual_seed(seed + 1)
    names = names_in_groups(theta, config.groups, len(ppo.policy.hidden))
    outer = ReptileOuter(theta, config.epsilon,
                         config.meta_iterations if config.anneal else None,
                         config.outer_optimizer, config.momentum, names)
    val = family.tasks.sample(config.val_tasks, split="val", device=device)
    result = MetaResult(outer.theta)
    steps_per_task = ppo.config.num_envs * ppo.config.num_steps
    env_steps = 0
    for it in range(1, config.meta_iterations + 1):
        tasks = family.tasks.sample(config.meta_batch, task_gen, device=device)
        adapted = ppo.adapt(outer.theta, tasks, config.inner_iterations, gen)
        epsilon = outer.current_epsilon()
        outer.step(adapted.params)
        env_steps += config.meta_batch * config.inner_iterations * steps_per_task
        val_return = math.nan
        if it % config.val_every == 0 or it == config.meta_iterations:
            check = ppo.adapt(outer.theta, val, config.val_updates, gen, evaluate_final=True)
            val_return = check.returns[-1].nanmean().item()
        record = MetaRecord(it, env_steps, epsilon, adapted.returns[-1].nanmean().item(),
                            val_return)
        result.history.append(record)
        if on_step is not None:
            on_step(record)
    result.theta = outer.theta
    return result
