"""MAML's outer rule, second order: TRPO (or Adam) on the post-adaptation objective.

MAML (Finn et al. 2017) minimises each task's loss after adaptation, ``L_i(phi_i(theta))``, and
differentiates it through the inner steps. For RL the paper's outer optimizer is TRPO: with ``g``
the meta-gradient of the mean surrogate loss and ``F`` the Hessian of the mean KL divergence
between the adapted policies before and after the step (both through the inner steps),

1. conjugate gradient solves ``(F + damping I) s = g`` in ``cg_iterations`` Hessian-vector
   products (:func:`conjugate_gradient`);
2. the full step is ``-s * sqrt(2 max_kl / s^T F s)``, the largest step along ``-s`` whose
   quadratic KL model stays within ``max_kl``;
3. a backtracking line search (:func:`line_search`) takes the first of ``1, 0.8, 0.8^2, ...``
   (``line_search_steps`` tries) times the full step that lowers the surrogate loss and keeps the
   measured KL within ``max_kl``; when none does, theta stays.

The defaults are pytorch-maml-rl's 2D-navigation settings (max-kl 0.01, 10 CG iterations, damping
1e-5, 15 line-search steps x 0.8). ``optimizer = "adam"`` instead feeds the meta-gradient to Adam.
The objective itself (the inner data, the inner steps, the surrogate and the KL) is the
learner's (:class:`~metarl.meta.learner.MetaObjective`); this module knows no environment.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch

from metarl.agents.param_tree import Params, flatten, unflatten
from metarl.meta.groups import GROUPS
from metarl.meta.learner import MetaObjective

MAML_OPTIMIZERS = ("trpo", "adam")


@dataclass(frozen=True)
class MamlConfig:
    """Second-order MAML's outer settings (the inner learner's are its own section).

    :param meta_iterations: MAML's outer steps (0: ``meta.meta_iterations``, as the other
        methods; MAML's paper takes 500 on 2D navigation).
    :param inner_steps: inner steps per task during meta-training (MAML's num-steps).
    :param optimizer: ``"trpo"`` (the paper's) or ``"adam"``.
    :param max_kl: TRPO's bound on the mean KL divergence of one outer step.
    :param cg_iterations: conjugate-gradient iterations.
    :param cg_damping: damping added to the KL's Hessian.
    :param line_search_steps: backtracking tries.
    :param line_search_backtrack: the factor between tries.
    :param learning_rate: Adam's learning rate (``optimizer = "adam"``).
    :param init_log_std: MAML's initial log-std of a Gaussian policy (``None``: the policy's
        ``init_log_std``). MAML meta-learns the log-std, so its start is MAML's own training
        setting (rllab's and pytorch-maml-rl's policies start at std 1), while Reptile's
        adaptations all start from the policy's.
    :param groups: meta-learned parameter groups (MAML's: the whole policy, its log-std
        included; the critic is not used by the VPG inner step).
    """

    meta_iterations: int = 0
    inner_steps: int = 1
    optimizer: str = "trpo"
    max_kl: float = 0.01
    cg_iterations: int = 10
    cg_damping: float = 1e-5
    line_search_steps: int = 15
    line_search_backtrack: float = 0.8
    learning_rate: float = 1e-3
    init_log_std: float | None = None
    groups: tuple[str, ...] = ("body", "head", "log_std")

    def __post_init__(self) -> None:
        if (not isinstance(self.meta_iterations, int) or isinstance(self.meta_iterations, bool)
                or self.meta_iterations < 0):
            raise ValueError(f"maml.meta_iterations={self.meta_iterations!r} must be a "
                             "non-negative integer")
        for name in ("inner_steps", "cg_iterations", "line_search_steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"maml.{name}={value!r} must be a positive integer")
        if self.optimizer not in MAML_OPTIMIZERS:
            raise ValueError(f"maml.optimizer={self.optimizer!r} must be one of "
                             f"{', '.join(MAML_OPTIMIZERS)}")
        for name in ("max_kl", "learning_rate"):
            if not getattr(self, name) > 0:
                raise ValueError(f"maml.{name}={getattr(self, name)!r} must be > 0")
        if self.init_log_std is not None and not math.isfinite(self.init_log_std):
            raise ValueError(f"maml.init_log_std={self.init_log_std!r} must be a finite number")
        if not self.cg_damping >= 0:
            raise ValueError(f"maml.cg_damping={self.cg_damping!r} must be >= 0")
        if not 0.0 < self.line_search_backtrack < 1.0:
            raise ValueError(f"maml.line_search_backtrack={self.line_search_backtrack!r} must "
                             "be in (0, 1)")
        unknown = [g for g in self.groups if g not in GROUPS]
        if unknown or not self.groups:
            raise ValueError(f"maml.groups={list(self.groups)!r} must be a non-empty list of "
                             f"{', '.join(GROUPS)}")


class OuterStep(NamedTuple):
    """One MAML outer step, before it is applied.

    :param direction: how theta moves, ``{name: tensor}`` (TRPO: the accepted step, zeros when
        the line search accepted none; Adam: minus the meta-gradient, its ascent direction).
    :param fraction: TRPO's accepted fraction of the full step (0: none); 1 with Adam.
    :param loss: the per-task surrogate loss before the step, ``[T]``.
    :param kl: the per-task KL divergence of the accepted step, ``[T]`` (zeros when TRPO
        accepted none; NaN with Adam, which does not measure it).
    """

    direction: Params
    fraction: float
    loss: torch.Tensor
    kl: torch.Tensor


def conjugate_gradient(avp: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor,
                       iterations: int, residual_tol: float = 1e-10) -> torch.Tensor:
    """Solve ``A x = b`` for a symmetric positive-definite ``A`` known by its products.

    :param avp: ``v -> A v``.
    :param b: the right-hand side ``[P]``.
    :param iterations: at most this many products (exact after ``P`` in exact arithmetic).
    :param residual_tol: stop once the squared residual norm is below this.
    """
    x = torch.zeros_like(b)
    r = b.clone()
    p = b.clone()
    rr = r.dot(r)
    for _ in range(iterations):
        if rr.item() < residual_tol:
            break
        ap = avp(p)
        alpha = rr / p.dot(ap)
        x += alpha * p
        r -= alpha * ap
        rr_new = r.dot(r)
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


def line_search(evaluate: Callable[[float], tuple[float, float]], loss_before: float,
                max_kl: float, steps: int, backtrack: float) -> tuple[float, float, float]:
    """Backtracking along a full step: the first fraction ``backtrack ** i`` (i = 0..steps-1)
    whose loss is below ``loss_before`` and whose KL is at most ``max_kl`` (both finite).

    :param evaluate: ``fraction -> (loss, kl)`` after moving by that fraction of the step.
    :returns: ``(fraction, loss, kl)`` of the accepted step, or ``(0.0, loss_before, 0.0)``
        when no try passes.
    """
    fraction = 1.0
    for _ in range(steps):
        loss, kl = evaluate(fraction)
        if math.isfinite(loss) and math.isfinite(kl) and loss < loss_before and kl <= max_kl:
            return fraction, loss, kl
        fraction *= backtrack
    return 0.0, loss_before, 0.0


def _grads(output: torch.Tensor, inputs: Params, create_graph: bool = False) -> Params:
    """``d output / d inputs`` (zeros for inputs it does not use); keeps the graph."""
    if not output.requires_grad:  # no meta-learned parameter reaches it
        return {k: torch.zeros_like(x) for k, x in inputs.items()}
    grads = torch.autograd.grad(output, list(inputs.values()), create_graph=create_graph,
                                retain_graph=True, allow_unused=True)
    return {k: torch.zeros_like(x) if g is None else g
            for (k, x), g in zip(inputs.items(), grads, strict=True)}


class Linearised(NamedTuple):
    """The objective around a theta: its loss, its meta-gradient and its KL's gradient.

    :param loss: per-task surrogate loss ``[T]``.
    :param gradient: the meta-gradient of the mean loss over the meta-learned parameters.
    :param leaves: those parameters, leaves of the graph.
    :param kl_grad: the mean KL's gradient in them, with its graph (through the inner steps).
    """

    loss: torch.Tensor
    gradient: Params
    leaves: Params
    kl_grad: Params


def linearise(objective: MetaObjective, theta: Params, names: list[str], kl: bool
              ) -> Linearised:
    """The meta-gradient through the inner steps, second derivatives included (and, with
    ``kl``, the KL's gradient with the graph that its Hessian-vector products need)."""
    leaves = {k: theta[k].detach().clone().requires_grad_() for k in names}
    loss, divergence = objective.query_losses(objective.adapted(
        {k: leaves[k] if k in leaves else v.detach() for k, v in theta.items()}))
    gradient = _grads(loss.mean(), leaves)
    kl_grad = _grads(divergence.mean(), leaves, create_graph=True) if kl else {}
    return Linearised(loss.detach(), gradient, leaves, kl_grad)


def meta_gradient(objective: MetaObjective, theta: Params, names: list[str]
                  ) -> tuple[Params, torch.Tensor]:
    """The gradient of the mean post-adaptation loss with respect to the parameters in
    ``names`` (through the inner steps, second derivatives included), and the per-task loss
    ``[T]``."""
    lin = linearise(objective, theta, names, kl=False)
    return lin.gradient, lin.loss


def kl_hessian_product(lin: Linearised, damping: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """``v -> (F + damping I) v``, ``F`` the Hessian in theta of the mean KL divergence of the
    adapted policies from the ones that collected the query data (Pearlmutter's product: the
    gradient of ``grad KL . v``, through the inner steps)."""
    def product(v: torch.Tensor) -> torch.Tensor:
        dot = sum((g * x).sum() for g, x in zip(lin.kl_grad.values(),
                                                unflatten(v, lin.leaves).values(), strict=True))
        return flatten(_grads(dot, lin.leaves)) + damping * v

    return product


def trpo_step(objective: MetaObjective, theta: Params, names: list[str], config: MamlConfig
              ) -> OuterStep:
    """TRPO's step on the post-adaptation objective (see the module docstring)."""
    lin = linearise(objective, theta, names, kl=True)
    fvp = kl_hessian_product(lin, config.cg_damping)
    zero = {k: torch.zeros_like(v) for k, v in lin.gradient.items()}
    s = conjugate_gradient(fvp, flatten(lin.gradient), config.cg_iterations)
    shs = s.dot(fvp(s)).item()
    if not (math.isfinite(shs) and shs > 0):  # no gradient, or a non-finite one
        return OuterStep(zero, 0.0, lin.loss, torch.zeros_like(lin.loss))
    full_step = unflatten(-s * math.sqrt(2 * config.max_kl / shs), lin.gradient)
    per_task: dict[float, torch.Tensor] = {}

    @torch.no_grad()
    def evaluate(fraction: float) -> tuple[float, float]:
        moved = {k: v.detach() + fraction * full_step[k] if k in full_step else v.detach()
                 for k, v in theta.items()}
        new_loss, new_kl = objective.query_losses(objective.adapted(moved))
        per_task[fraction] = new_kl
        return new_loss.mean().item(), new_kl.mean().item()

    fraction, _, _ = line_search(evaluate, lin.loss.mean().item(), config.max_kl,
                                 config.line_search_steps, config.line_search_backtrack)
    if fraction == 0.0:
        return OuterStep(zero, 0.0, lin.loss, torch.zeros_like(lin.loss))
    return OuterStep({k: fraction * v for k, v in full_step.items()}, fraction, lin.loss,
                     per_task[fraction])


def maml_step(objective: MetaObjective, theta: Params, names: list[str], config: MamlConfig
              ) -> OuterStep:
    """The outer step of ``config.optimizer``: TRPO's accepted step, or (Adam) minus the
    meta-gradient for the outer optimizer to apply."""
    if config.optimizer == "trpo":
        return trpo_step(objective, theta, names, config)
    grads, loss = meta_gradient(objective, theta, names)
    return OuterStep({k: -g for k, g in grads.items()}, 1.0, loss,
                     torch.full_like(loss, math.nan))
