"""Batched PPO behind the inner-learner interface: the reinforcement-learning side of metarl.

Adapts with :meth:`metarl.agents.ppo.PPO.adapt`, scores by mean episode return (higher is better)
and records returns and PPO statistics per outer step (:class:`MetaRecord`). First-order MAML's
query gradient is the PPO loss's gradient at the adapted parameters on one more rollout of each
adapted policy: on data collected by the same parameters the ratio is 1, so its policy term is
the vanilla policy gradient with advantages.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch

from metarl.agents.param_tree import Params, stack
from metarl.agents.ppo import PPO, AdaptResult
from metarl.agents.rollout import collect
from metarl.agents.vpg import VPG
from metarl.envs import TaskParams, make_batch_env
from metarl.envs.task_streams import AnyGenerator, TaskBlocks
from metarl.meta.groups import names_in_groups
from metarl.meta.learner import Adaptation, QueryGradients, update_norm
from metarl.rl.maml import RLMamlObjective, vpg_curve


class MetaRecord(NamedTuple):
    """One outer step's record (plain Python numbers, for CSV files and progress bars).

    :param iteration: outer steps done.
    :param env_steps: env steps collected for training so far (validation excluded).
    :param step_size: the outer step size (or learning rate) used by this step.
    :param train_return_first: mean return of the meta-batch's first rollout (theta itself).
    :param train_return_last: mean return of the step's last rollout: the policy after
        ``inner_iterations - 1`` updates (the fully adapted one collects none; equal to
        ``train_return_first`` with one inner iteration), first-order MAML's query rollout.
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

    unit = "steps"  # what the sample count counts (a class attribute, not a field)

    def progress(self) -> tuple[int, float, float]:
        """Env steps, the last training return and the validation return."""
        return self.env_steps, self.train_return_last, self.val_return

    @classmethod
    def start(cls, val: float) -> MetaRecord:
        """The record of iteration 0: no env steps yet, and the validation return ``val``."""
        nan = math.nan
        return cls(0, 0, nan, nan, nan, val, nan, nan, nan, nan, nan)


def adaptation_returns(ppo: PPO, theta: Params, tasks: TaskParams, updates: int, seed: int
                       ) -> torch.Tensor:
    """``[updates + 1, T]`` (on the tasks' device): mean return of the episodes each task's policy
    completes after k = 0..updates PPO updates from ``theta``, with a generator seeded by
    ``seed`` (measuring never changes a training run). A task whose rollout completes no episode
    (``num_steps`` shorter than an episode) scores NaN; the evaluation refuses such settings
    (:func:`~metarl.rl.components.check_evaluation`)."""
    return adaptation_curves(ppo, [(theta, seed)], tasks, updates)[0]


