"""The Reptile outer step: move the shared initialisation toward the adapted weights.

``theta <- theta + eps * mean_i(phi_i - theta)`` (Nichol, Achiam and Schulman 2018), with ``eps``
constant or annealed linearly to 0, or the mean difference fed as a (negative) gradient to an outer
optimizer (SGD with momentum, Adam). Which parameters are meta-learned is a choice
(:mod:`metarl.meta.groups`): the others keep their initial value in theta. First-order MAML
(:mod:`metarl.meta.fomaml`) moves theta through the same :class:`ReptileOuter`, along minus its
mean post-adaptation gradient.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from metarl.agents.param_tree import Params

OUTER_OPTIMIZERS = ("none", "sgd", "adam")


def reptile_delta(theta: Params, adapted: Params, names: Iterable[str] | None = None) -> Params:
    """``mean_i(phi_i - theta)`` for the parameters in ``names`` (all when ``None``), 0 elsewhere.

    :param theta: the shared initialisation ``{name: [*shape]}``.
    :param adapted: the adapted parameters ``{name: [T, *shape]}``.
    :param names: the meta-learned parameters.
    """
    chosen = set(theta) if names is None else set(names)
    unknown = chosen - set(theta)
    if unknown:
        raise ValueError(f"unknown parameters {sorted(unknown)}; expected some of {list(theta)}")
    return {
        k: (adapted[k] - v.unsqueeze(0)).mean(dim=0) if k in chosen else torch.zeros_like(v)
        for k, v in theta.items()
    }


class ReptileOuter:
    """The outer loop's state: theta, the step-size schedule and an optional outer optimizer.

    :param theta: initial shared parameters (copied; read the current ones from :attr:`theta`).
    :param epsilon: outer step size ``eps`` (the outer optimizer's learning rate).
    :param anneal_iterations: anneal ``eps`` linearly to 0 over this many iterations (``None``:
        constant).
    :param optimizer: ``"none"`` (the plain Reptile step), ``"sgd"`` or ``"adam"``.
    :param momentum: SGD momentum.
    :param names: meta-learned parameter names (``None``: all).
    """

    def __init__(self, theta: Params, epsilon: float, anneal_iterations: int | None = None,
                 optimizer: str = "none", momentum: float = 0.0,
                 names: Iterable[str] | None = None) -> None:
        if not epsilon > 0:
            raise ValueError(f"epsilon={epsilon!r} must be > 0")
        if anneal_iterations is not None and anneal_iterations <= 0:
            raise ValueError(f"anneal_iterations={anneal_iterations!r} must be > 0")
        if optimizer not in OUTER_OPTIMIZERS:
            raise ValueError(
                f"optimizer={optimizer!r} must be one of {', '.join(OUTER_OPTIMIZERS)}"
            )
        self.theta = {k: v.detach().clone() for k, v in theta.items()}
        self.epsilon = epsilon
        self.anneal_iterations = anneal_iterations
        self.names = None if names is None else list(names)
        self.iteration = 0
        self._optimizer: torch.optim.Optimizer | None = None
        if optimizer == "sgd":
            self._optimizer = torch.optim.SGD(list(self.theta.values()), lr=epsilon,
                                              momentum=momentum)
        elif optimizer == "adam":
            self._optimizer = torch.optim.Adam(list(self.theta.values()), lr=epsilon)

    def current_epsilon(self) -> float:
        """The step size of the next step."""
        if self.anneal_iterations is None:
            return self.epsilon
        return self.epsilon * max(0.0, 1.0 - self.iteration / self.anneal_iterations)

    def step(self, adapted: Params) -> Params:
        """Apply one Reptile step toward the adapted parameters ``{name: [T, *shape]}``."""
        return self.apply(reptile_delta(self.theta, adapted, self.names))

    @torch.no_grad()
    def apply(self, direction: Params) -> Params:
        """Move theta along ``direction`` (an ascent direction, e.g. ``mean_i(phi_i - theta)``).

        Without an outer optimizer theta moves by ``eps * direction``; with one, ``-direction`` is
        its gradient and ``eps`` its learning rate. Parameters outside the meta-learned names do
        not move. First-order MAML uses this with minus its mean post-adaptation gradient.
        """
        eps = self.current_epsilon()
        chosen = set(self.theta) if self.names is None else set(self.names)
        if self._optimizer is None:
            for k, v in self.theta.items():
                if k in chosen:
                    v.add_(direction[k], alpha=eps)
        else:
            for group in self._optimizer.param_groups:
                group["lr"] = eps
            for k, v in self.theta.items():
                v.grad = -direction[k] if k in chosen else torch.zeros_like(v)
            self._optimizer.step()
            self._optimizer.zero_grad(set_to_none=True)
        self.iteration += 1
        return self.theta

    def state_dict(self) -> dict[str, object]:
        """Everything needed to resume: theta, iteration and the outer optimizer's state."""
        return {
            "theta": {k: v.clone() for k, v in self.theta.items()},
            "iteration": self.iteration,
            "optimizer": None if self._optimizer is None else self._optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict[str, object]) -> None:
        """Restore what :meth:`state_dict` saved (theta in place, so the optimizer keeps it)."""
        theta = state["theta"]
        if not isinstance(theta, dict):
            raise TypeError(f"state['theta'] must be a dict of tensors, got {type(theta).__name__}")
        with torch.no_grad():
            for k, v in self.theta.items():
                v.copy_(theta[k])
        self.iteration = int(state["iteration"])  # type: ignore[arg-type]
        if self._optimizer is not None and state["optimizer"] is not None:
            self._optimizer.load_state_dict(state["optimizer"])  # type: ignore[arg-type]
