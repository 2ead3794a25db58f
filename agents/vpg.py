"""Vanilla policy gradient, batched over tasks: MAML's inner learner (Finn et al. 2017).

MAML for RL adapts a policy with one or a few plain gradient steps on the REINFORCE loss,
``phi = theta - alpha * grad L(theta)``, and differentiates through them.
The definitions follow MAML's released code (cbfinn/maml_rl, on rllab's ``VPG`` and
``LinearFeatureBaseline``):

* a task's loss is ``L = -mean_t log pi(a_t | s_t) A_t`` over every step of its rollout (rllab's
  VPG takes the mean over steps; pytorch-maml-rl averages each episode first);
* ``A_t`` is GAE(gamma, lambda) over a linear feature baseline (lambda = 1, MAML's: the
  discounted return to go minus the baseline), normalised per task to zero mean and unit
  standard deviation (rllab's ``center_adv``);
* the baseline is rllab's ``LinearFeatureBaseline``, fitted per task by ridge regression
  (coefficient 1e-5, ten times more while the fit is not finite, up to 1e-1) on the discounted
  returns to go of the same rollout, with features ``[o, o^2, t/100, (t/100)^2, (t/100)^3, 1]``:
  ``o`` the observation clipped to [-10, 10], ``t`` the step within the episode;
* an episode's end is final for the advantage, time limit included (the value after it is 0), as
  in rllab's sampler, whose baseline's time features account for the limit; a rollout that cuts
  an episode short bootstraps from the baseline;
* the step is plain gradient descent with learning rate ``alpha`` (MAML's fast-lr) on the
  policy's parameters; the critic is not used and does not change.

Rollouts are ``T`` tasks x ``E`` environments x ``H`` steps with auto-reset, as PPO's: an
environment whose episode ends early starts another, and every step counts (rllab's batch sampler
also collects paths until its step budget is spent).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

from metarl.agents.actor_critic import ActorCritic
from metarl.agents.gae import compute_gae
from metarl.agents.param_tree import Params, stack
from metarl.agents.rollout import Rollout, by_step, by_task, collect
from metarl.envs import BatchEnv, EnvFamily, TaskParams, make_batch_env
from metarl.envs.task_streams import AnyGenerator

RIDGE = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)  # rllab's regularisation, tried in turn until finite


@dataclass(frozen=True)
class VPGConfig:
    """Vanilla policy gradient settings (MAML's inner learner; defaults of MAML's 2D navigation).

    :param learning_rate: the step size ``alpha`` (MAML's fast-lr).
    :param num_envs: environments per task (with episodes of the rollout's length, the episodes
        per update: MAML's fast batch size).
    :param num_steps: steps per environment per update (an episode's length).
    :param gamma: discount factor.
    :param gae_lambda: GAE's lambda (MAML's tau).
    :param step_sizes: the step size of each step of an adaptation, in order, the last one
        repeated (empty: ``learning_rate`` for every step; when given, ``learning_rate`` is not
        used). MAML's point-robot test took 0.5, then 0.25 (cbfinn/maml_rl
        ``test_maml_point.py``).
    """

    learning_rate: float = 0.1
    num_envs: int = 20
    num_steps: int = 100
    gamma: float = 0.99
    gae_lambda: float = 1.0
    step_sizes: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        for name in ("num_envs", "num_steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"vpg.{name}={value!r} must be a positive integer")
        if not self.learning_rate > 0:
            raise ValueError(f"vpg.learning_rate={self.learning_rate!r} must be > 0")
        for name in ("gamma", "gae_lambda"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"vpg.{name}={value!r} must be in [0, 1]")
        if not all(size > 0 for size in self.step_sizes):
            raise ValueError(f"vpg.step_sizes={list(self.step_sizes)!r} must hold positive "
                             "numbers")

    def step_size(self, step: int) -> float:
        """The step size of step ``step`` (0-based) of an adaptation."""
        if self.step_sizes:
            return self.step_sizes[min(step, len(self.step_sizes) - 1)]
        return self.learning_rate

    def replace(self, **changes: Any) -> VPGConfig:
        """A copy with some settings changed (validated)."""
        return dataclasses.replace(self, **changes)


class VPGBatch(NamedTuple):
    """One rollout's data per task; every tensor leads with ``[T, N]`` (N = H x E).

    :param obs: observations acted on.
    :param actions: actions taken.
    :param advantages: normalised advantages (no graph).
    """

    obs: torch.Tensor
    actions: torch.Tensor
    advantages: torch.Tensor


class VPGResult(NamedTuple):
    """What :meth:`VPG.adapt` returns.

    :param params: adapted stacked parameters ``{name: [T, ...]}`` (detached).
    :param returns: mean return of the episodes completed in each rollout, ``[R, T]``; row ``k``
        was collected by the policy after ``k`` updates.
    :param env_steps: env steps per task of each rollout.
    :param first_returns: mean return of each environment's first episode in each rollout,
        ``[R, T]``.
    """

    params: Params
    returns: torch.Tensor
    env_steps: int
    first_returns: torch.Tensor


def episode_steps(terminated: torch.Tensor, truncated: torch.Tensor) -> torch.Tensor:
    """``[H, T, E]`` (int64): each step's index within its episode, for a rollout whose first
    step starts an episode."""
    done = terminated | truncated
    steps = torch.zeros(done.shape, dtype=torch.int64, device=done.device)
    for t in range(1, done.shape[0]):
        steps[t] = (steps[t - 1] + 1) * (~done[t - 1])
    return steps


def baseline_features(obs: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
    """rllab's ``LinearFeatureBaseline`` features ``[..., 2 D + 4]`` of observations ``[..., D]``
    at episode steps ``[...]``: ``[o, o^2, t/100, (t/100)^2, (t/100)^3, 1]``, ``o`` clipped to
    [-10, 10]."""
    o = obs.clamp(-10.0, 10.0)
    al = (steps.to(obs.dtype) / 100.0).unsqueeze(-1)
    return torch.cat([o, o.square(), al, al.square(), al.pow(3), torch.ones_like(al)], dim=-1)


def fit_linear_baseline(features: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Ridge-regression weights ``[T, F]`` of ``targets [T, N]`` on ``features [T, N, F]``, per
    task, in float64; each task takes the first coefficient of :data:`RIDGE` whose fit is finite
    (all are computed, so that no value is read back to the host)."""
    x, y = features.double(), targets.double()
    gram = x.transpose(1, 2) @ x
    rhs = (x.transpose(1, 2) @ y.unsqueeze(-1)).squeeze(-1)
    eye = torch.eye(x.shape[-1], dtype=x.dtype, device=x.device)
    weights = torch.stack([torch.linalg.solve(gram + reg * eye, rhs) for reg in RIDGE])
    finite = torch.isfinite(weights).all(dim=-1)  # [R, T]
    first = torch.where(finite.any(dim=0), finite.int().argmax(dim=0), len(RIDGE) - 1)
    chosen = weights.gather(0, first.view(1, -1, 1).expand(1, *weights.shape[1:])).squeeze(0)
    return chosen.to(features.dtype)


@torch.no_grad()
def make_vpg_batch(rollout: Rollout, gamma: float, gae_lambda: float) -> VPGBatch:
    """A rollout's observations, actions and normalised advantages over a linear feature
    baseline fitted to it, per task, flattened to ``[T, H * E, ...]`` (see the module
    docstring)."""
    horizon, _, num_envs = rollout.rewards.shape

    def unflat(x: torch.Tensor) -> torch.Tensor:
        return by_step(x, horizon, num_envs)

    flat = by_task
    done = rollout.terminated | rollout.truncated
    never = torch.zeros_like(done)
    zeros = torch.zeros_like(rollout.rewards)
    returns, _ = compute_gae(rollout.rewards, zeros, zeros, done, never, gamma, 1.0)
    steps = episode_steps(rollout.terminated, rollout.truncated)
    features = flat(baseline_features(rollout.obs, steps))
    weights = fit_linear_baseline(features, flat(returns))
    values = unflat((features @ weights.unsqueeze(-1)).squeeze(-1))
    next_features = flat(baseline_features(rollout.final_obs, steps + 1))
    next_values = unflat((next_features @ weights.unsqueeze(-1)).squeeze(-1))
    advantages, _ = compute_gae(rollout.rewards, values, next_values, done, never, gamma,
                                gae_lambda)
    adv = flat(advantages)
    adv = (adv - adv.mean(dim=1, keepdim=True)) / (adv.std(dim=1, keepdim=True) + 1e-8)
    return VPGBatch(flat(rollout.obs), flat(rollout.actions), adv)


def policy_names(params: Params) -> list[str]:
    """The names of the parameters the policy uses (all but the critic's)."""
    return [k for k in params if not k.startswith("critic.")]


def vpg_loss(policy: ActorCritic, params: Params, batch: VPGBatch) -> torch.Tensor:
    """The REINFORCE loss ``-mean_t log pi(a_t | s_t) A_t`` of every task, ``[T]``."""
    log_prob, _ = policy.log_prob(params, batch.obs, batch.actions)
    return -(log_prob * batch.advantages).mean(dim=1)


def vpg_step(policy: ActorCritic, params: Params, batch: VPGBatch, learning_rate: float
             ) -> Params:
    """``phi = params - learning_rate * grad L(params)`` for every task at once.

    The gradient is ``torch.func.grad``'s, so the step composes with every transform and with
    autograd: differentiating ``phi`` with respect to ``params`` (by ``torch.autograd``,
    ``torch.func.vjp`` or ``torch.func.jvp``) goes through the step, second derivatives
    included, and a caller that does not differentiate pays for none.

    :param params: stacked parameters ``{name: [T, ...]}``.
    :returns: the stepped parameters (the critic's unchanged).
    """
    names = policy_names(params)

    def loss(sub: Params) -> torch.Tensor:  # tasks share no parameters: sum their losses
        return vpg_loss(policy, {**params, **sub}, batch).sum()

    grads = torch.func.grad(loss)({k: params[k] for k in names})
    return {k: v - learning_rate * grads[k] if k in grads else v for k, v in params.items()}


class VPG:
    """Batched vanilla policy gradient for one environment family.

    :param family: the environment family.
    :param policy: the actor-critic (its critic is not used).
    :param config: VPG settings.
    """

    def __init__(self, family: EnvFamily[Any], policy: ActorCritic, config: VPGConfig) -> None:
        self.family, self.policy, self.config = family, policy, config

    def rollout(self, params: Params, env: BatchEnv, generator: AnyGenerator) -> Rollout:
        """``num_steps`` steps of fresh episodes in every environment of ``env``."""
        rollout, _ = collect(self.policy, params, env, env.reset(), self.config.num_steps,
                             generator)
        return rollout

    def batch(self, rollout: Rollout) -> VPGBatch:
        """The rollout's training data (advantages over a fitted linear baseline)."""
        return make_vpg_batch(rollout, self.config.gamma, self.config.gae_lambda)

    def env(self, tasks: TaskParams, generator: AnyGenerator) -> BatchEnv:
        """``num_envs`` environments per task."""
        return make_batch_env(self.family, tasks, self.config.num_envs, generator)

    def adapt(self, theta: Params, tasks: TaskParams, iterations: int,
              generator: AnyGenerator = None, evaluate_final: bool = False) -> VPGResult:
        """``iterations`` VPG steps on every task from ``theta`` (first order: nothing is
        differentiated through), each on a rollout of fresh episodes.

        :param evaluate_final: collect one more rollout after the last step, so that the returns
            cover the policy after 0..iterations steps.
        """
        if not isinstance(iterations, int) or iterations < 0:
            raise ValueError(f"iterations={iterations!r} must be a non-negative integer")
        params = {k: v.detach().to(device=tasks.device, dtype=tasks.dtype)
                  for k, v in stack(theta, tasks.num_tasks).items()}
        env = self.env(tasks, generator)
        returns, first_returns = [], []
        for k in range(iterations + int(evaluate_final)):
            rollout = self.rollout(params, env, generator)
            returns.append(rollout.mean_return)
            first_returns.append(rollout.mean_first_return)
            if k == iterations:
                break
            with torch.no_grad():
                params = vpg_step(self.policy, params, self.batch(rollout),
                                  self.config.step_size(k))
        empty = torch.empty(0, tasks.num_tasks, device=tasks.device)
        return VPGResult({k: v.detach() for k, v in params.items()},
                         torch.stack(returns) if returns else empty,
                         self.config.num_envs * self.config.num_steps,
                         torch.stack(first_returns) if first_returns else empty)
