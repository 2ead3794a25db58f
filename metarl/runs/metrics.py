"""``metrics.csv``: one row per trained method and meta-iteration (and TensorBoard events).

TensorBoard gets every number twice: ``<method>/<name>`` against the samples used so far (env
steps, or labelled points), as stable-baselines3 and CleanRL log, and
``<method>_by_iteration/<name>`` against the meta-iteration.

The columns are ``method``, the fields of the method's records
(:class:`~metarl.meta.learner.Record`) and ``wall_time_s``. With the ``tensorboard`` extra
installed, every number also goes to ``tensorboard/<method>/``.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from metarl.meta.learner import Record
from metarl.report.files import read_csv
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


def metrics_columns(fields: tuple[str, ...]) -> tuple[str, ...]:
    """The columns of ``metrics.csv`` for records with ``fields``."""
    return ("method", *fields, "wall_time_s")


def prepare_metrics(run: RunDir, method: str, fields: tuple[str, ...], resume_from: int = 0
                    ) -> None:
    """Create ``metrics.csv`` (its header) if it does not exist, and drop the rows of
    ``method`` after meta-iteration ``resume_from`` (left by a run stopped after its last
    checkpoint, to be recomputed identically). Methods trained side by side in several processes
    each have theirs prepared before any starts, so that no process rewrites the file while
    another appends to it."""
    path, columns = run.metrics, metrics_columns(fields)
    if not path.exists():
        _write(path, columns, [], "w")
        return
    rows = read_csv(path)
    keep = [r for r in rows if r["method"] != method or int(r["iteration"]) <= resume_from]
    if len(keep) != len(rows):
        _write(path, columns, keep, "w")


def _write(path: Path, columns: tuple[str, ...], rows: list[dict[str, Any]], mode: str) -> None:
    """Write (``w``: with the header) or append rows; one row is one small write, which
    processes appending side by side do not interleave."""
    with path.open(mode, newline="") as f:
        out = csv.DictWriter(f, columns)
        if mode == "w":
            out.writeheader()
        out.writerows(rows)


class MetricsLog:
    """Appends one row per meta-iteration to ``metrics.csv`` (and TensorBoard when installed).

    :param run: the run directory.
    :param method: the trained method the rows belong to.
    :param resume_from: the iteration training continues from: this method's rows after it
        (left by a run stopped after its last checkpoint) are dropped, to be recomputed
        identically.
    :param fields: the record's fields (the columns between ``method`` and ``wall_time_s``).
    :param wandb_settings: ``run.wandb``: log every row to Weights & Biases too, one wandb run
        per method (``<run directory>/<method>``, files in ``<run directory>/wandb/``), against
        env steps.
    """

    def __init__(self, run: RunDir, method: str, fields: tuple[str, ...],
                 resume_from: int = 0, wandb_settings: dict[str, Any] | None = None) -> None:
        self.path, self.method = run.metrics, method
        self.columns = metrics_columns(fields)
        prepare_metrics(run, method, fields, resume_from)
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

    def append(self, record: Record, wall_time: float) -> None:
        """Add one row."""
        row = {"method": self.method, **record._asdict(), "wall_time_s": round(wall_time, 3)}
        _write(self.path, self.columns, [row], "a")
        if self.writer is not None:  # against samples (env steps), as SB3 and CleanRL log
            samples = record.progress()[0]
            for key, value in record._asdict().items():
                if key != "iteration" and not (isinstance(value, float) and math.isnan(value)):
                    self.writer.add_scalar(f"{self.method}/{key}", value, samples)
                    self.writer.add_scalar(f"{self.method}_by_iteration/{key}", value,
                                           record.iteration)
            self.writer.flush()
        if self.wandb is not None:
            values = {f"{self.method}/{k}": v for k, v in record._asdict().items()
                      if not (isinstance(v, float) and math.isnan(v))}
            self.wandb.log({**values, "env_steps": record.progress()[0]})

    def close(self) -> None:
        """Close the TensorBoard writer and the wandb run."""
        if self.writer is not None:
            self.writer.close()
        if self.wandb is not None:
            self.wandb.finish()
