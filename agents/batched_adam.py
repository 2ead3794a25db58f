"""Adam over stacked per-task parameters: exactly ``T`` independent Adams in one set of tensors.

Adam is element-wise, so one Adam over ``[T, ...]`` tensors is ``T`` Adams, except for what couples
tasks: this one keeps a step count per task, clips the gradient norm per task, and can freeze some
tasks (a per-task early stop) so that neither their parameters nor their moments move.
"""

from __future__ import annotations

import torch

from metarl.agents.param_tree import Params


class BatchedAdam:
    """Adam with per-task step counts, per-task gradient clipping and per-task freezing.

    :param params: stacked parameters ``{name: [T, ...]}``, updated in place.
    :param lr: learning rate (a float, or set :attr:`lr` between steps for a schedule).
    :param betas: Adam's moment decay rates.
    :param eps: Adam's epsilon.
    :param lr_scale: ``{name: factor}``: these parameters step with ``factor * lr`` (one
        learning rate per parameter group, as torch.optim's param groups; the others use ``lr``).
    """

    def __init__(self, params: Params, lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, lr_scale: dict[str, float] | None = None) -> None:
        self.params = params
        self.lr = lr
        self.lr_scale = dict(lr_scale or {})
        unknown = sorted(set(self.lr_scale) - set(params))
        if unknown:
            raise ValueError(f"lr_scale names {unknown}, not parameters ({sorted(params)})")
        self.betas = betas
        self.eps = eps
        first = next(iter(params.values()))
        # float32 or wider, so that bias corrections stay exact for half-precision parameters
        step_dtype = torch.promote_types(first.dtype, torch.float32)
        self.steps = torch.zeros(first.shape[0], device=first.device, dtype=step_dtype)
        self.exp_avg = {k: torch.zeros_like(v) for k, v in params.items()}
        self.exp_avg_sq = {k: torch.zeros_like(v) for k, v in params.items()}

    @staticmethod
    def grad_norms(grads: Params) -> torch.Tensor:
        """Per-task L2 norm of all gradients together: ``[T]``."""
        sq = [g.reshape(g.shape[0], -1).square().sum(dim=1) for g in grads.values()]
        return torch.stack(sq).sum(dim=0).sqrt()

    @torch.no_grad()
    def step(self, grads: Params, max_grad_norm: float | None = None,
             active: torch.Tensor | None = None) -> torch.Tensor:
        """One Adam step for every active task; returns the per-task gradient norms ``[T]``.

        The arithmetic is ``torch.optim.Adam``'s (default, non-amsgrad form), per task.

        :param grads: gradients shaped like the parameters.
        :param max_grad_norm: clip each task's gradient to this norm (as ``clip_grad_norm_``).
        :param active: ``[T]`` bool; inactive tasks keep their parameters and moments.
        """
        norms = self.grad_norms(grads)
        scale = None
        if max_grad_norm is not None:
            scale = (max_grad_norm / (norms + 1e-6)).clamp(max=1.0)
        self.steps += 1 if active is None else active.to(self.steps.dtype)
        beta1, beta2 = self.betas
        steps = self.steps.clamp(min=1)  # tasks that never stepped stay finite
        step_size = self.lr / (1 - beta1 ** steps)
        bc2_sqrt = (1 - beta2 ** steps).sqrt()

        def scaled_step(name: str, shape: tuple[int, ...]) -> torch.Tensor:
            factor = self.lr_scale.get(name, 1.0)
            return step_size.view(shape) if factor == 1.0 else step_size.view(shape) * factor

        if active is None:  # one multi-tensor op per line; the same arithmetic, in place
            names = list(self.params)
            views = [(-1,) + (1,) * (self.params[k].dim() - 1) for k in names]
            g = [grads[k] for k in names]
            if scale is not None:
                g = torch._foreach_mul(g, [scale.view(v) for v in views])
            gg = torch._foreach_mul(g, g)
            torch._foreach_mul_(gg, 1 - beta2)
            exp_avg = [self.exp_avg[k] for k in names]
            exp_avg_sq = [self.exp_avg_sq[k] for k in names]
            torch._foreach_lerp_(exp_avg, g, 1 - beta1)
            torch._foreach_mul_(exp_avg_sq, beta2)
            torch._foreach_add_(exp_avg_sq, gg)
            denom = torch._foreach_sqrt(exp_avg_sq)
            torch._foreach_div_(denom, [bc2_sqrt.view(v) for v in views])
            torch._foreach_add_(denom, self.eps)
            steps_k = [scaled_step(k, v) for k, v in zip(names, views, strict=True)]
            update = torch._foreach_mul(steps_k, exp_avg)
            torch._foreach_div_(update, denom)
            torch._foreach_sub_([self.params[k] for k in names], update)
            return norms
        for k, p in self.params.items():
            shape = (-1,) + (1,) * (p.dim() - 1)
            g = grads[k] if scale is None else grads[k] * scale.view(shape)
            m = self.exp_avg[k].lerp(g, 1 - beta1)
            v = self.exp_avg_sq[k] * beta2 + g * g * (1 - beta2)
            denom = v.sqrt() / bc2_sqrt.view(shape) + self.eps
            new_p = p - scaled_step(k, shape) * m / denom
            keep = active.view(shape)
            self.exp_avg[k].copy_(torch.where(keep, m, self.exp_avg[k]))
            self.exp_avg_sq[k].copy_(torch.where(keep, v, self.exp_avg_sq[k]))
            p.copy_(torch.where(keep, new_p, p))
        return norms

    def state_dict(self) -> dict[str, object]:
        """The moments, step counts and settings (tensors cloned), for checkpoints."""
        return {
            "lr": self.lr, "betas": list(self.betas), "eps": self.eps,
            "steps": self.steps.clone(),
            "exp_avg": {k: v.clone() for k, v in self.exp_avg.items()},
            "exp_avg_sq": {k: v.clone() for k, v in self.exp_avg_sq.items()},
        }

    def load_state_dict(self, state: dict[str, object]) -> None:
        """Restore what :meth:`state_dict` saved (into the existing tensors)."""
        self.lr = float(state["lr"])  # type: ignore[arg-type]
        beta1, beta2 = state["betas"]  # type: ignore[misc]
        self.betas = (float(beta1), float(beta2))
        self.eps = float(state["eps"])  # type: ignore[arg-type]
        self.steps.copy_(state["steps"])  # type: ignore[arg-type]
        for name in ("exp_avg", "exp_avg_sq"):
            saved = state[name]
            assert isinstance(saved, dict)
            for k, v in getattr(self, name).items():
                v.copy_(saved[k])
