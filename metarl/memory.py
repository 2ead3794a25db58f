"""Will a run fit? An estimate of the memory each phase needs, checked before any work.

Every problem estimates, from its config alone, the peak memory of each phase
(:class:`MemoryNeed`: meta-training's batched adaptation, pretraining, the evaluation): the
rollout or data buffers of ``T`` tasks, the parameters of ``T`` networks with their gradients
and optimizer states, and a minibatch's activations. :func:`check_memory` compares the largest with
what the device has free (the CPU's ``MemAvailable``; a GPU's free memory) or with
``run.memory_limit``, and refuses, in one line giving the estimate, the limit and the settings to
change, a run that cannot fit. The estimate is rough (within a factor of about two); it is there
to stop a typo such as ``meta.meta_batch=100000000`` before it fills the machine, and before
``--force`` deletes anything.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Sequence
from typing import NamedTuple

import torch

GB = 1e9
FLOAT_BYTES = 4
#: tasks the evaluation adapts in one call on a CPU (whole method x seed starts, at least one).
#: There the batched update is bound by arithmetic from a few tasks on, and larger batches only
#: spill the caches: the main command's 12 starts x 40 tasks took 70 s at most 40 tasks per call,
#: 92 s at 100 and 142 s all at once (one thread; experiments/bench_evaluation.py)
CPU_EVAL_TASKS = 40


class MemoryNeed(NamedTuple):
    """The estimated peak memory of one phase of a run.

    :param phase: what runs (``meta-training``, ``evaluation``, ...).
    :param bytes: the estimate.
    :param size: the sizes that make it, as the user set them (``meta.meta_batch=20 tasks x ...``).
    :param change: the settings that shrink it.
    """

    phase: str
    bytes: float
    size: str
    change: str


def mlp_parameters(sizes: Sequence[int]) -> int:
    """Weights and biases of an MLP through layer ``sizes`` (input, hidden..., output)."""
    return sum(a * b + b for a, b in itertools.pairwise(sizes))


def tasks_at_once(meta_batch: int, task_chunk: int, processes: int = 1) -> int:
    """The tasks one process adapts at once: its share of the meta-batch, at most
    ``task_chunk`` of them (0: no chunks; :meth:`~metarl.meta.trainer.MetaConfig.chunk`)."""
    share = math.ceil(meta_batch / processes)
    return min(share, task_chunk) if task_chunk else share


def chunk_bytes(meta_batch: int, tasks: int, processes: int, draw_floats: float,
                parameters: int) -> float:
    """Bytes a meta-batch adapted ``tasks`` at a time (chunks, or a share per process) needs
    beyond one chunk's adaptation: every draw is made for the whole meta-batch and cut
    (:class:`~metarl.envs.task_streams.TaskShard`; ``draw_floats`` per task for the largest),
    and every chunk's outer direction (``parameters``) is kept until the outer step."""
    share = math.ceil(meta_batch / processes)
    if tasks >= meta_batch:
        return 0.0
    return (meta_batch * draw_floats + math.ceil(share / tasks) * parameters) * FLOAT_BYTES


def tasks_per_call(device: torch.device, bytes_per_task: float, limit_gb: float = 0.0) -> int:
    """How many tasks a batched learner adapts in one call where it may choose (the evaluation's
    methods x seeds): on the CPU :data:`CPU_EVAL_TASKS`, on a GPU as many as fit in half of
    ``limit_gb`` (``run.memory_limit``; 0: the device's free memory)."""
    if device.type == "cpu":
        return CPU_EVAL_TASKS
    found = (limit_gb * GB, "") if limit_gb > 0 else available_bytes(device)
    if found is None or bytes_per_task <= 0:
        return 0
    return max(1, int(found[0] / 2 // bytes_per_task))


def adaptation_bytes(tasks: int, samples: int, sample_floats: float, parameters: int,
                     activations: float) -> float:
    """Peak bytes of adapting ``tasks`` networks of ``parameters`` each at once on ``samples``
    samples per task of ``sample_floats`` floats, with ``activations`` floats of a forward and
    backward pass per task (a minibatch's)."""
    per_task = samples * sample_floats + 6 * parameters + activations  # params, grads, Adam, copies
    return float(tasks) * per_task * FLOAT_BYTES


def available_bytes(device: torch.device) -> tuple[float, str] | None:
    """Free memory of ``device`` and where the figure comes from (``None``: unknown)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return float(free), f"free on {device}"
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024, "MemAvailable"
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")), "free pages"
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(needs: Sequence[MemoryNeed], limit_gb: float, device: torch.device) -> None:
    """A one-line ``ValueError`` when the largest need exceeds ``limit_gb`` (``run.memory_limit``;
    0: what ``device`` has free)."""
    if limit_gb < 0:
        raise ValueError(f"memory limit {limit_gb!r} GB must be >= 0 (0: what the device has "
                         "free)")
    if not needs:
        return
    need = max(needs, key=lambda n: n.bytes)
    if limit_gb > 0:
        limit, source = limit_gb * GB, "run.memory_limit"
    else:
        found = available_bytes(device)
        if found is None:
            return
        limit, source = found
    if need.bytes > limit or not math.isfinite(need.bytes):
        others = [n.phase for n in needs if n is not need and n.bytes > limit]
        also = f" (so does {', '.join(others)})" if others else ""
        raise ValueError(
            f"{need.phase} needs about {need.bytes / GB:.3g} GB ({need.size}){also} but "
            f"{limit / GB:.3g} GB are available ({source}); lower {need.change}, or set "
            f"run.memory_limit (GB) if the estimate is wrong for this machine")
