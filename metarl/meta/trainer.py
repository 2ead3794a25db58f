"""Meta-training: Reptile or first-order MAML over any inner learner, one outer step at a time.

Every meta-iteration samples a meta-batch of training tasks and has the inner learner
(:mod:`metarl.meta.learner`: batched PPO, or SGD on regression tasks) adapt theta to all of them
at once. Reptile then moves theta toward the adapted weights
(:class:`metarl.meta.reptile.ReptileOuter`);
first-order MAML computes each task's gradient at its adapted weights on fresh data (one more
rollout, or new labelled points) and applies minus their mean; second-order MAML has the learner
build its post-adaptation objective and takes a TRPO (or Adam) step on it
(:mod:`metarl.meta.maml`). Every ``val_every`` iterations the
trainer measures the learner's score on each fixed validation task after k = 0..``val_updates``
inner updates from the current theta (:attr:`MetaTrainer.validation`, the record's score its last
row's mean); :meth:`MetaTrainer.validate` measures the same of the initialisation.

A :class:`MetaTrainer` holds the whole state of a run (theta, the outer optimizer, the iteration
and every random generator), so that :meth:`MetaTrainer.state_dict` and
:meth:`MetaTrainer.load_state_dict` resume it exactly.

Given a :class:`~metarl.meta.distributed.Distributed`, the trainer adapts only its rank's share
of each meta-batch and combines the shares with one ``all_reduce``
(:mod:`metarl.meta.distributed`); its state is then the same on every rank and does not depend on
the number of ranks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import torch

from metarl.agents.param_tree import Params, flatten
from metarl.envs.task_streams import AnyGenerator, TaskShard
from metarl.meta.distributed import Distributed
from metarl.meta.fomaml import FomamlConfig, fomaml_direction
from metarl.meta.groups import GROUPS
from metarl.meta.learner import (
    InnerLearner,
    MamlLearner,
    QueryGradients,
    QueryLearner,
    Record,
    validation_score,
)
from metarl.meta.maml import MamlConfig, maml_step
from metarl.meta.reptile import OUTER_OPTIMIZERS, ReptileOuter, reptile_delta

ALGORITHMS = ("reptile", "fomaml", "maml")


class Trainer(Protocol):
    """What a run trains one method with, resumably: :class:`MetaTrainer` and the multi-task
    pretrainers (:class:`metarl.meta.pretrainer.MixturePretrainer`)."""

    @property
    def iteration(self) -> int:
        """Meta-iterations done."""

    @property
    def theta(self) -> Params:
        """The current initialisation."""

    @property
    def iterations(self) -> int:
        """The budget: iterations to train."""

    @property
    def done(self) -> bool:
        """Whether the budget is spent."""

    @property
    def record_type(self) -> type[Record]:
        """The type of :meth:`step`'s records (its fields are the metrics columns, its ``unit``
        says what their sample count counts)."""

    @property
    def validation(self) -> torch.Tensor | None:
        """The validation curve ``[val_updates + 1, val_tasks]`` measured by the last
        :meth:`step` (``None`` when it measured none)."""

    def step(self) -> Record:
        """One meta-iteration."""

    def validate(self) -> torch.Tensor:
        """The validation curve of the current theta (changes no training state)."""

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly."""

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output."""


#: ``meta.task_chunk = "auto"`` on a CPU: the tasks adapted at once. The batched update is bound by
#: the cores' arithmetic from a few tasks on, so larger batches gain nothing there, and past about
#: 100 tasks (of 20 envs x 100 steps) each task's tensors spill the caches and every task runs
#: slower (experiments/results/SCALING.md: 1000 tasks, two threads).
CPU_TASK_CHUNK = 100


@dataclass(frozen=True)
class MetaConfig:
    """Outer-loop settings (shared by Reptile, first-order MAML and multi-task pretraining).

    :param meta_iterations: outer steps.
    :param meta_batch: training tasks adapted per outer step.
    :param inner_iterations: inner updates per task inside one outer step (PPO iterations,
        optimizer steps).
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
    :param val_updates: the validation curve's last k: the return (or error) on each
        validation task is measured after k = 0..val_updates inner updates; the record's
        validation score is the one after ``val_updates``.
    :param task_chunk: adapt at most this many tasks at once (per process), one chunk after the
        other (0: the whole meta-batch or share at once); ``"auto"`` (the default):
        :data:`CPU_TASK_CHUNK` on a CPU, the whole meta-batch on a GPU and for MAML. Results
        equal the unchunked run's up to float rounding (each chunk draws its tasks' numbers as a
        process does); on a CPU, chunks of about 100 tasks run large meta-batches faster (1000
        Navigation2D tasks: 1.95x) and in less memory.
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
    task_chunk: int | str = "auto"

    def __post_init__(self) -> None:
        for name in ("meta_iterations", "meta_batch", "inner_iterations", "val_tasks",
                     "val_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"meta.{name}={value!r} must be a positive integer")
        value = self.val_updates
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"meta.val_updates={value!r} must be a non-negative integer")
        value = self.task_chunk
        if value != "auto" and (not isinstance(value, int) or isinstance(value, bool)
                                or value < 0):
            raise ValueError(f"meta.task_chunk={value!r} must be \"auto\" or a non-negative "
                             "integer")
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

    def chunk(self, device_type: str, algorithm: str = "reptile") -> int:
        """The tasks adapted at once (0: the whole meta-batch or share) on a ``device_type``
        (``cpu``, ``cuda``) device: ``task_chunk``, or what ``"auto"`` chooses there (MAML
        differentiates through the whole meta-batch at once)."""
        if self.task_chunk != "auto":
            return int(self.task_chunk)
        return CPU_TASK_CHUNK if device_type == "cpu" and algorithm != "maml" else 0

    def validates_at(self, iteration: int) -> bool:
        """Whether the validation return is measured after outer step ``iteration``."""
        return iteration % self.val_every == 0 or iteration == self.meta_iterations


