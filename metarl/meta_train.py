"""Meta-training over batched PPO: Reptile or first-order MAML, one outer step at a time.

Every meta-iteration samples a meta-batch of training tasks and adapts theta to all of them at
once with :meth:`metarl.agents.ppo.PPO.adapt`. Reptile then moves theta toward the adapted
weights (:class:`metarl.reptile.ReptileOuter`); first-order MAML collects one more rollout with
each adapted policy and applies minus the mean gradient of the loss there
(:mod:`metarl.fomaml`). Every ``val_every`` iterations the trainer measures the return on the
fixed validation tasks after ``val_updates`` inner updates from the current theta.

A :class:`MetaTrainer` holds the whole state of a run (theta, the outer optimizer, the iteration
and every random generator), so that :meth:`MetaTrainer.state_dict` and
:meth:`MetaTrainer.load_state_dict` resume it exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch

from metarl.agents.param_tree import Params, flatten
from metarl.agents.ppo import PPO
from metarl.envs import TaskParams
from metarl.fomaml import FomamlConfig, fomaml_direction, post_adaptation_gradients
from metarl.reptile import (
    GROUPS,
    OUTER_OPTIMIZERS,
    ReptileOuter,
    names_in_groups,
    reptile_delta,
)

ALGORITHMS = ("reptile", "fomaml")


@dataclass(frozen=True)
class MetaConfig:
    """Outer-loop settings (shared by Reptile, first-order MAML and multi-task pretraining).

    :param meta_iterations: outer steps.
    :param meta_batch: training tasks adapted per outer step.
    :param inner_iterations: PPO iterations per task inside one outer step.
    :param epsilon: Reptile's outer step size (the outer optimizer's learning rate).
    :param anneal: anneal ``epsilon`` linearly to 0 over ``meta_iterations`` (as the paper does).
    :param outer_optimizer: ``"none"`` (plain Reptile), ``"sgd"`` or ``"adam"``.
    :param momentum: SGD momentum of the outer optimizer.
    :param groups: meta-learned parameter groups (``body``, ``head``, ``log_std``, ``value``);
        the others keep their initial value in theta. ``log_std`` is left out by default: every
        inner PPO run lowers the policy's std on its task, and averaging those lowered stds
        collapses exploration over meta-training (Navigation2D: log-std -1 -> -3.3 in 30
        meta-iterations, -2 -> -4.7), after which the initialisation no longer adapts.
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
    groups: tuple[str, ...] = ("body", "head", "value")
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
        if not self.epsilon > 0:
            raise ValueError(f"meta.epsilon={self.epsilon!r} must be > 0")
        if self.outer_optimizer not in OUTER_OPTIMIZERS:
            raise ValueError(f"meta.outer_optimizer={self.outer_optimizer!r} must be one of "
                             f"{', '.join(OUTER_OPTIMIZERS)}")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"meta.momentum={self.momentum!r} must be in [0, 1)")
        unknown = [g for g in self.groups if g not in GROUPS]
        if unknown or not self.groups:
            raise ValueError(f"meta.groups={list(self.groups)!r} must be a non-empty list of "
                             f"{', '.join(GROUPS)}")


    def validates_at(self, iteration: int) -> bool:
        """Whether the validation return is measured after outer step ``iteration``."""
        return iteration % self.val_every == 0 or iteration == self.meta_iterations


class MetaRecord(NamedTuple):
    """One outer step's record (plain Python numbers, for CSV files and progress bars).

    :param iteration: outer steps done.
    :param env_steps: env steps collected for training so far (validation excluded).
    :param step_size: the outer step size (or learning rate) used by this step.
    :param train_return_first: mean return of the meta-batch's first rollout (theta itself).
    :param train_return_last: mean return of the step's last rollout (the most adapted policy).
    :param val_return: validation return after ``val_updates`` updates (NaN when not measured).
    :param approx_kl: mean inner approx-KL over tasks and iterations.
    :param clip_frac: mean inner clip fraction.
    :param entropy: mean inner policy entropy.
    :param log_std: mean of theta's log-std after the step (NaN for Discrete actions).
    :param update_norm: L2 norm of theta's change in this step.
    """

    iteration: int
    env_steps: int
    step_size: float
    train_return_first: float
    train_return_last: float
    val_return: float
    approx_kl: float
    clip_frac: float
    entropy: float
    log_std: float
    update_norm: float


def validation_return(ppo: PPO, theta: Params, tasks: TaskParams, updates: int,
                      seed: int) -> float:
    """Mean return over ``tasks`` of the policy after ``updates`` PPO updates from ``theta``.

    Uses its own generator seeded by ``seed``, so that measuring never changes a training run.
    """
    gen = torch.Generator(device=tasks.device).manual_seed(seed)
    out = ppo.adapt(theta, tasks, updates, gen, evaluate_final=True)
    return out.returns[-1].nanmean().item()


def check_finite(params: Params, what: str) -> None:
    """Raise ``FloatingPointError`` naming the tasks whose stacked ``params`` hold NaN or Inf."""
    bad = ~torch.isfinite(flatten(params, batch_dims=1)).all(dim=1)
    if bool(bad.any()):
        tasks = bad.nonzero().flatten().tolist()
        raise FloatingPointError(f"{what}: NaN or Inf in the parameters of task(s) {tasks}")


