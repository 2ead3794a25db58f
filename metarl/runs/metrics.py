"""``metrics.csv``: one row per trained method and meta-iteration (and TensorBoard events).

The columns are ``method``, the fields of the method's records
(:class:`~metarl.meta.learner.Record`), the validation curve and ``wall_time_s``. The validation
curve is ``val_k0 .. val_kK`` with ``val_k0_ci95 .. val_kK_ci95``: the mean score over the
validation tasks after k = 0..K inner updates (``K = meta.val_updates``) and the half-width of
its 95% confidence interval over tasks, on the rows where it was measured (every
``meta.val_every`` iterations, the last, and iteration 0: the initialisation, before any
training; its training columns are empty).

TensorBoard gets every number three ways: ``<method>/<name>`` against the samples used so far
(env steps, or labelled points), as stable-baselines3 and CleanRL log;
``<method>_by_iteration/<name>`` against the meta-iteration; and the validation numbers as
``<method>_by_wall_time/<name>`` against the training seconds. With the ``tensorboard`` extra
installed, they go to ``tensorboard/<method>/``.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import torch

from metarl.meta.learner import Record
from metarl.report.files import read_csv
from metarl.report.stats import mean_ci95
from metarl.runs.run_dir import RunDir

try:
    from torch.utils.tensorboard import SummaryWriter
except ImportError:  # the tensorboard extra is not installed
    SummaryWriter = None
try:
    import wandb
except ImportError:  # the wandb extra is not installed
    wandb = None


def check_wandb(settings: dict[str, Any]) -> None:
    """A one-line ``ValueError`` when ``run.wandb`` is set but the package is not installed."""
    if settings and wandb is None:
        raise ValueError("run.wandb is set but the wandb package is not installed: pip install "
                         "-e \".[wandb]\" (or leave run.wandb out)")


def validation_columns(val_updates: int) -> tuple[str, ...]:
    """The validation curve's columns for ``K = val_updates``: ``val_k0 .. val_kK``, then
    ``val_k0_ci95 .. val_kK_ci95``."""
    means = tuple(f"val_k{k}" for k in range(val_updates + 1))
    return (*means, *(f"{name}_ci95" for name in means))


def metrics_columns(fields: tuple[str, ...], val_updates: int) -> tuple[str, ...]:
    """The columns of ``metrics.csv`` for records with ``fields`` and validation curves after
    k = 0..``val_updates`` updates."""
    return ("method", *fields, *validation_columns(val_updates), "wall_time_s")


def validation_row(curve: torch.Tensor | None, val_updates: int) -> dict[str, float]:
    """The validation columns of one row from a ``[K + 1, T]`` curve: the mean over the tasks
    that scored (not NaN) and its 95% CI half-width; NaN throughout without a curve."""
    row = dict.fromkeys(validation_columns(val_updates), math.nan)
    if curve is None:
        return row
    if curve.shape[0] != val_updates + 1:
        raise ValueError(f"a validation curve of {curve.shape[0]} rows for "
                         f"meta.val_updates={val_updates}")
    for k, scores in enumerate(curve.double().tolist()):
        scored = [v for v in scores if not math.isnan(v)]
        if scored:
            row[f"val_k{k}"], row[f"val_k{k}_ci95"] = mean_ci95(scored)
    return row


def prepare_metrics(run: RunDir, method: str, fields: tuple[str, ...], val_updates: int,
                    resume_from: int = 0) -> None:
    """Create ``metrics.csv`` (its header) if it does not exist, and drop the rows of
    ``method`` after meta-iteration ``resume_from`` (left by a run stopped after its last
    checkpoint, to be recomputed identically; from 0, every row of the method, as iteration 0 is
    measured again). A file with other columns (an older version's) is rewritten with these,
    its rows kept. Methods trained side by side in several processes each have theirs prepared
    before any starts, so that no process rewrites the file while another appends to it."""
    path, columns = run.metrics, metrics_columns(fields, val_updates)
    if not path.exists():
        _write(path, columns, [], "w")
        return
    with path.open(newline="") as f:
        header = tuple(next(csv.reader(f), ()))
    rows = read_csv(path)
    keep = [r for r in rows
            if r["method"] != method or (resume_from > 0 and int(r["iteration"]) <= resume_from)]
    if len(keep) != len(rows) or header != columns:
        _write(path, columns, keep, "w")


def _write(path: Path, columns: tuple[str, ...], rows: list[dict[str, Any]], mode: str) -> None:
    """Write (``w``: with the header) or append rows; one row is one small write, which
    processes appending side by side do not interleave."""
    with path.open(mode, newline="") as f:
        out = csv.DictWriter(f, columns, extrasaction="ignore")
        if mode == "w":
            out.writeheader()
        out.writerows(rows)


class MetricsLog:
    """Appends one row per meta-iteration to ``metrics.csv`` (and TensorBoard when installed).

    :param run: the run directory.
    :param method: the trained method the rows belong to.
    :param resume_from: the iteration training continues from: this method's rows after it
        (left by a run stopped after its last checkpoint) are dropped, to be recomputed
        identically (from 0: all of them).
    :param fields: the record's fields (the columns between ``method`` and the validation
        curve).
    :param val_updates: ``meta.val_updates``, the validation curve's last k.
    :param wandb_settings: ``run.wandb``: log every row to Weights & Biases too, one wandb run
        per method (``<run directory>/<method>``, files in ``<run directory>/wandb/``), against
        env steps.
    """

    def __init__(self, run: RunDir, method: str, fields: tuple[str, ...], val_updates: int,
                 resume_from: int = 0, wandb_settings: dict[str, Any] | None = None) -> None:
        self.path, self.method, self.val_updates = run.metrics, method, val_updates
        self.columns = metrics_columns(fields, val_updates)
        prepare_metrics(run, method, fields, val_updates, resume_from)
        self.writer: Any = None
        if SummaryWriter is not None:
            self.writer = SummaryWriter(str(run.tensorboard(method)))
        self.wandb: Any = None
        if wandb_settings:
            check_wandb(wandb_settings)
            settings = {"mode": "online", **wandb_settings}
            self.wandb = wandb.init(
                project=settings["project"], mode=settings["mode"],
                entity=settings.get("entity"), group=settings.get("group"),
                tags=settings.get("tags"), name=f"{run.path.name}/{method}", dir=str(run.path),
                config={"method": method, "run_directory": str(run.path)}, reinit=True)
            self.wandb.define_metric("env_steps")
            self.wandb.define_metric(f"{method}/*", step_metric="env_steps")

    def append(self, record: Record, wall_time: float,
               validation: torch.Tensor | None = None) -> None:
        """Add one row: the record, the validation curve ``[K + 1, T]`` measured with it
        (``None``: none) and the training seconds so far."""
        values = {**record._asdict(), **validation_row(validation, self.val_updates)}
        row = {"method": self.method, **values, "wall_time_s": round(wall_time, 3)}
        _write(self.path, self.columns, [row], "a")
        logged = {k: v for k, v in values.items()
                  if k != "iteration" and not (isinstance(v, float) and math.isnan(v))}
        samples = record.progress()[0]
        if self.writer is not None:  # against samples (env steps), as SB3 and CleanRL log
            for key, value in logged.items():
                self.writer.add_scalar(f"{self.method}/{key}", value, samples)
                self.writer.add_scalar(f"{self.method}_by_iteration/{key}", value,
                                       record.iteration)
                if key.startswith("val_"):
                    self.writer.add_scalar(f"{self.method}_by_wall_time/{key}", value,
                                           round(wall_time))
            self.writer.flush()
        if self.wandb is not None:
            self.wandb.log({**{f"{self.method}/{k}": v for k, v in logged.items()},
                            "env_steps": samples})

    def close(self) -> None:
        """Close the TensorBoard writer and the wandb run."""
        if self.writer is not None:
            self.writer.close()
        if self.wandb is not None:
            self.wandb.finish()
