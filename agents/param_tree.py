"""Policy parameters in their two forms, and the conversions between them.

* ``theta``: the shared initialisation, ``{name: tensor[*shape]}`` (no task dimension);
* ``stacked``: per-task copies for adaptation, ``{name: tensor[T, *shape]}``.

Both are plain ``dict[str, Tensor]`` with the same keys in the same order; a flat vector (``[P]``
for theta, ``[T, P]`` for stacked) concatenates the tensors in that order.
"""

from __future__ import annotations

import torch

Params = dict[str, torch.Tensor]


def stack(theta: Params, num_tasks: int) -> Params:
    """``T`` independent copies of ``theta``: ``{name: [T, *shape]}``."""
    return {k: v.unsqueeze(0).repeat(num_tasks, *([1] * v.dim())) for k, v in theta.items()}


def stack_list(thetas: list[Params]) -> Params:
    """Stack different thetas (e.g. independent initialisations) into ``{name: [T, *shape]}``."""
    return {k: torch.stack([t[k] for t in thetas]) for k in thetas[0]}


def task(stacked: Params, index: int) -> Params:
    """The parameters of task ``index`` as a theta (no task dimension)."""
    return {k: v[index] for k, v in stacked.items()}


def mean(stacked: Params) -> Params:
    """Mean over the task dimension: a theta."""
    return {k: v.mean(dim=0) for k, v in stacked.items()}


def num_tasks(stacked: Params) -> int:
    """Size of the task dimension of stacked parameters."""
    return next(iter(stacked.values())).shape[0]


def flatten(params: Params, batch_dims: int = 0) -> torch.Tensor:
    """Concatenate parameters into ``[P]`` (``batch_dims=0``) or ``[T, P]`` (``batch_dims=1``)."""
    lead = next(iter(params.values())).shape[:batch_dims]
    return torch.cat([v.reshape(*lead, -1) for v in params.values()], dim=-1)


def unflatten(vector: torch.Tensor, like: Params, batch_dims: int = 0) -> Params:
    """Inverse of :func:`flatten`: split ``vector`` into tensors shaped like ``like``.

    :param like: parameters whose trailing shapes (after ``batch_dims``) give the layout.
    """
    out: Params = {}
    lead = vector.shape[:-1]
    offset = 0
    for k, v in like.items():
        shape = v.shape[batch_dims:]
        n = shape.numel()
        out[k] = vector[..., offset:offset + n].reshape(*lead, *shape)
        offset += n
    if offset != vector.shape[-1]:
        raise ValueError(f"vector has {vector.shape[-1]} values; the layout needs {offset}")
    return out


def clone(params: Params) -> Params:
    """Detached copies of every tensor."""
    return {k: v.detach().clone() for k, v in params.items()}
