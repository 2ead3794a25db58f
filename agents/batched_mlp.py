"""The forward pass of ``T`` stacked MLPs at once, shared by the actor-critic and the regressor."""

from __future__ import annotations

from collections.abc import Callable

import torch

from metarl.agents.param_tree import Params

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh, "relu": torch.relu,
}


def check_mlp(hidden: tuple[int, ...], activation: str) -> None:
    """Raise ``ValueError`` for an unknown activation or empty / non-positive hidden sizes."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation={activation!r} must be one of {', '.join(ACTIVATIONS)}")
    if not hidden or any(int(h) <= 0 for h in hidden):
        raise ValueError(f"hidden={hidden!r} must be a non-empty list of positive sizes")


def mlp_forward(params: Params, prefix: str, x: torch.Tensor, num_hidden: int,
                activation: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """Run layers ``<prefix>.0 .. <prefix>.<num_hidden>`` of stacked ``params`` on ``x``.

    :param params: ``{"<prefix>.<i>.weight": [T, out, in], "<prefix>.<i>.bias": [T, out]}``.
    :param x: inputs ``[T, N, in]``.
    :param num_hidden: hidden layers (the activation follows each; the last layer is linear).
    :param activation: the hidden activation.
    :returns: ``[T, N, out]``, one batched matmul per layer.
    """
    for i in range(num_hidden + 1):
        w, b = params[f"{prefix}.{i}.weight"], params[f"{prefix}.{i}.bias"]
        x = torch.baddbmm(b.unsqueeze(1), x, w.transpose(1, 2))
        if i < num_hidden:
            x = activation(x)
    return x
