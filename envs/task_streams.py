"""Per-task random streams that do not depend on how tasks are laid out in a batch.

A batched learner draws its random numbers (actions, start states, data points, minibatch
shuffles) for all the tasks of a batch at once. Two layouts must not change what any task sees:

* :class:`TaskShard`: a meta-batch of ``T`` tasks split over ``N`` processes, each adapting a
  contiguous slice. A task's numbers must not depend on which process holds it, otherwise the
  ``N``-process run would not reproduce the one-process run. A ``TaskShard`` wraps a generator
  that every process seeds alike: each draw whose leading dimension is the task dimension is
  made for all ``T`` tasks and cut to the process's rows, and draws without a task dimension (a
  minibatch shuffle shared by every task) are made as they are. Every process thus consumes the
  same numbers, the generators stay in step, and task ``i`` sees the numbers it would see in a
  single process adapting all ``T`` tasks.
* :class:`TaskBlocks`: independent adaptations stacked into one batch (the evaluation adapts
  every method x seed x task at once). Each block of tasks has its own generator, and every draw
  is made block by block, each block's rows from its own generator with the shape it would have
  alone, and a shared shuffle once per block. A block therefore sees exactly the numbers of the
  same adaptation run on its own with a plain generator, whatever else shares its batch.

Functions that draw per task accept :data:`AnyGenerator` and draw through :func:`draw` (a
tensor that leads with the task dimension) or :func:`shuffle` (a permutation shared by tasks);
a plain generator or ``None`` draws exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
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


@dataclass(frozen=True)
class TaskBlocks:
    """Independent adaptations stacked along the task dimension: block ``b`` is ``sizes[b]``
    consecutive tasks drawing from ``generators[b]`` (see the module docstring).

    :param generators: one generator per block, each advanced only by its own block's draws.
    :param sizes: tasks per block.
    """

    generators: tuple[torch.Generator, ...]
    sizes: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.generators) != len(self.sizes) or not self.sizes:
            raise ValueError(f"TaskBlocks needs one generator per block: {len(self.generators)} "
                             f"generators, {len(self.sizes)} sizes")
        if any(size <= 0 for size in self.sizes):
            raise ValueError(f"TaskBlocks sizes {list(self.sizes)} must be positive")

    @classmethod
    def seeded(cls, seeds: Sequence[int], size: int, device: torch.device | str = "cpu"
               ) -> TaskBlocks:
        """Blocks of ``size`` tasks each, block ``b`` drawing from a fresh generator seeded
        ``seeds[b]`` on ``device`` (as a lone adaptation seeded so would)."""
        generators = tuple(torch.Generator(device=device).manual_seed(int(s)) for s in seeds)
        return cls(generators, (size,) * len(seeds))

    @property
    def num_tasks(self) -> int:
        """Tasks in all blocks."""
        return sum(self.sizes)

    def bounds(self) -> Iterator[tuple[torch.Generator, int, int]]:
        """``(generator, start, stop)`` of each block's tasks."""
        start = 0
        for generator, size in zip(self.generators, self.sizes, strict=True):
            yield generator, start, start + size
            start += size


AnyGenerator = torch.Generator | TaskShard | TaskBlocks | None


def draw(generator: AnyGenerator, shape: Sequence[int],
         sample: Callable[[tuple[int, ...], torch.Generator | None], torch.Tensor]
         ) -> torch.Tensor:
    """``sample(shape, generator)`` for a tensor whose leading dimension is the task dimension.

    With a :class:`TaskShard` the sample is drawn for all ``total`` tasks and cut to the slice;
    with :class:`TaskBlocks`, each block's rows are drawn from its own generator.

    :param generator: a generator, a :class:`TaskShard`, :class:`TaskBlocks` or ``None`` (the
        global generator).
    :param shape: the wanted shape, ``[T, ...]`` (``T`` = the shard's or blocks' ``num_tasks``).
    :param sample: draws a tensor of a given shape from a plain generator.
    """
    shape = tuple(shape)
    if not isinstance(generator, TaskShard | TaskBlocks):
        return sample(shape, generator)
    if not shape or shape[0] != generator.num_tasks:
        raise ValueError(f"a draw of shape {shape} does not lead with the "
                         f"{generator.num_tasks} tasks of {type(generator).__name__}")
    if isinstance(generator, TaskBlocks):
        return torch.cat([sample((stop - start, *shape[1:]), g)
                          for g, start, stop in generator.bounds()])
    full = sample((generator.total, *shape[1:]), generator.generator)
    return full[generator.start:generator.stop]


def draw_rows(generator: AnyGenerator, rows: torch.Tensor,
              sample: Callable[[torch.Tensor, torch.Generator | None], torch.Tensor]
              ) -> torch.Tensor:
    """``sample(rows, generator)`` for some tasks' rows: ``rows`` holds the (ascending) task of
    each row; with :class:`TaskBlocks` each block's rows are drawn from its own generator, as
    that block alone would draw them (a block with no row draws nothing). A
    :class:`TaskShard` cannot draw for rows only some process sees."""
    if isinstance(generator, TaskShard):
        raise ValueError("a TaskShard draws for whole meta-batches only (see "
                         "metarl.envs.task_streams)")
    if not isinstance(generator, TaskBlocks):
        return sample(rows, generator)
    blocks = list(generator.bounds())
    edges = torch.tensor([start for _, start, _ in blocks] + [blocks[-1][2]], device=rows.device)
    cuts = torch.searchsorted(rows, edges).tolist()  # each block's first row, one host read
    return torch.cat([sample(rows[lo:hi], g) for (g, _, _), lo, hi
                      in zip(blocks, cuts, cuts[1:], strict=False) if hi > lo])


def shuffle(generator: AnyGenerator, n: int, num_tasks: int, device: torch.device | str
            ) -> torch.Tensor:
    """A random order of ``n`` samples shared by the tasks: ``[n]`` (one for every task), or
    with several :class:`TaskBlocks` ``[T, n]``, each block's own order repeated over its
    tasks."""
    if not isinstance(generator, TaskBlocks):
        return torch.randperm(n, generator=shared(generator), device=device)
    if generator.num_tasks != num_tasks:
        raise ValueError(f"a shuffle for {num_tasks} tasks from TaskBlocks of "
                         f"{generator.num_tasks} tasks")
    if len(generator.sizes) == 1:  # one block: its order, as a plain generator draws it
        return torch.randperm(n, generator=generator.generators[0], device=device)
    return torch.cat([torch.randperm(n, generator=g, device=device).expand(stop - start, n)
                      for g, start, stop in generator.bounds()])


def shared(generator: AnyGenerator) -> torch.Generator | None:
    """The plain generator for draws that every task shares (no task dimension); TaskBlocks
    have none (:func:`shuffle` draws one order per block)."""
    if isinstance(generator, TaskBlocks):
        raise ValueError("TaskBlocks have no generator shared by every task; draw per block")
    return generator.generator if isinstance(generator, TaskShard) else generator