def adaptation_curves(ppo: PPO, starts: Sequence[tuple[Params, int]], tasks: TaskParams,
                      updates: int, max_tasks: int = 0) -> torch.Tensor:
    """:func:`adaptation_returns` of several ``(theta, seed)`` starts on the same tasks, as
    independent adaptations in one batch: ``[len(starts), updates + 1, T]``.

    Each start is a block of :class:`~metarl.envs.task_streams.TaskBlocks` with its own
    generator seeded ``seed``, so its curve is the one it has when adapted alone, up to float
    rounding, whatever shares its batch.

    :param max_tasks: adapt at most this many tasks at once (whole starts, at least one; 0: all
        of them together).
    """
    num_tasks = tasks.num_tasks
    per_call = max(1, max_tasks // num_tasks) if max_tasks else len(starts)
    curves = []
    for first in range(0, len(starts), per_call):
        chunk = starts[first:first + per_call]
        blocks = TaskBlocks.seeded([seed for _, seed in chunk], num_tasks, tasks.device)
        stacked = [stack(theta, num_tasks) for theta, _ in chunk]
        init = {name: torch.cat([s[name] for s in stacked]) for name in stacked[0]}
        batch = type(tasks).cat([tasks] * len(chunk)) if len(chunk) > 1 else tasks
        returns = ppo.adapt(init, batch, updates, blocks, evaluate_final=True).returns
        curves.append(returns.view(updates + 1, len(chunk), num_tasks).transpose(0, 1))
    return torch.cat(curves)


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

    return MetaRecord(
        iteration, env_steps, step_size,
        first_return.nanmean().item(), last_return.nanmean().item(), val_return,
        mean("approx_kl"), mean("clip_frac"), mean("entropy"),
        theta["log_std"].mean().item() if "log_std" in theta else math.nan,
        update_norm(theta, before),
    )


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
    env = make_batch_env(ppo.family, tasks, cfg.num_envs, generator)
    rollout, _ = collect(ppo.policy, params, env, env.reset(), cfg.num_steps, generator)
    loss = ppo.loss(params, ppo.make_batch(params, rollout)).loss
    grads = torch.autograd.grad(loss.sum(), list(params.values()))
    return PostAdaptation(dict(zip(params, grads, strict=True)), rollout.mean_return)


class PPOLearner:
    """:class:`~metarl.meta.learner.QueryLearner` over batched PPO on ``ppo``'s family, and a
    :class:`~metarl.meta.learner.MamlLearner` when given MAML's VPG inner learner.

    :param ppo: the batched PPO (Reptile's and first-order MAML's inner learner).
    :param vpg: second-order MAML's inner learner (``None``: no MAML); when given, validation
        during training adapts by it, MAML's own rule as meta-training takes it (``[vpg]``; the
        evaluation's choice of MAML's checkpoint also applies ``[eval.vpg]``).
    """

    record_type = MetaRecord

    def __init__(self, ppo: PPO, vpg: VPG | None = None) -> None:
        self.ppo, self.vpg = ppo, vpg

    def sample_tasks(self, n: int, generator: torch.Generator | None = None,
                     split: str = "train", device: torch.device | str = "cpu") -> TaskParams:
        """``n`` tasks of the family's ``split``."""
        return self.ppo.family.tasks.sample(n, generator, split=split,  # type: ignore[arg-type]
                                            device=device)

    def meta_names(self, theta: Params, groups: tuple[str, ...]) -> list[str]:
        """Actor-critic parameters in ``groups`` (``body``, ``head``, ``log_std``, ``value``)."""
        return names_in_groups(theta, groups, len(self.ppo.policy.hidden))

    def adapt(self, theta: Params, tasks: TaskParams, steps: int,
              generator: torch.Generator) -> Adaptation:
        """``steps`` PPO iterations on every task; ``details`` is the :class:`AdaptResult`."""
        out = self.ppo.adapt(theta, tasks, steps, generator)
        return Adaptation(out.params, tasks.num_tasks * steps * out.env_steps, out)

    def query_gradients(self, adapted: Adaptation, tasks: TaskParams,
                        generator: torch.Generator) -> QueryGradients:
        """PPO-loss gradients on one more rollout of each adapted policy."""
        post = post_adaptation_gradients(self.ppo, adapted.params, tasks, generator)
        result: AdaptResult = adapted.details
        return QueryGradients(post.grads, tasks.num_tasks * result.env_steps, post)

    def maml_objective(self, theta: Params, tasks: TaskParams, steps: int,
                       generator: torch.Generator) -> RLMamlObjective:
        """MAML's objective on ``tasks``: ``steps`` VPG steps, then a query rollout
        (:mod:`metarl.rl.maml`)."""
        if self.vpg is None:
            raise ValueError("this learner has no VPG inner learner: build it with "
                             "PPOLearner(ppo, VPG(...)) for second-order MAML")
        return RLMamlObjective(self.vpg, theta, tasks, steps, generator)

    def evaluation_curve(self, theta: Params, tasks: TaskParams, steps: int, seed: int
                         ) -> torch.Tensor:
        """``[steps + 1, T]`` mean returns after k = 0..steps PPO updates
        (:func:`adaptation_returns`), on the CPU."""
        return adaptation_returns(self.ppo, theta, tasks, steps, seed).cpu()

    def evaluation_curves(self, starts: Sequence[tuple[Params, int]], tasks: TaskParams,
                          steps: int, max_tasks: int = 0) -> torch.Tensor:
        """``[len(starts), steps + 1, T]``: :meth:`evaluation_curve` of every ``(theta, seed)``,
        adapted together (:func:`adaptation_curves`), on the CPU."""
        return adaptation_curves(self.ppo, starts, tasks, steps, max_tasks).cpu()

    def validate(self, theta: Params, tasks: TaskParams, steps: int, seed: int
                 ) -> torch.Tensor:
        """``[steps + 1, T]`` mean returns after k = 0..steps PPO updates (VPG steps with a VPG
        inner learner; higher is better), on the CPU."""
        if self.vpg is not None:
            return vpg_curve(self.vpg, theta, tasks, steps, seed).cpu()
        return adaptation_returns(self.ppo, theta, tasks, steps, seed).cpu()

    def summary(self, adapted: Adaptation, query: QueryGradients | None
                ) -> dict[str, torch.Tensor]:
        """Per-task returns of the first and last rollouts (``[T]``) and the PPO statistics
        of :class:`MetaRecord` (``[iterations, T]``)."""
        result: AdaptResult = adapted.details
        last = query.details.returns if query is not None else result.returns[-1]
        return {"first": result.returns[0], "last": last,
                **{name: result.stats[name] for name in ("approx_kl", "clip_frac", "entropy")}}

    def record(self, iteration: int, samples: int, step_size: float,
               summary: dict[str, torch.Tensor], val: float, theta: Params,
               before: Params) -> MetaRecord:
        """Returns of the first and last rollouts, PPO statistics, theta's change."""
        return make_record(iteration, samples, step_size, summary["first"], summary["last"],
                           summary, val, theta, before)
