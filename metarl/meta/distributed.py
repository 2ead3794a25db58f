"""Meta-training over several processes with ``torch.distributed`` (``torchrun``).

``torchrun --nproc_per_node N -m metarl train CONFIG`` starts ``N`` copies of ``metarl train``;
:meth:`Distributed.from_env` finds the variables ``torchrun`` sets (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``) and joins the process group: gloo on the CPU,
NCCL on GPUs (one GPU per process, ``cuda:LOCAL_RANK``). Each meta-iteration:

* every rank samples the same meta-batch of ``T`` tasks (same seed) and adapts its contiguous
  share, drawing its random numbers through a :class:`~metarl.envs.task_streams.TaskShard` so that
  a task sees the numbers it would see in a single process;
* one ``all_reduce`` (sum, float64) of a flat vector carries the sum of the ranks' outer
  directions (Reptile's ``phi_i - theta``, first-order MAML's gradients), every per-task number of
  the step's record, the sample count, the NaN check and the Ctrl-C flag;
* every rank applies the same outer step, so theta stays identical everywhere.

Rank 0 alone reads and writes the run directory (config, checkpoints, metrics, plots) and runs
validation, the pretraining baseline and the evaluation; what it reads on resume reaches the
other ranks by broadcast, so the other machines need no copy of the run directory. A rank that
dies or stops answering makes the others fail with :class:`DistributedError` (a peer's closed
connection, or the process group's timeout) instead of waiting forever. The other ranks end
through :func:`exit_helper_rank`, without the interpreter's teardown.
"""

from __future__ import annotations

import datetime
import os
import re
import sys
import time
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import torch
import torch.distributed as torch_dist

from metarl.agents.param_tree import Params

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 1800.0


class DistributedError(RuntimeError):
    """Another rank failed, died or stopped answering; the message says which step broke."""


def task_range(total: int, rank: int, world_size: int) -> tuple[int, int]:
    """The contiguous tasks ``start:stop`` of ``rank`` among ``total`` (the first ``total % N``
    ranks take one more)."""
    base, extra = divmod(total, world_size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def exit_helper_rank(code: int) -> NoReturn:
    """End a rank other than 0 now with exit status ``code``, as :mod:`multiprocessing` ends its
    child processes: flush stdout and stderr, then ``os._exit`` without the interpreter's teardown.

    gloo's worker thread drops its reference to a collective's tensor a moment after the
    collective has returned, and takes the GIL to do so. A rank whose last collective is its last
    act (every rank but 0 after training) could otherwise start shutting the interpreter down
    first; the worker thread then exits from inside a destructor and the process aborts
    ("terminate called without an active exception", SIGABRT) after a successful run.
    :meth:`Distributed.close` waits for the last all_reduce's tensor, but not for the tensors
    torch's own collectives make (``broadcast_object_list``, the last exchange of a rank that
    fails in :meth:`Distributed.on_main`). A rank other than 0 has left the process group and
    written no files, so it skips teardown altogether; rank 0 has files to flush and relies on
    ``close``.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _first_line(err: BaseException) -> str:
    """The first sentence of a torch.distributed error, without the source location."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return re.sub(r"^\[[^\]]*\]\s*", "", text).split(". ")[0]