class _Share(NamedTuple):
    """One process's part of a meta-iteration, before the processes combine theirs.

    :param direction: the mean over its tasks of the outer direction.
    :param num_tasks: its tasks.
    :param summary: the learner's per-task numbers (task dimension last).
    :param samples: samples consumed.
    :param nonfinite: ``{what: [T] bool}``, tasks with NaN or Inf in their adapted weights
        (``adaptation``) or gradients (``post-adaptation gradient``).
    :param step_size: the step size to record (``None``: the outer loop's epsilon).
    """

    direction: Params
    num_tasks: int
    summary: dict[str, torch.Tensor]
    samples: int
    nonfinite: dict[str, torch.Tensor]
    step_size: float | None = None


def nonfinite_tasks(params: Params) -> torch.Tensor:
    """``[T]`` bool: the tasks whose stacked ``params`` hold NaN or Inf."""
    return ~torch.isfinite(flatten(params, batch_dims=1)).all(dim=1)


def check_finite(params: Params, what: str) -> None:
    """Raise ``FloatingPointError`` naming the tasks whose stacked ``params`` hold NaN or Inf."""
    bad = nonfinite_tasks(params)
    if bool(bad.any()):
        tasks = bad.nonzero().flatten().tolist()
        raise FloatingPointError(f"{what}: NaN or Inf in the parameters of task(s) {tasks}")


