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

    The moments live in two flat ``[T, P]`` buffers (``P``: one task's parameter count), so a
    step is a few whole-buffer operations whatever the number of parameter tensors: the
    per-tensor Python overhead of a small network's step is gone, and the arithmetic is
    element for element ``torch.optim.Adam``'s.

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
        num_tasks = first.shape[0]
        # float32 or wider, so that bias corrections stay exact for half-precision parameters
        step_dtype = torch.promote_types(first.dtype, torch.float32)
        self.steps = torch.zeros(num_tasks, device=first.device, dtype=step_dtype)
        self._names = list(params)
        self._sizes = [params[k][0].numel() for k in self._names]
        self._m = first.new_zeros(num_tasks, sum(self._sizes))
        self._v = torch.zeros_like(self._m)
        self._g, self._scratch = torch.empty_like(self._m), torch.empty_like(self._m)
        self.exp_avg = self._views(self._m)
        self.exp_avg_sq = self._views(self._v)
        self._lr_factor = None  # [P]: each element's learning-rate factor (None: all 1)
        if any(f != 1.0 for f in self.lr_scale.values()):
            self._lr_factor = torch.cat([
                torch.full((n,), self.lr_scale.get(k, 1.0), dtype=first.dtype,
                           device=first.device) for k, n in zip(self._names, self._sizes,
                                                                strict=True)])

    def _views(self, flat: torch.Tensor) -> Params:
        """``{name: [T, ...]}`` views of a flat ``[T, P]`` buffer, shaped like the parameters."""
        parts = flat.split(self._sizes, dim=1)
        return {k: part.view(self.params[k].shape)
                for k, part in zip(self._names, parts, strict=True)}

    @torch.no_grad()
    def step(self, grads: Params, max_grad_norm: float | None = None,
             active: torch.Tensor | None = None) -> torch.Tensor:
        """One Adam step for every active task; returns the per-task gradient norms ``[T]``.

        The arithmetic is ``torch.optim.Adam``'s (default, non-amsgrad form), per task.

        :param grads: gradients shaped like the parameters.
        :param max_grad_norm: clip each task's gradient to this norm (as ``clip_grad_norm_``).
        :param active: ``[T]`` bool; inactive tasks keep their parameters and moments.
        """
        g = torch.cat([grads[k].reshape(self._m.shape[0], -1) for k in self._names], dim=1,
                      out=self._g)
        scratch = torch.mul(g, g, out=self._scratch)
        norms = torch.stack([s.sum(dim=1) for s in scratch.split(self._sizes, dim=1)]
                            ).sum(dim=0).sqrt()  # per-task L2 norm, summed tensor by tensor
        if max_grad_norm is not None:
            g.mul_((max_grad_norm / (norms + 1e-6)).clamp(max=1.0).unsqueeze(1))
            torch.mul(g, g, out=scratch)
        self.steps += 1 if active is None else active.to(self.steps.dtype)
        beta1, beta2 = self.betas
        steps = self.steps.clamp(min=1)  # tasks that never stepped stay finite
        step_size = (self.lr / (1 - beta1 ** steps)).unsqueeze(1)
        if self._lr_factor is not None:
            step_size = step_size * self._lr_factor
        bc2_sqrt = (1 - beta2 ** steps).sqrt().unsqueeze(1)
        scratch.mul_(1 - beta2)
        if active is None:  # in place, into the moments and preallocated buffers
            m = self._m.lerp_(g, 1 - beta1)
            v = self._v.mul_(beta2).add_(scratch)
        else:
            m = self._m.lerp(g, 1 - beta1)
            v = self._v * beta2 + scratch
        denom = torch.sqrt(v, out=scratch).div_(bc2_sqrt).add_(self.eps)
        update = torch.mul(step_size, m, out=g).div_(denom)
        if active is not None:  # frozen tasks keep their moments and move by exactly 0
            keep = active.unsqueeze(1)
            self._m.copy_(torch.where(keep, m, self._m))
            self._v.copy_(torch.where(keep, v, self._v))
            update.masked_fill_(~keep, 0.0)
        leaves = [self.params[k] for k in self._names]
        torch._foreach_sub_(leaves, [u.view(p.shape) for u, p in zip(
            update.split(self._sizes, dim=1), leaves, strict=True)])
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
