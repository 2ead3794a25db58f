"""The random stream of one process's share of a meta-batch, independent of how it is split.

With ``N`` processes each adapting a contiguous slice of a meta-batch of ``T`` tasks, a task's
random numbers (actions, start states, data points) must not depend on which process holds it or
on how many tasks share its batch; otherwise the ``N``-process run would not reproduce the
one-process run. A :class:`TaskShard` wraps a generator that every process seeds alike: each
draw whose leading dimension is the task dimension is made for all ``T`` tasks and cut to the
process's rows, and draws without a task dimension (a minibatch shuffle shared by every task) are
made as they are. Every process thus consumes the same numbers, the generators stay in step, and
task ``i`` sees the numbers it would see in a single process adapting all ``T`` tasks.

Functions that draw per task accept ``torch.Generator | TaskShard | None`` and draw through
:func:`draw`; a plain generator or ``None`` draws exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class TaskShard:
    """Tasks ``start:stop`` of a meta-batch of ``total`` tasks, drawing from ``generator``.

    :param generator: seeded alike on every process (and advanced alike: see the module docstring).
    :param start: first task of this process's slice.
    :param stop: one past its last task.
    :param total: tasks in the whole meta-batch.
    """

    generator: torch.Generator
    start: int
    stop: int
    total: int

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.stop <= self.total:
            raise ValueError(f"TaskShard({self.start}, {self.stop}, total={self.total}) needs "
                             "0 <= start <= stop <= total")

    @property
    def num_tasks(self) -> int:
        """Tasks in this slice."""
        return self.stop - self.start


AnyGenerator = torch.Generator | TaskShard | None


def draw(generator: AnyGenerator, shape: Sequence[int],
         sample: Callable[[tuple[int, ...], torch.Generator | None], torch.Tensor]
         ) -> torch.Tensor:
    """``sample(shape, generator)`` for a tensor whose leading dimension is the task dimension.

    With a :class:`TaskShard` the sample is drawn for all ``total`` tasks and cut to the slice.

    :param generator: a generator, a :class:`TaskShard` or ``None`` (the global generator).
    :param shape: the wanted shape, ``[T, ...]`` (``T`` = the shard's ``num_tasks``).
    :param sample: draws a tensor of a given shape from a plain generator.
    """
    shape = tuple(shape)
    if not isinstance(generator, TaskShard):
        return sample(shape, generator)
    if not shape or shape[0] != generator.num_tasks:
        raise ValueError(f"a draw of shape {shape} does not lead with the shard's "
                         f"{generator.num_tasks} tasks")
    full = sample((generator.total, *shape[1:]), generator.generator)
    return full[generator.start:generator.stop]


def shared(generator: AnyGenerator) -> torch.Generator | None:
    """The plain generator for draws that every task shares (no task dimension)."""
    return generator.generator if isinstance(generator, TaskShard) else generator
