"""Batched PPO: adapt ``T`` policies on ``T`` tasks in one pass.

Every task has its own copy of the policy parameters (``{name: [T, ...]}``), its own environments
and its own Adam state; rollouts, losses and updates run for all tasks at once. The per-task losses
are summed before one backward pass: tasks share no parameters, so each receives exactly its own
gradient. Everything that could couple tasks is computed per task: advantage normalisation,
gradient-norm clipping, the KL early stop and Adam's step count. Minibatches use one shuffle per
epoch shared by all tasks (each task's samples are still visited in a uniformly random order),
or one per block of :class:`~metarl.envs.task_streams.TaskBlocks` (independent adaptations in one
batch).

The names follow CleanRL's ``ppo.py`` (``pg_loss``, ``v_loss``, ``clip_coef``, ``approx_kl``, ``b_``
and ``mb_`` prefixes); the early stop follows stable-baselines3 (a task stops updating for the rest
of the iteration once its minibatch ``approx_kl`` exceeds ``1.5 * target_kl``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, NamedTuple

import gymnasium as gym
import torch

from metarl.agents.actor_critic import ActorCritic
from metarl.agents.batched_adam import BatchedAdam
from metarl.agents.gae import compute_gae
from metarl.agents.param_tree import Params, stack
from metarl.agents.rollout import Rollout, by_step, by_task, collect
from metarl.envs import EnvFamily, TaskParams, make_batch_env
from metarl.envs.task_streams import AnyGenerator, shuffle

STAT_NAMES = ("pg_loss", "v_loss", "entropy", "bound_loss", "approx_kl", "clip_frac", "grad_norm",
              "updates")


def anneal_fraction(update: int, updates: int) -> float:
    """The share of the learning rate and clip that update ``update`` (from 0) of ``updates``
    keeps under ``anneal_lr`` / ``anneal_clip``: ``1 - update / updates``, never below 0."""
    return max(0.0, 1.0 - update / max(updates, 1))


@dataclass(frozen=True)
class PPOConfig:
    """PPO settings, shared by every task of a batch.

    :param num_envs: environments per task.
    :param num_steps: steps per environment per iteration (rollout length ``H``).
    :param reset_every_iteration: start every iteration's rollout from fresh episodes (episodic
        adaptation, as in MAML's protocol) instead of continuing the previous episodes.
    :param learning_rate: Adam's learning rate.
    :param log_std_learning_rate: Adam's learning rate for a Gaussian policy's log-std
        (``None``: ``learning_rate``). Larger lets a few updates narrow the exploration noise
        once the mean has found the task; annealed with ``learning_rate``.
    :param anneal_lr: decay the learning rate linearly to 0 over the iterations of ``adapt``.
    :param num_epochs: passes over each rollout.
    :param num_minibatches: minibatches per epoch.
    :param gamma: discount factor.
    :param gae_lambda: GAE's lambda.
    :param clip_coef: PPO's ratio clipping range.
    :param anneal_clip: decay ``clip_coef`` linearly to 0 over the iterations (as rl-zoo's lin_).
    :param clip_schedule: the clip of each update of an adaptation, in order, the last one
        repeated for any later update (empty: ``clip_coef``, annealed under ``anneal_clip``).
        For instance ``(20.0, 2.5)``: a loose first update, then tight ones.
    :param clip_vloss: clip the value update around the old values (CleanRL's option).
    :param ent_coef: entropy bonus coefficient.
    :param vf_coef: value loss coefficient.
    :param bound_coef: coefficient of a penalty on Gaussian means outside a Box action space's
        bounds (0: none): the square of how far each mean lies beyond its bound, in units of half
        the bounds' width, summed over the action dimensions. The environment clips actions, so
        nothing else stops a saturated mean from drifting far past its bound, where it takes
        many updates to bring back (rl_games' ``bounds_loss_coef``).
    :param max_grad_norm: per-task gradient norm clip (``None``: no clipping).
    :param target_kl: per-task early stop threshold (``None``: none).
    :param norm_adv: normalise advantages per task and minibatch.
    :param adam_eps: Adam's epsilon.
    :param inner: the implementation meta-training and evaluation adapt with: ``"batched"``
        (this module, all tasks at once) or ``"sb3"`` (stable-baselines3 PPO, task by task,
        through the family's Gymnasium id; :mod:`metarl.rl.sb3.learner`).
    """

    num_envs: int = 20
    num_steps: int = 100
    reset_every_iteration: bool = True
    learning_rate: float = 3e-4
    log_std_learning_rate: float | None = None
    anneal_lr: bool = False
    num_epochs: int = 10
    num_minibatches: int = 4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_coef: float = 0.2
    anneal_clip: bool = False
    clip_schedule: tuple[float, ...] = ()
    clip_vloss: bool = False
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    bound_coef: float = 0.0
    max_grad_norm: float | None = 0.5
    target_kl: float | None = None
    norm_adv: bool = True
    adam_eps: float = 1e-5
    inner: str = "batched"

    def __post_init__(self) -> None:
        if self.inner not in ("batched", "sb3"):
            raise ValueError(f"ppo.inner={self.inner!r} must be batched or sb3")
        positive_int = ("num_envs", "num_steps", "num_epochs", "num_minibatches")
        for name in positive_int:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"ppo.{name}={value!r} must be a positive integer")
        unit = ("gamma", "gae_lambda")
        for name in unit:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"ppo.{name}={value!r} must be in [0, 1]")
        for name in ("learning_rate", "clip_coef", "adam_eps"):
            if not getattr(self, name) > 0:
                raise ValueError(f"ppo.{name}={getattr(self, name)!r} must be > 0")
        for name in ("ent_coef", "vf_coef", "bound_coef"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"ppo.{name}={getattr(self, name)!r} must be >= 0")
        for name in ("max_grad_norm", "target_kl", "log_std_learning_rate"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"ppo.{name}={value!r} must be > 0 or None")
        if self.inner == "sb3" and self.bound_coef > 0:
            raise ValueError(f"ppo.bound_coef={self.bound_coef!r} needs ppo.inner = \"batched\": "
                             "stable-baselines3 PPO has no bound penalty")
        if not all(clip > 0 for clip in self.clip_schedule):
            raise ValueError(f"ppo.clip_schedule={list(self.clip_schedule)!r} must hold "
                             "numbers > 0")
        if self.clip_schedule and self.anneal_clip:
            raise ValueError("ppo.clip_schedule and ppo.anneal_clip=true exclude each other: "
                             "the schedule gives every update's clip")
        if self.num_minibatches > self.num_envs * self.num_steps:
            raise ValueError(
                f"ppo.num_minibatches={self.num_minibatches} exceeds the "
                f"{self.num_envs * self.num_steps} samples per task of one iteration"
            )

    def clip_at(self, update: int, updates: int) -> float:
        """The clip of update ``update`` (from 0) of an ``updates``-update run: the schedule's
        entry, else ``clip_coef`` (times :func:`anneal_fraction` under ``anneal_clip``)."""
        if self.clip_schedule:
            return self.clip_schedule[min(update, len(self.clip_schedule) - 1)]
        return self.clip_coef * (anneal_fraction(update, updates) if self.anneal_clip else 1.0)

    def replace(self, **changes: Any) -> PPOConfig:
        """A copy with some settings changed (validated)."""
        return dataclasses.replace(self, **changes)


class Batch(NamedTuple):
    """One iteration's training data per task; every tensor leads with ``[T, N]`` (N = H x E)."""

    obs: torch.Tensor
    actions: torch.Tensor
    log_probs: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor
    values: torch.Tensor


class LossParts(NamedTuple):
    """PPO's loss on one minibatch and its parts, per task (every field ``[T]``)."""

    loss: torch.Tensor
    pg_loss: torch.Tensor
    v_loss: torch.Tensor
    entropy: torch.Tensor
    bound_loss: torch.Tensor
    approx_kl: torch.Tensor
    clip_frac: torch.Tensor


class AdaptResult(NamedTuple):
    """What :meth:`PPO.adapt` returns.

    :param params: adapted stacked parameters ``{name: [T, ...]}`` (detached).
    :param returns: mean return of the episodes completed in each rollout, ``[R, T]``; row ``k``
        was collected by the policy after ``k`` updates (``R = iterations``, plus one with
        ``evaluate_final``). NaN where a task completed no episode.
    :param episodes: episodes completed in each rollout, ``[R, T]``.
    :param first_returns: mean return of each environment's first episode in each rollout,
        ``[R, T]`` (:attr:`~metarl.agents.rollout.Rollout.mean_first_return`).
    :param env_steps: env steps per task collected by each rollout (``num_envs * num_steps``).
    :param stats: per-iteration update statistics, ``{name: [iterations, T]}`` for the names in
        ``STAT_NAMES`` (means over the minibatch steps a task took; ``updates`` counts them).
    """

    params: Params
    returns: torch.Tensor
    episodes: torch.Tensor
    env_steps: int
    stats: dict[str, torch.Tensor]
    first_returns: torch.Tensor


class PPO:
    """Batched PPO inner learner for one environment family.

    :param family: the environment family.
    :param policy: the actor-critic.
    :param config: PPO settings.
    """

    def __init__(self, family: EnvFamily[Any], policy: ActorCritic, config: PPOConfig) -> None:
        self.family = family
        self.policy = policy
        self.config = config
        self._bounds = action_bounds(family.action_space) if config.bound_coef > 0 else None

    def adapt(
        self,
        init: Params,
        tasks: TaskParams,
        iterations: int,
        generator: AnyGenerator = None,
        evaluate_final: bool = False,
        schedule_iterations: int | None = None,
    ) -> AdaptResult:
        """Adapt one policy per task for ``iterations`` PPO iterations, all tasks at once.

        :param init: a theta (shared start for every task) or stacked ``[T, ...]`` parameters.
        :param tasks: ``T`` tasks.
        :param iterations: PPO iterations (rollout + update) per task.
        :param generator: random generator on the tasks' device (actions, start states, shuffles),
            a :class:`~metarl.envs.task_streams.TaskShard` when ``tasks`` are a slice of a
            meta-batch split over processes, or :class:`~metarl.envs.task_streams.TaskBlocks`
            when they are independent adaptations stacked in one batch.
        :param evaluate_final: collect one more rollout after the last update, so that the
            returns cover the policy after 0..iterations updates.
        :param schedule_iterations: the number of iterations the ``anneal_lr`` and ``anneal_clip``
            schedules span (default ``iterations``): with ``K``, the first ``iterations`` updates
            of a ``K``-update adaptation, rollouts and updates alike (``clip_schedule`` is
            indexed by the update alone).
        """
        cfg = self.config
        if not isinstance(iterations, int) or iterations < 0:
            raise ValueError(f"iterations={iterations!r} must be a non-negative integer")
        if schedule_iterations is not None and schedule_iterations < iterations:
            raise ValueError(f"schedule_iterations={schedule_iterations!r} must be at least "
                             f"iterations={iterations}")
        num_tasks = tasks.num_tasks
        stacked = init if _is_stacked(init, self.policy, num_tasks) else stack(init, num_tasks)
        params = {k: v.detach().to(device=tasks.device, dtype=tasks.dtype).clone().requires_grad_()
                  for k, v in stacked.items()}
        env = make_batch_env(self.family, tasks, cfg.num_envs, generator)
        obs = env.reset()
        optimizer = BatchedAdam(params, cfg.learning_rate, eps=cfg.adam_eps,
                                lr_scale=self.lr_scale())
        returns, episodes, first_returns = [], [], []
        stats: dict[str, list[torch.Tensor]] = {name: [] for name in STAT_NAMES}
        for k in range(iterations + int(evaluate_final)):
            if k > 0 and cfg.reset_every_iteration:
                obs = env.reset()
            rollout, obs = collect(self.policy, params, env, obs, cfg.num_steps, generator)
            returns.append(rollout.mean_return)
            episodes.append(rollout.episodes)
            first_returns.append(rollout.mean_first_return)
            if k == iterations:
                break
            frac = anneal_fraction(k, schedule_iterations or iterations)
            optimizer.lr = cfg.learning_rate * (frac if cfg.anneal_lr else 1.0)
            clip = cfg.clip_at(k, schedule_iterations or iterations)
            batch = self.make_batch(params, rollout)
            for name, value in self.update(params, optimizer, batch, generator, clip).items():
                stats[name].append(value)
        empty = torch.empty(0, num_tasks, device=tasks.device)
        return AdaptResult(
            params={k: v.detach() for k, v in params.items()},
            returns=torch.stack(returns) if returns else empty,
            episodes=torch.stack(episodes) if episodes else empty.long(),
            env_steps=cfg.num_envs * cfg.num_steps,
            stats={n: torch.stack(v) if v else empty for n, v in stats.items()},
            first_returns=torch.stack(first_returns) if first_returns else empty,
        )

    def lr_scale(self) -> dict[str, float]:
        """Per-parameter learning-rate factors of the inner Adam (the log-std's, when set)."""
        rate = self.config.log_std_learning_rate
        if rate is None or "log_std" not in self.policy.shapes():
            return {}
        return {"log_std": rate / self.config.learning_rate}

    @torch.no_grad()
    def make_batch(self, params: Params, rollout: Rollout) -> Batch:
        """Values, GAE advantages and returns of a rollout, flattened to ``[T, H * E, ...]``."""
        cfg = self.config
        horizon, _, num_envs = rollout.rewards.shape

        def unflat(x: torch.Tensor) -> torch.Tensor:
            return by_step(x, horizon, num_envs)

        flat = by_task
        b_obs = flat(rollout.obs)
        values = unflat(self.policy.value(params, b_obs))
        next_values = unflat(self.policy.value(params, flat(rollout.final_obs)))
        advantages, returns = compute_gae(rollout.rewards, values, next_values,
                                          rollout.terminated, rollout.truncated,
                                          cfg.gamma, cfg.gae_lambda)
        return Batch(b_obs, flat(rollout.actions), flat(rollout.log_probs), flat(advantages),
                     flat(returns), flat(values))

    def update(self, params: Params, optimizer: BatchedAdam, batch: Batch,
               generator: AnyGenerator, clip_coef: float | None = None
               ) -> dict[str, torch.Tensor]:
        """PPO epochs over one batch, every task at once; returns per-task means ``{name: [T]}``.

        :param params: stacked parameters (leaves requiring grad), updated in place.
        :param optimizer: the tasks' Adam state.
        :param batch: the iteration's data.
        :param generator: random generator for the shared minibatch shuffles.
        :param clip_coef: ratio clipping range (default: the config's).
        """
        cfg = self.config
        clip = cfg.clip_coef if clip_coef is None else clip_coef
        num_tasks, n = batch.advantages.shape
        device = batch.advantages.device
        active = torch.ones(num_tasks, dtype=torch.bool, device=device)
        sums = {name: torch.zeros(num_tasks, device=device) for name in STAT_NAMES}
        leaves = list(params.values())
        for _ in range(cfg.num_epochs):
            perm = shuffle(generator, n, num_tasks, device)
            for mb_inds in torch.tensor_split(perm, cfg.num_minibatches, dim=-1):
                mb = Batch(*(take(x, mb_inds) for x in batch))
                parts = self.loss(params, mb, clip)
                if cfg.target_kl is not None:  # approx_kl carries no graph
                    active &= parts.approx_kl <= 1.5 * cfg.target_kl
                grads = torch.autograd.grad(parts.loss.sum(), leaves)
                grad_norm = optimizer.step(
                    dict(zip(params, grads, strict=True)), cfg.max_grad_norm,
                    active if cfg.target_kl is not None else None,
                )
                took = active.to(sums["updates"].dtype)
                for name, value in (*zip(LossParts._fields[1:], parts[1:], strict=True),
                                    ("grad_norm", grad_norm)):
                    sums[name] += value.detach() * took
                sums["updates"] += took
        count = sums["updates"].clamp(min=1)
        return {n: (v if n == "updates" else v / count) for n, v in sums.items()}

    def loss(self, params: Params, mb: Batch, clip_coef: float | None = None) -> LossParts:
        """PPO's loss per task on one minibatch, with its parts (all ``[T]``).

        Clipped surrogate on (optionally per-task normalised) advantages, value loss (optionally
        clipped around the old values by the unannealed ``clip_coef``), entropy bonus and bound
        penalty: ``loss = pg_loss - ent_coef * entropy + vf_coef * v_loss + bound_coef *
        bound_loss``.

        :param params: stacked parameters.
        :param mb: the minibatch, ``[T, M, ...]``.
        :param clip_coef: ratio clipping range (default: the config's).
        """
        cfg = self.config
        clip = cfg.clip_coef if clip_coef is None else clip_coef
        new_log_prob, entropy, new_value, out = self.policy.evaluate(params, mb.obs, mb.actions)
        log_ratio = new_log_prob - mb.log_probs
        ratio = log_ratio.exp()
        with torch.no_grad():
            approx_kl = ((ratio - 1) - log_ratio).mean(dim=1)
            clip_frac = ((ratio - 1.0).abs() > clip).float().mean(dim=1)

        mb_advantages = mb.advantages
        if cfg.norm_adv and mb_advantages.shape[1] > 1:
            mb_advantages = (mb_advantages - mb_advantages.mean(dim=1, keepdim=True)) / (
                mb_advantages.std(dim=1, keepdim=True) + 1e-8
            )
        pg_loss1 = -mb_advantages * ratio
        pg_loss2 = -mb_advantages * torch.clamp(ratio, 1 - clip, 1 + clip)
        pg_loss = torch.max(pg_loss1, pg_loss2).mean(dim=1)

        if cfg.clip_vloss:
            v_loss_unclipped = (new_value - mb.returns).square()
            v_clipped = mb.values + torch.clamp(new_value - mb.values, -cfg.clip_coef,
                                                cfg.clip_coef)
            v_loss_clipped = (v_clipped - mb.returns).square()
            v_loss = 0.5 * torch.max(v_loss_unclipped, v_loss_clipped).mean(dim=1)
        else:
            v_loss = 0.5 * (new_value - mb.returns).square().mean(dim=1)
        entropy_loss = entropy.mean(dim=1)
        loss = pg_loss - cfg.ent_coef * entropy_loss + cfg.vf_coef * v_loss
        if self._bounds is None:
            bound_loss = torch.zeros_like(loss)
        else:
            centre, half_width = self._bounds
            if centre.device != out.device or centre.dtype != out.dtype:
                # moved to the device once, not copied from the host for every minibatch
                self._bounds = centre, half_width = centre.to(out), half_width.to(out)
            excess = ((out - centre).abs() / half_width - 1.0).clamp(min=0.0)
            bound_loss = excess.square().sum(dim=-1).mean(dim=1)
            loss = loss + cfg.bound_coef * bound_loss
        return LossParts(loss, pg_loss, v_loss, entropy_loss, bound_loss, approx_kl, clip_frac)


def take(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Samples ``index`` of every task of ``x`` ``[T, N, ...]``: ``index`` is ``[M]`` (the same
    samples for every task) or ``[T, M]`` (each task's own)."""
    if index.dim() == 1:
        return x[:, index]
    return x.gather(1, index.view(*index.shape, *(1,) * (x.dim() - 2)).expand(
        *index.shape, *x.shape[2:]))


def action_bounds(space: gym.Space[Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """The centre and half-width ``[A]`` of a Box action space with finite bounds (for
    ``bound_coef``); a ValueError for any other space."""
    if (not isinstance(space, gym.spaces.Box) or not space.is_bounded("both")
            or not (space.high > space.low).all()):
        raise ValueError(f"ppo.bound_coef > 0 needs a Box action space with finite bounds, "
                         f"high > low, not {space}")
    low = torch.as_tensor(space.low, dtype=torch.float64)
    high = torch.as_tensor(space.high, dtype=torch.float64)
    return ((high + low) / 2).float(), ((high - low) / 2).float()


def _is_stacked(params: Params, policy: ActorCritic, num_tasks: int) -> bool:
    """Whether ``params`` carry a task dimension (compared with a theta's shapes)."""
    shapes = policy.shapes()
    if set(params) != set(shapes):
        raise ValueError(f"parameters {sorted(params)} do not match the policy's {sorted(shapes)}")
    stacked = [tuple(v.shape) == (num_tasks, *shapes[k]) for k, v in params.items()]
    for (k, v), is_stacked in zip(params.items(), stacked, strict=True):
        if not is_stacked and tuple(v.shape) != shapes[k]:
            raise ValueError(
                f"parameter {k} has shape {tuple(v.shape)}; expected {shapes[k]} (a theta) or "
                f"{(num_tasks, *shapes[k])} (stacked for {num_tasks} tasks)"
            )
    if any(stacked) and not all(stacked):
        raise ValueError("parameters mix stacked and unstacked tensors")
    return all(stacked)
