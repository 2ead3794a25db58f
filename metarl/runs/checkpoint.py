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


TRAINING_KEYS = ("method", "iteration", "theta", "trainer", "config", "wall_time_s")
"""What a checkpoint of a trained method holds."""


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint on the CPU with ``weights_only=True`` (tensors and plain containers);
    a file that is not one (empty, truncated, a foreign pickle) is a one-line ``ValueError``."""
    if path.is_file() and path.stat().st_size == 0:
        raise ValueError(f"checkpoint {path} is empty (0 bytes): not a metarl checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as err:
        raise ValueError(f"checkpoint {path} cannot be read: {err.strerror or err}") from None
    except Exception as err:  # torch raises several types for corrupt or foreign files
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if "weights_only" in str(err) or "Weights only" in str(err):  # never advise turning it off
            reason = "it holds objects other than tensors and plain containers"
        else:
            reason = f"it is truncated or corrupt ({text})"
        raise ValueError(f"checkpoint {path} is not a metarl checkpoint: {reason}") from None
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint {path} holds a {type(state).__name__}, not a dict: not a "
                         "metarl checkpoint")
    return state


def check_theta(theta: Any, template: dict[str, torch.Tensor], path: Path) -> None:
    """A one-line ``ValueError`` unless ``theta`` has ``template``'s parameter names and shapes
    (the network the run's config describes)."""
    if not isinstance(theta, dict) or not all(isinstance(v, torch.Tensor) for v in theta.values()):
        raise ValueError(f"checkpoint {path}: its theta is not a dict of tensors")
    for name, value in template.items():
        if name not in theta:
            raise ValueError(f"checkpoint {path}: its theta has no parameter {name!r}: it is not "
                             "a checkpoint of this run's network")
        if tuple(theta[name].shape) != tuple(value.shape):
            raise ValueError(f"checkpoint {path}: parameter {name!r} has shape "
                             f"{tuple(theta[name].shape)}, this run's network "
                             f"{tuple(value.shape)}")
    extra = sorted(set(theta) - set(template))
    if extra:
        raise ValueError(f"checkpoint {path}: its theta has parameter {extra[0]!r}, which this "
                         "run's network does not")


def check_training_state(state: dict[str, Any], path: Path, method: str) -> None:
    """A one-line ``ValueError`` unless ``state`` is a checkpoint of ``method`` whose stored
    meta-iteration is the one its file name says."""
    missing = [k for k in TRAINING_KEYS if k not in state]
    if missing:
        raise ValueError(f"checkpoint {path} is not a metarl training checkpoint: it has no "
                         f"{missing[0]!r}")
    if state["method"] != method:
        raise ValueError(f"checkpoint {path} is {state['method']!r}'s, not {method!r}'s")
    for key, kind in (("iteration", int), ("config", dict), ("trainer", dict),
                      ("wall_time_s", float | int)):
        if not isinstance(state[key], kind) or isinstance(state[key], bool):
            raise ValueError(f"checkpoint {path}: its {key!r} is a {type(state[key]).__name__}: "
                             "not a metarl training checkpoint")
    named = _NAME.match(path.name)
    if named and int(named.group(1)) != state["iteration"]:
        raise ValueError(f"checkpoint {path} holds meta-iteration {state['iteration']!r}, not "
                         f"the {int(named.group(1))} its name says: it is not this run's")


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
