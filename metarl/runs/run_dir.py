"""The run directory: where one experiment keeps everything, and nothing is lost.

Layout::

    DIR/config.toml            the resolved config (every key)
    DIR/run.toml               one entry per metarl train: command, versions, git commit
    DIR/metrics.csv            one row per method and meta-iteration
    DIR/tensorboard/<method>/  TensorBoard events (with the ``tensorboard`` extra installed)
    DIR/checkpoints/<method>/  iter_000010.pt ... (atomic; the newest is resumed)
    DIR/eval/                  curves.csv, oracle.csv, summary.csv, summary.md
    DIR/plots/                 adaptation.png, meta_training.png

An existing directory is reused only with ``resume`` (same config) and replaced only with
``force``, and only when it is a run directory and nothing else (:func:`check_replaceable`).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from metarl.config import dump_config, first_difference
from metarl.problem import Config
from metarl.problems import load_config


class RunDir:
    """Paths of a run directory (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.config = self.path / "config.toml"
        self.provenance = self.path / "run.toml"
        self.metrics = self.path / "metrics.csv"
        self.eval = self.path / "eval"
        self.plots = self.path / "plots"

    def checkpoints(self, method: str) -> Path:
        """The checkpoint directory of a trained method."""
        return self.path / "checkpoints" / method

    def tensorboard(self, method: str) -> Path:
        """The TensorBoard log directory of a trained method."""
        return self.path / "tensorboard" / method

    def load_config(self) -> Config:
        """The run's saved config."""
        if not self.config.is_file():
            raise ValueError(f"{self.path} is not a run directory (no config.toml)")
        return load_config(self.config)


def prepare_run_dir(path: Path, config: Config, resume: bool, force: bool) -> RunDir:
    """Create the run directory, or check it for ``resume``, or clear it for ``force``.

    Raises ``FileExistsError`` for an existing directory without either flag, and ``ValueError``
    when resuming with a different config or clearing a directory that is not a run directory.
    """
    run = RunDir(path)
    if run.path.exists() and not run.path.is_dir():
        raise ValueError(f"run directory {run.path} is a file, not a directory")
    exists = run.path.exists() and any(run.path.iterdir())
    if resume and force:
        raise ValueError("--resume and --force exclude each other")
    if exists and resume:
        differ = first_difference(run.load_config(), config)
        if differ:
            key, before, now, count = differ
            raise ValueError(f"--resume with a different config: {key} is {before!r} in "
                             f"{run.config} but {now!r} now ({count} key(s) differ)")
        return run
    if exists and not force:
        raise FileExistsError(f"run directory {run.path} exists; pass --resume to continue it, "
                              "--force to replace it, or --out DIR for a new one")
    if exists:
        check_replaceable(run)
        shutil.rmtree(run.path)
    if resume:
        state = "is empty" if run.path.exists() else "does not exist"
        raise ValueError(f"--resume: run directory {run.path} {state}: there is nothing to "
                         "resume (leave out --resume to start a run there)")
    run.path.mkdir(parents=True, exist_ok=True)
    run.config.write_text(dump_config(config))
    return run


_METHOD = r"(reptile|fomaml|maml|pretrain)"
RUN_FOLDERS = re.compile(rf"(checkpoints|tensorboard)(/{_METHOD})?|eval|plots|wandb(/.+)?")
"""The folders a run makes, relative to its directory."""
RUN_FILES = tuple(re.compile(p) for p in (
    r"config\.toml",
    r"run\.toml",
    r"metrics\.csv",
    rf"checkpoints/{_METHOD}/(iter_\d{{6,}}\.pt|\.iter_\d{{6,}}\.pt\..+\.tmp)",
    rf"tensorboard/{_METHOD}/events\.out\.tfevents\..+",
    r"eval/(curves|oracle|summary|selection)\.(csv|tmp)",
    r"eval/(summary\.md|eval\.toml)",
    r"plots/(adaptation|meta_training|sine_fits)\.png",
    r"wandb/.+",  # Weights & Biases' own files (run.wandb)
))
"""The files a run writes (with the temporary files of atomic writes); ``--force`` replaces a
directory that holds nothing else."""


def foreign_entries(run: RunDir) -> list[str]:
    """Every file or folder in the run directory's tree that no run writes, relative to it
    (symbolic links count as foreign, but for those Weights & Biases keeps in ``wandb/``); the
    tree is walked without following links, and a foreign folder is listed once, not its
    contents."""
    found: list[str] = []

    def unreadable(err: OSError) -> None:
        raise ValueError(f"refusing to replace {run.path}: {err.filename} cannot be read "
                         f"({err.strerror})")

    for root, dirs, files in os.walk(run.path, onerror=unreadable):
        here = Path(root)
        rel = here.relative_to(run.path)
        keep = []
        for name in sorted(dirs):
            path = (rel / name).as_posix()
            link = (here / name).is_symlink() and not path.startswith("wandb/")
            if link or not RUN_FOLDERS.fullmatch(path):
                found.append(path + "/")
            elif not (here / name).is_symlink():
                keep.append(name)
        dirs[:] = keep
        for name in sorted(files):
            path = (rel / name).as_posix()
            link = (here / name).is_symlink() and not path.startswith("wandb/")
            if link or not any(p.fullmatch(path) for p in RUN_FILES):
                found.append(path)
    return found


def check_replaceable(run: RunDir) -> None:
    """A ``ValueError`` unless ``run`` is a run directory that ``--force`` may delete: not a
    symbolic link, a ``config.toml`` that reads as a metarl config, and nothing anywhere in its
    tree beside what a run writes (:data:`RUN_FILES`; a user's file in it, at any depth, or a
    folder that only happens to hold a ``config.toml``, is never deleted)."""
    refuse = f"refusing to replace {run.path}"
    if run.path.is_symlink():
        raise ValueError(f"{refuse}: it is a symbolic link (remove the link or pass another --out)")
    if not run.path.is_dir():
        raise ValueError(f"{refuse}: it is not a directory")
    if not run.config.is_file():
        raise ValueError(f"{run.path} is not a run directory (no config.toml); refusing to "
                         "replace it")
    try:
        load_config(run.config)
    except ValueError as err:
        raise ValueError(f"{refuse}: its config.toml is not a metarl config ({err})") from None
    others = foreign_entries(run)
    if others:
        raise ValueError(f"{refuse}: it holds {', '.join(others[:3])}"
                         f"{' ...' if len(others) > 3 else ''}, which no run writes "
                         "(move it out, or pass another --out)")