class Distributed:
    """This process's place in a ``torch.distributed`` job (see the module docstring).

    :param rank: this process's rank.
    :param world_size: processes in the job.
    :param local_rank: rank on this machine (its GPU index).
    """

    def __init__(self, rank: int, world_size: int, local_rank: int = 0) -> None:
        self.rank, self.world_size, self.local_rank = rank, world_size, local_rank
        self._buffer: torch.Tensor | None = None  # the last all_reduce's; see release_buffer

    @classmethod
    def from_env(cls, device: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> Distributed | None:
        """Join the process group that ``torchrun`` describes in the environment, if any.

        :param device: the run's device setting (``cuda...`` selects NCCL and ``cuda:LOCAL_RANK``).
        :param timeout_s: how long a collective may wait for a silent rank before failing.
        :returns: ``None`` outside ``torchrun`` (no ``WORLD_SIZE`` in the environment).
        """
        if "WORLD_SIZE" not in os.environ:
            return None
        try:
            rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
            local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        except (KeyError, ValueError) as err:
            raise ValueError(f"torchrun environment incomplete or invalid: {err}") from None
        if not 0 < timeout_s < 10**8:  # timedelta's and the backends' range
            raise ValueError(f"--dist-timeout={timeout_s!r} must be > 0 and < 1e8 seconds")
        cuda = device.startswith("cuda")
        if cuda:
            torch.cuda.set_device(local_rank)
        if not torch_dist.is_initialized():
            try:
                torch_dist.init_process_group(
                    backend="nccl" if cuda else "gloo",
                    timeout=datetime.timedelta(seconds=timeout_s),
                )
            except (RuntimeError, ValueError) as err:
                raise ValueError(f"WORLD_SIZE={world} is set but torch.distributed could not "
                                 f"start ({_first_line(err)}); run under torchrun, or unset "
                                 "WORLD_SIZE for one process") from None
        return cls(rank, world, local_rank)

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0 (the one that reads and writes files)."""
        return self.rank == 0

    def task_range(self, total: int) -> tuple[int, int]:
        """This rank's tasks ``start:stop`` of a meta-batch of ``total``."""
        return task_range(total, self.rank, self.world_size)

    def device(self, device: torch.device) -> torch.device:
        """This rank's device: ``cuda:LOCAL_RANK`` for a CUDA run, else ``device``."""
        return torch.device("cuda", self.local_rank) if device.type == "cuda" else device

    def _fail(self, what: str, err: BaseException) -> DistributedError:
        return DistributedError(
            f"rank {self.rank} of {self.world_size}: {what} failed: another rank died, failed or "
            f"stopped answering ({_first_line(err)})"
        )

    def all_sum(self, flat: torch.Tensor, what: str) -> torch.Tensor:
        """The sum of ``flat`` over all ranks (in place); ``what`` names the step in errors.

        The all_reduce runs on a private copy that nothing else references (no views), so that
        :meth:`release_buffer` can tell when the backend has let go of it.
        """
        self._buffer = flat.clone()
        try:
            torch_dist.all_reduce(self._buffer, op=torch_dist.ReduceOp.SUM)
        except (RuntimeError, ValueError) as err:
            raise self._fail(what, err) from None
        return flat.copy_(self._buffer)

    def check_all(self, check: Callable[[], None], what: str, device: torch.device) -> None:
        """Run ``check`` on every rank; when it raises on any rank, every rank raises (that rank
        its own error, the others a ``ValueError`` saying another rank refused), so that no rank
        goes on, and rank 0 deletes nothing, on a check another rank failed."""
        error: Exception | None = None
        try:
            check()
        except Exception as err:  # passed on as a count, then re-raised here
            error = err
        failed = self.all_sum(torch.tensor([float(error is not None)], device=device), what)
        if error is not None:
            raise error
        if failed.item() > 0:
            raise ValueError(f"rank {self.rank}: {what}: {int(failed.item())} other rank(s) "
                             "refused (their message says why)")

    def on_main(self, fn: Callable[[], T], what: str) -> T:
        """Run ``fn`` on rank 0 and give its result to every rank; an exception raised there is
        raised on every rank (rank 0 re-raises it; the others raise a ``ValueError`` with its
        message), so no rank waits for a result that never comes."""
        outcome: list[Any] = [None]
        error: BaseException | None = None
        if self.is_main:
            try:
                outcome[0] = ("ok", fn())
            except Exception as err:  # passed on to the other ranks, then re-raised here
                error = err
                outcome[0] = ("error", f"{err}")
        try:
            torch_dist.broadcast_object_list(outcome, src=0)
        except (RuntimeError, ValueError) as err:
            raise self._fail(what, err) from None
        if error is not None:
            raise error
        status, value = outcome[0]
        if status == "error":
            raise ValueError(f"rank 0: {what}: {value}")
        return value  # type: ignore[no-any-return]

    def reduce_step(self, direction_sum: Params, per_task: dict[str, torch.Tensor],
                    scalars: dict[str, float], start: int, total: int, what: str
                    ) -> tuple[Params, dict[str, torch.Tensor], dict[str, float]]:
        """One ``all_reduce`` of everything a meta-iteration's ranks exchange.

        :param direction_sum: this rank's sum over its tasks of the outer direction.
        :param per_task: this rank's per-task numbers, task dimension last (``[..., stop-start]``).
        :param scalars: numbers to add up over ranks (sample counts, flags).
        :param start: this rank's first task.
        :param total: tasks in the meta-batch.
        :param what: names the step in errors.
        :returns: the direction summed over all tasks, the per-task numbers of all ``total``
            tasks (``[..., total]``) and the summed scalars, in the inputs' dtypes and devices.
        """
        parts: list[torch.Tensor] = [v.reshape(-1).double() for v in direction_sum.values()]
        shapes = []
        for value in per_task.values():
            full = value.new_zeros((*value.shape[:-1], total), dtype=torch.float64)
            full[..., start:start + value.shape[-1]] = value.double()
            parts.append(full.reshape(-1))
            shapes.append(full.shape)
        device = next(iter(direction_sum.values())).device
        parts.append(torch.tensor(list(scalars.values()), dtype=torch.float64, device=device))
        flat = self.all_sum(torch.cat(parts), what)
        out, offset = {}, 0
        for (name, value) in direction_sum.items():
            out[name] = flat[offset:offset + value.numel()].view_as(value).to(value.dtype)
            offset += value.numel()
        tasks = {}
        for (name, value), shape in zip(per_task.items(), shapes, strict=True):
            n = shape.numel()
            tasks[name] = flat[offset:offset + n].view(shape).to(value.dtype)
            offset += n
        summed = dict(zip(scalars, flat[offset:].tolist(), strict=True))
        return out, tasks, summed

    def release_buffer(self, timeout_s: float = 5.0) -> bool:
        """Wait (GIL released) until the backend has dropped the last all_reduce's tensor.

        gloo's worker thread drops it a moment after the all_reduce has returned and takes the
        GIL to do so; a process that starts shutting its interpreter down first aborts
        (:func:`exit_helper_rank`). Rank 0 exits normally, so :meth:`close` waits here.

        :returns: whether the release was seen within ``timeout_s`` (``True`` when there was no
            all_reduce; ``False`` also where torch has no ``Tensor._use_count``).
        """
        buffer, self._buffer = self._buffer, None
        if buffer is None:
            return True
        use_count = getattr(buffer, "_use_count", None)
        deadline = time.monotonic() + timeout_s
        while use_count is not None and use_count() > 1 and time.monotonic() < deadline:
            time.sleep(0.001)
        # the count drops just before the worker thread asks for the GIL: give it the GIL
        time.sleep(0.01)
        return use_count is not None and use_count() == 1

    def close(self) -> None:
        """Leave the process group (once the backend has let go of the last all_reduce's tensor)."""
        self.release_buffer()
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()
