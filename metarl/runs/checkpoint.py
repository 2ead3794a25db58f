"""Checkpoint files: written atomically, loaded with ``weights_only=True``.

A checkpoint is written to a temporary file in the same directory, flushed to disk, and renamed
over its final name, so a write killed at any moment leaves the earlier checkpoints intact and never
a half-written file under a checkpoint's name. Files are named ``iter_000040.pt`` by meta-iteration;
the newest complete one is the one to resume from.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import torch

_NAME = re.compile(r"^iter_(\d{6,})\.pt$")


def checkpoint_path(directory: Path, iteration: int) -> Path:
    """The file name of the checkpoint after ``iteration`` meta-iterations."""
    return directory / f"iter_{iteration:06d}.pt"


def save_checkpoint(state: dict[str, Any], path: Path) -> Path:
    """Write ``state`` to ``path`` atomically (temporary file, fsync, rename); returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint on the CPU with ``weights_only=True`` (tensors and plain containers)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for corrupt or foreign files
        raise ValueError(f"checkpoint {path} cannot be loaded: {err}".splitlines()[0]) from err
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint {path} holds a {type(state).__name__}, not a dict")
    return state


def checkpoints_by_iteration(directory: Path) -> dict[int, Path]:
    """``{iteration: path}`` of every checkpoint in ``directory``, in order (empty if none)."""
    if not directory.is_dir():
        return {}
    return dict(sorted((int(m.group(1)), p) for p in directory.iterdir()
                       if (m := _NAME.match(p.name))))


def latest_checkpoint(directory: Path) -> Path | None:
    """The checkpoint with the highest iteration in ``directory`` (``None`` if there is none)."""
    found = checkpoints_by_iteration(directory)
    return found[max(found)] if found else None
