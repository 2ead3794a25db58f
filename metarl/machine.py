"""The machine a run uses: its one-line description (above every benchmark table) and torch's
CPU threads."""

from __future__ import annotations

import os
import platform

import torch


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo where there is one, else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_machine(device: torch.device | None = None) -> str:
    """CPU model, cores, torch threads and version, and the GPU when ``device`` is CUDA."""
    text = (f"{cpu_name()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, "
            f"torch {torch.__version__}")
    if device is not None and device.type == "cuda":
        text += f", {torch.cuda.get_device_name(device)}"
    return text


def use_threads(threads: int) -> None:
    """Give torch ``threads`` intra-op CPU threads (``run.threads``; 0 keeps torch's default)."""
    if threads > 0:
        torch.set_num_threads(threads)