class MetaTrainer:
    """Reptile, first-order or second-order MAML over an inner learner, resumable one outer step
    at a time.

    :param learner: the inner learner (:mod:`metarl.meta.learner`); it supplies the tasks.
        First-order MAML needs a :class:`~metarl.meta.learner.QueryLearner`, MAML a
        :class:`~metarl.meta.learner.MamlLearner`.
    :param theta: the initial shared parameters (copied).
    :param config: outer-loop settings.
    :param seed: seeds task sampling and the learner's randomness (actions, start states, data).
    :param algorithm: ``"reptile"``, ``"fomaml"`` or ``"maml"``.
    :param fomaml: first-order MAML's outer settings (used when ``algorithm="fomaml"``).
    :param dist: split every meta-batch over the ranks of this job (``None``: one process;
        MAML runs in one process).
    :param maml: second-order MAML's settings (used when ``algorithm="maml"``; its inner steps
        replace ``config.inner_iterations``, its groups ``config.groups``).
    """

    def __init__(self, learner: InnerLearner, theta: Params, config: MetaConfig,
                 seed: int = 0, algorithm: str = "reptile",
                 fomaml: FomamlConfig | None = None, dist: Distributed | None = None,
                 maml: MamlConfig | None = None) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm={algorithm!r} must be one of {', '.join(ALGORITHMS)}")
        if dist is not None and config.meta_batch < dist.world_size:
            raise ValueError(f"meta.meta_batch={config.meta_batch} is smaller than the "
                             f"{dist.world_size} processes: every process needs a task")
        if not isinstance(learner, InnerLearner):
            raise TypeError(f"learner must be an inner learner (metarl.meta.learner."
                            f"InnerLearner), not a {type(learner).__name__}; wrap a PPO in "
                            f"metarl.rl.learner.PPOLearner")
        if algorithm == "fomaml" and not isinstance(learner, QueryLearner):
            raise ValueError(f"first-order MAML needs a learner that measures query gradients; "
                             f"{type(learner).__name__} supports Reptile only")
        if algorithm == "maml":
            if not isinstance(learner, MamlLearner):
                raise ValueError(f"MAML needs a learner that builds the post-adaptation "
                                 f"objective; {type(learner).__name__} cannot")
            if dist is not None or config.chunk("cpu", algorithm):
                raise ValueError("maml adapts the whole meta-batch in one process: run it "
                                 "without torchrun and with meta.task_chunk = 0 or \"auto\"")
        self.learner, self.config, self.seed, self.algorithm = learner, config, seed, algorithm
        self.maml = maml or MamlConfig()
        self.device = next(iter(theta.values())).device
        self.task_chunk = config.chunk(self.device.type, algorithm)
        self.task_gen = torch.Generator().manual_seed(seed)
        self.gen = torch.Generator(device=self.device).manual_seed(seed + 1)
        names = learner.meta_names(theta, self.maml.groups if algorithm == "maml"
                                   else config.groups)
        self.names = names
        if algorithm == "reptile":
            self.outer = ReptileOuter(theta, config.epsilon,
                                      config.meta_iterations if config.anneal else None,
                                      config.outer_optimizer, config.momentum, names)
        elif algorithm == "maml":  # TRPO's step is applied as it is (eps = 1)
            adam = self.maml.optimizer == "adam"
            self.outer = ReptileOuter(theta, self.maml.learning_rate if adam else 1.0, None,
                                      "adam" if adam else "none", 0.0, names)
        else:
            fomaml = fomaml or FomamlConfig()
            self.outer = ReptileOuter(theta, fomaml.learning_rate, None, fomaml.optimizer,
                                      0.0, names)
        self.val_tasks = learner.sample_tasks(config.val_tasks, split="val", device=self.device)
        #: the validation curve measured by the last step (None: none measured)
        self.validation: torch.Tensor | None = None
        self.samples = 0
        self.dist = dist
        #: read when the ranks exchange a step: whether this process was asked to stop
        self.interrupt: Callable[[], bool] = lambda: False
        #: after a step: whether any rank was asked to stop (all stop after the same step)
        self.interrupted = False

    @property
    def record_type(self) -> type[Record]:
        """The learner's record type (:attr:`InnerLearner.record_type`)."""
        return self.learner.record_type

    @property
    def theta(self) -> Params:
        """The current shared parameters."""
        return self.outer.theta

    @property
    def iteration(self) -> int:
        """Outer steps done."""
        return self.outer.iteration

    @property
    def iterations(self) -> int:
        """The budget: ``meta_iterations`` outer steps."""
        return self.config.meta_iterations

    @property
    def done(self) -> bool:
        """Whether all ``meta_iterations`` steps are done."""
        return self.iteration >= self.config.meta_iterations

    def step(self) -> Record:
        """One outer step; raises ``FloatingPointError`` (theta unchanged) on NaN or Inf."""
        cfg, learner = self.config, self.learner
        it = self.iteration + 1
        tasks = learner.sample_tasks(cfg.meta_batch, self.task_gen, device=self.device)
        start, stop = (0, cfg.meta_batch) if self.dist is None else \
            self.dist.task_range(cfg.meta_batch)
        if self.algorithm == "maml":
            share = self._maml(tasks)
        elif self.dist is None and not 0 < self.task_chunk < cfg.meta_batch:
            share = self._adapt(tasks, self.gen)  # the whole batch, plain generator
        else:
            share = self._adapt_in_chunks(tasks, start, stop)
        direction, summary, samples = self._combine(it, share, start, stop)
        before = {k: v.clone() for k, v in self.theta.items()}
        step_size = self.outer.current_epsilon() if share.step_size is None else share.step_size
        self.outer.apply(direction)  # moves only the meta-learned groups
        self.samples += samples
        self.validation = None
        if cfg.validates_at(it) and (self.dist is None or self.dist.is_main):
            self.validation = self.validate()
        val = math.nan if self.validation is None else validation_score(self.validation)
        return learner.record(it, self.samples, step_size, summary, val, self.theta, before)

    def validate(self) -> torch.Tensor:
        """``[val_updates + 1, val_tasks]``: every validation task's score after k =
        0..val_updates inner updates from the current theta, all tasks at once (its own
        generator: no training state changes)."""
        return self.learner.validate(self.theta, self.val_tasks, self.config.val_updates,
                                     self.seed + 2)

    def _adapt(self, tasks: Any, gen: AnyGenerator) -> _Share:
        """Adapt theta to ``tasks`` (and take first-order MAML's query gradients)."""
        learner, steps = self.learner, self.config.inner_iterations
        adapted = learner.adapt(self.theta, tasks, steps, gen)
        query: QueryGradients | None = None
        if self.algorithm == "reptile":
            direction = reptile_delta(self.theta, adapted.params)
        else:
            assert isinstance(learner, QueryLearner)  # checked in __init__
            query = learner.query_gradients(adapted, tasks, gen)
            direction = fomaml_direction(query.grads)
        bad = nonfinite_tasks(adapted.params)
        bad_grads = nonfinite_tasks(query.grads) if query is not None else torch.zeros_like(bad)
        return _Share(direction, bad.shape[0], learner.summary(adapted, query),
                      adapted.samples + (query.samples if query is not None else 0),
                      {"adaptation": bad, "post-adaptation gradient": bad_grads})

    def _maml(self, tasks: Any) -> _Share:
        """MAML's outer step on the whole meta-batch (:func:`metarl.meta.maml.maml_step`)."""
        learner = self.learner
        assert isinstance(learner, MamlLearner)  # checked in __init__
        objective = learner.maml_objective(self.theta, tasks, self.maml.inner_steps, self.gen)
        step = maml_step(objective, self.theta, self.names, self.maml)
        direction = {k: step.direction[k] if k in step.direction else torch.zeros_like(v)
                     for k, v in self.theta.items()}
        bad = ~torch.isfinite(step.loss)
        bad_step = ~torch.isfinite(flatten(direction)).all().expand_as(bad)
        return _Share(direction, bad.shape[0], objective.summary(step.kl), objective.samples,
                      {"post-adaptation objective": bad, "meta-gradient": bad_step},
                      step.fraction if self.maml.optimizer == "trpo" else None)

    def _adapt_in_chunks(self, tasks: Any, start: int, stop: int) -> _Share:
        """Adapt tasks ``start:stop`` of the meta-batch, :attr:`task_chunk` at a time, each
        chunk through a :class:`TaskShard` from the same generator state, so that every task
        draws what it would draw in one batch; the generator ends as after one chunk."""
        cfg = self.config
        size = self.task_chunk or stop - start
        snapshot = self.gen.get_state()
        shares = []
        for first in range(start, stop, size):
            last = min(first + size, stop)
            self.gen.set_state(snapshot)
            shares.append(self._adapt(tasks.index(slice(first, last)),
                                      TaskShard(self.gen, first, last, cfg.meta_batch)))
        num_tasks = stop - start
        direction = {k: torch.stack([s.direction[k] * s.num_tasks for s in shares]).sum(dim=0)
                     / num_tasks for k in shares[0].direction}
        summary = {k: torch.cat([s.summary[k] for s in shares], dim=-1)
                   for k in shares[0].summary}
        nonfinite = {k: torch.cat([s.nonfinite[k] for s in shares])
                     for k in shares[0].nonfinite}
        return _Share(direction, num_tasks, summary, sum(s.samples for s in shares), nonfinite)

    def _combine(self, it: int, share: _Share, start: int, stop: int
                 ) -> tuple[Params, dict[str, torch.Tensor], int]:
        """The mean direction over the whole meta-batch, every task's summary and the samples
        (over all ranks with one all_reduce in a distributed run); raises
        ``FloatingPointError`` (on every rank) when any task's weights or gradients are not
        finite."""
        total = self.config.meta_batch
        direction, summary, samples, nonfinite = (share.direction, share.summary, share.samples,
                                                  share.nonfinite)
        if self.dist is not None:
            flags = {f"nonfinite {k}": v.to(torch.float64) for k, v in nonfinite.items()}
            sums, summary, scalars = self.dist.reduce_step(
                {k: v * share.num_tasks for k, v in direction.items()}, {**summary, **flags},
                {"samples": float(samples), "stop": float(self.interrupt())},
                start, total, f"meta-iteration {it}: exchanging the adapted weights",
            )
            nonfinite = {k: summary.pop(f"nonfinite {k}") > 0 for k in nonfinite}
            direction = {k: v / total for k, v in sums.items()}
            samples = round(scalars["samples"])
            self.interrupted = scalars["stop"] > 0
        for what, bad in nonfinite.items():  # adaptation first
            if bool(bad.any()):
                tasks = bad.nonzero().flatten().tolist()
                raise FloatingPointError(f"meta-iteration {it}: {what}: NaN or Inf in the "
                                         f"parameters of task(s) {tasks}")
        return direction, summary, samples

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: outer state, samples and generator states."""
        return {
            "outer": self.outer.state_dict(),
            "samples": self.samples,
            "task_gen": self.task_gen.get_state(),
            "gen": self.gen.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved."""
        self.outer.load_state_dict(state["outer"])
        self.samples = int(state.get("samples", state.get("env_steps", 0)))  # older checkpoints
        self.task_gen.set_state(state["task_gen"])
        self.gen.set_state(state["gen"])


@dataclass
class MetaResult:
    """What :func:`meta_train` returns: the final theta and one record per outer step."""

    theta: Params
    history: list[Any] = field(default_factory=list)


def meta_train(learner: InnerLearner, theta: Params, config: MetaConfig, seed: int = 0,
               on_step: Callable[[Any], Any] | None = None,
               algorithm: str = "reptile", fomaml: FomamlConfig | None = None,
               maml: MamlConfig | None = None) -> MetaResult:
    """Run a :class:`MetaTrainer` to the end (no checkpoints; the command line adds those).

    :param learner: the inner learner.
    :param theta: the initial shared parameters.
    :param config: outer-loop settings.
    :param seed: seeds task sampling, actions and start states.
    :param on_step: called with each outer step's record (a progress bar, a CSV writer).
    :param algorithm: ``"reptile"``, ``"fomaml"`` or ``"maml"``.
    :param fomaml: first-order MAML's outer settings.
    :param maml: second-order MAML's settings.
    """
    trainer = MetaTrainer(learner, theta, config, seed, algorithm, fomaml, maml=maml)
    history = []
    while not trainer.done:
        record = trainer.step()
        history.append(record)
        if on_step is not None:
            on_step(record)
    return MetaResult(trainer.theta, history)