def make_record(iteration: int, env_steps: int, step_size: float, first_return: torch.Tensor,
                last_return: torch.Tensor, stats: dict[str, torch.Tensor], val_return: float,
                theta: Params, before: Params) -> MetaRecord:
    """A :class:`MetaRecord` from one outer step's returns, PPO statistics and theta change.

    :param first_return: per-task mean return of the step's first rollout.
    :param last_return: per-task mean return of its last rollout.
    :param stats: PPO statistics ``{name: [iterations, T]}`` (see ``PPO.adapt``).
    """
    def mean(name: str) -> float:
        value = stats[name]
        return value.mean().item() if value.numel() else math.nan

    change = flatten(theta) - flatten(before)
    return MetaRecord(
        iteration, env_steps, step_size,
        first_return.nanmean().item(), last_return.nanmean().item(), val_return,
        mean("approx_kl"), mean("clip_frac"), mean("entropy"),
        theta["log_std"].mean().item() if "log_std" in theta else math.nan,
        change.norm().item(),
    )


class MetaTrainer:
    """Reptile or first-order MAML over batched PPO, resumable one outer step at a time.

    :param ppo: the inner learner (its family supplies the tasks).
    :param theta: the initial shared parameters (copied).
    :param config: outer-loop settings.
    :param seed: seeds task sampling, actions and start states.
    :param algorithm: ``"reptile"`` or ``"fomaml"``.
    :param fomaml: first-order MAML's outer settings (used when ``algorithm="fomaml"``).
    """

    def __init__(self, ppo: PPO, theta: Params, config: MetaConfig, seed: int = 0,
                 algorithm: str = "reptile", fomaml: FomamlConfig | None = None) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm={algorithm!r} must be one of {', '.join(ALGORITHMS)}")
        self.ppo, self.config, self.seed, self.algorithm = ppo, config, seed, algorithm
        self.device = next(iter(theta.values())).device
        self.task_gen = torch.Generator().manual_seed(seed)
        self.gen = torch.Generator(device=self.device).manual_seed(seed + 1)
        names = names_in_groups(theta, config.groups, len(ppo.policy.hidden))
        if algorithm == "reptile":
            self.outer = ReptileOuter(theta, config.epsilon,
                                      config.meta_iterations if config.anneal else None,
                                      config.outer_optimizer, config.momentum, names)
        else:
            fomaml = fomaml or FomamlConfig()
            self.outer = ReptileOuter(theta, fomaml.learning_rate, None, fomaml.optimizer,
                                      0.0, names)
        self.val_tasks = ppo.family.tasks.sample(config.val_tasks, split="val",
                                                 device=self.device)
        self.env_steps = 0

    @property
    def theta(self) -> Params:
        """The current shared parameters."""
        return self.outer.theta

    @property
    def iteration(self) -> int:
        """Outer steps done."""
        return self.outer.iteration

    @property
    def done(self) -> bool:
        """Whether all ``meta_iterations`` steps are done."""
        return self.iteration >= self.config.meta_iterations

    def step(self) -> MetaRecord:
        """One outer step; raises ``FloatingPointError`` (theta unchanged) on NaN or Inf."""
        cfg, ppo = self.config, self.ppo
        it = self.iteration + 1
        tasks = ppo.family.tasks.sample(cfg.meta_batch, self.task_gen, device=self.device)
        adapted = ppo.adapt(self.theta, tasks, cfg.inner_iterations, self.gen)
        check_finite(adapted.params, f"meta-iteration {it}: adaptation")
        rollouts = cfg.inner_iterations
        last_return = adapted.returns[-1]
        if self.algorithm == "reptile":
            direction = reptile_delta(self.theta, adapted.params)
        else:
            post = post_adaptation_gradients(ppo, adapted.params, tasks, self.gen)
            check_finite(post.grads, f"meta-iteration {it}: post-adaptation gradient")
            direction = fomaml_direction(post.grads)
            rollouts += 1
            last_return = post.returns
        before = {k: v.clone() for k, v in self.theta.items()}
        step_size = self.outer.current_epsilon()
        self.outer.apply(direction)  # moves only the meta-learned groups
        self.env_steps += cfg.meta_batch * rollouts * adapted.env_steps
        val = math.nan
        if cfg.validates_at(it):
            val = validation_return(ppo, self.theta, self.val_tasks, cfg.val_updates,
                                    self.seed + 2)
        return make_record(it, self.env_steps, step_size, adapted.returns[0], last_return,
                           adapted.stats, val, self.theta, before)

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: outer state, env steps and generator states."""
        return {
            "outer": self.outer.state_dict(),
            "env_steps": self.env_steps,
            "task_gen": self.task_gen.get_state(),
            "gen": self.gen.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved."""
        self.outer.load_state_dict(state["outer"])
        self.env_steps = int(state["env_steps"])
        self.task_gen.set_state(state["task_gen"])
        self.gen.set_state(state["gen"])


@dataclass
class MetaResult:
    """What :func:`meta_train` returns: the final theta and one record per outer step."""

    theta: Params
    history: list[MetaRecord] = field(default_factory=list)


def meta_train(ppo: PPO, theta: Params, config: MetaConfig, seed: int = 0,
               on_step: Callable[[MetaRecord], Any] | None = None,
               algorithm: str = "reptile", fomaml: FomamlConfig | None = None) -> MetaResult:
    """Run a :class:`MetaTrainer` to the end (no checkpoints; the command line adds those).

    :param ppo: the inner learner.
    :param theta: the initial shared parameters.
    :param config: outer-loop settings.
    :param seed: seeds task sampling, actions and start states.
    :param on_step: called with each :class:`MetaRecord` (a progress bar, a CSV writer).
    :param algorithm: ``"reptile"`` or ``"fomaml"``.
    :param fomaml: first-order MAML's outer settings.
    """
    trainer = MetaTrainer(ppo, theta, config, seed, algorithm, fomaml)
    history = []
    while not trainer.done:
        record = trainer.step()
        history.append(record)
        if on_step is not None:
            on_step(record)
    return MetaResult(trainer.theta, history)
