"""MLP regressor whose parameters carry a leading task dimension (the supervised learner's model).

``forward(params, x)`` takes stacked parameters ``{name: [T, ...]}`` and inputs ``[T, N, in_dim]``
and runs all ``T`` networks in one batched matmul per layer. Parameters are named
``layers.<i>.weight`` and ``layers.<i>.bias``; the last layer is the ``head`` group of
:mod:`metarl.meta.groups`, the others the ``body``. Initialisation is ``torch.nn.Linear``'s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from metarl.agents.batched_mlp import ACTIVATIONS, check_mlp, mlp_forward
from metarl.agents.param_tree import Params


@dataclass(frozen=True)
class MLPRegressor:
    """Shapes and forward pass of an MLP ``in_dim -> hidden... -> out_dim``.

    :param in_dim: input size.
    :param out_dim: output size.
    :param hidden: hidden layer sizes.
    :param activation: ``"tanh"`` or ``"relu"``.
    """

    in_dim: int = 1
    out_dim: int = 1
    hidden: tuple[int, ...] = (64, 64)
    activation: str = "tanh"

    def __post_init__(self) -> None:
        check_mlp(self.hidden, self.activation)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Shape of every parameter of a theta, in order."""
        sizes = [self.in_dim, *self.hidden, self.out_dim]
        out: dict[str, tuple[int, ...]] = {}
        for i in range(len(sizes) - 1):
            out[f"layers.{i}.weight"] = (sizes[i + 1], sizes[i])
            out[f"layers.{i}.bias"] = (sizes[i + 1],)
        return out

    def init(self, generator: torch.Generator | None = None,
             device: torch.device | str = "cpu") -> Params:
        """A fresh theta (no task dimension), ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` everywhere."""
        theta: Params = {}
        for name, shape in self.shapes().items():
            fan_in = self.shapes()[name.replace(".bias", ".weight")][1]
            bound = 1.0 / math.sqrt(fan_in)
            u = torch.rand(shape, generator=generator)
            theta[name] = ((2 * u - 1) * bound).to(device)
        return theta

    def forward(self, params: Params, x: torch.Tensor) -> torch.Tensor:
        """Outputs ``[T, N, out_dim]`` of ``T`` stacked networks on inputs ``[T, N, in_dim]``."""
        return mlp_forward(params, "layers", x, len(self.hidden), ACTIVATIONS[self.activation])
