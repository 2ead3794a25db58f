"""Sine-wave regression: the few-shot supervised task family of the MAML and Reptile papers.

A task is ``y = amplitude * sin(x + phase)`` with ``amplitude ~ U[0.1, 5]`` and
``phase ~ U[0, 2 pi]`` (the Reptile paper's ranges; MAML draws the phase from ``U[0, pi]``), and
inputs ``x ~ U[-5, 5]``. A learner sees ``K`` labelled points of a task (its support set) and is
scored by the mean squared error over the whole input range (a uniform grid of query points).

Tasks come from the same :class:`~metarl.envs.task_sampler.TaskSampler` as the RL families, with
the same fixed ``val`` and ``test`` splits; every tensor leads with the task dimension.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from metarl.envs.task_params import ParamSpec, TaskParams
from metarl.envs.task_sampler import TaskSampler
from metarl.envs.task_streams import AnyGenerator, draw


@dataclass(frozen=True)
class SineParams(TaskParams):
    """Sine tasks: ``amplitude`` and ``phase`` are ``[T]``."""

    amplitude: torch.Tensor
    phase: torch.Tensor

    SPECS: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("amplitude", (), 1.0, 0.1, 5.0, positive=True, doc="amplitude a of a sin(x + b)"),
        ParamSpec("phase", (), 0.0, 0.0, 2 * math.pi, doc="phase b of a sin(x + b)"),
    )


class SineRegression:
    """The sine-regression task family: task sampling, support sets and query grids.

    :param split_seed: seed of the fixed validation and test splits.
    :param ranges: sampling range overrides, e.g. ``{"phase": (0, math.pi)}`` for MAML's.
    :param x_range: the input interval ``(low, high)``.
    """

    name = "Sine"
    description = "few-shot regression of a sin(x + b); task = amplitude a, phase b"

    def __init__(self, split_seed: int = 0, ranges: dict[str, tuple[float, float]] | None = None,
                 x_range: tuple[float, float] = (-5.0, 5.0)) -> None:
        low, high = (float(v) for v in x_range)
        if not low < high:
            raise ValueError(f"x_range={list(x_range)!r} needs low < high")
        self.x_range = (low, high)
        self.tasks = TaskSampler(SineParams, split_seed, ranges)

    @staticmethod
    def target(params: SineParams, x: torch.Tensor) -> torch.Tensor:
        """``a sin(x + b)`` of every task at inputs ``x`` ``[T, N, 1]``: ``[T, N, 1]``."""
        a = params.amplitude.view(-1, 1, 1).to(x.dtype)
        b = params.phase.view(-1, 1, 1).to(x.dtype)
        return a * torch.sin(x + b)

    def sample_points(self, params: SineParams, n: int, generator: AnyGenerator = None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` labelled points per task with ``x ~ U[x_range]``: ``x, y`` both ``[T, n, 1]``.

        :param generator: a generator on the tasks' device (``None``: torch's global one).
        """
        if not isinstance(n, int) or n <= 0:
            raise ValueError(f"number of points n={n!r} must be a positive integer")
        low, high = self.x_range
        u = draw(generator, (params.num_tasks, n, 1),
                 lambda shape, gen: torch.rand(shape, generator=gen, device=params.device))
        x = low + (high - low) * u
        return x, self.target(params, x)

    def grid(self, params: SineParams, n: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` evenly spaced inputs over ``x_range`` for every task: ``x, y`` ``[T, n, 1]``.

        The mean squared error over this grid estimates the error over the whole input range.
        """
        low, high = self.x_range
        x = torch.linspace(low, high, n, device=params.device).view(1, n, 1)
        x = x.expand(params.num_tasks, n, 1)
        return x, self.target(params, x)
