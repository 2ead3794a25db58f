"""``run.toml``: what made a run, one entry per ``metarl train`` that wrote to it.

Each entry (a TOML ``[[train]]`` table, appended, never rewritten) records the command line, when
it started, whether it resumed, the versions of metarl, Python, torch, Gymnasium and
stable-baselines3, and the git commit of the metarl source it ran (``dirty`` when that checkout
had uncommitted changes; ``unknown`` outside a git checkout).
"""

from __future__ import annotations

import datetime
import platform
import shlex
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from metarl.config import toml_value
from metarl.runs.run_dir import RunDir

SOURCE = Path(__file__).resolve().parents[2]  # the checkout (or site-packages) holding metarl/
PACKAGES = ("metarl", "torch", "gymnasium", "stable-baselines3", "numpy")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def git_state(source: Path = SOURCE) -> tuple[str, str]:
    """The commit of the git checkout holding ``source`` and ``clean``/``dirty`` (tracked files
    changed), or ``("unknown", "unknown")`` outside one or without git."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(source), *args], capture_output=True, text=True,
                              timeout=10, check=True)
        return done.stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown", "unknown"
    return commit, "dirty" if dirty else "clean"


def invocation(command: Sequence[str], resumed: bool) -> dict[str, Any]:
    """The ``[[train]]`` entry of one invocation of ``command``."""
    commit, state = git_state()
    return {
        "command": shlex.join(command),
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "resumed": resumed,
        "python": platform.python_version(),
        "torch_threads": torch.get_num_threads(),
        **{package.replace("-", "_"): _version(package) for package in PACKAGES},
        "git_commit": commit,
        "git_tree": state,
    }


def record_invocation(run: RunDir, command: Sequence[str] | None = None,
                      resumed: bool = False) -> dict[str, Any]:
    """Append the entry of this invocation (``command``: default ``sys.argv``) to
    ``run.toml``; returns it."""
    entry = invocation(list(command) if command is not None else sys.argv, resumed)
    with run.provenance.open("a") as f:
        f.write("[[train]]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in entry.items())
                + "\n")
    return entry
