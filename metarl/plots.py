"""``metarl plot``: the adaptation curves and the meta-training curve of a run, as PNG files.

``plots/adaptation.png``: mean return (RL) or mean squared error (sine, log scale) on the
held-out tasks against the number of inner updates, one line per method with its 95% confidence
band, the oracle as a dashed line. ``plots/meta_training.png``: the validation score after
``meta.val_updates`` updates against the meta-iteration, one line per trained method. Both are
drawn from the CSV files alone. A sine run also gets ``plots/sine_fits.png``
(:mod:`metarl.sine_plot`).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from metarl.config import read_toml
from metarl.evaluate import read_csv
from metarl.run_dir import RunDir, read_metrics
from metarl.sine_config import SineExperimentConfig
from metarl.stats import mean_ci95

LABELS = {
    "reptile": "Reptile",
    "fomaml": "first-order MAML",
    "pretrain": "multi-task pretraining",
    "scratch": "scratch (random init)",
    "sb3": "stable-baselines3 PPO from scratch",
}
COLORS = {"reptile": "C0", "fomaml": "C1", "pretrain": "C2", "scratch": "C7", "sb3": "C4"}


RL_AXES = ("inner PPO updates k on the new task", "mean episode return after k updates",
           "val_return", "mean return after {n} inner update{s}")
SINE_AXES = ("inner {optimizer} steps k on the new task",
             "mean squared error after k steps (log scale)", "val_loss",
             "mean squared error after {n} inner step{s} from {shots} points")


def plot_run(run: RunDir) -> list[Path]:
    """Draw every plot the run's files allow; returns the paths written."""
    config = run.load_config()
    family, n = config.env.family, config.meta.val_updates
    if getattr(config.env, "gym_id", ""):  # a [env] family = "gym" run: name its env
        family = config.env.gym_id
    s = "s" if n != 1 else ""
    if isinstance(config, SineExperimentConfig):
        xlabel, ylabel, column, val_label = SINE_AXES
        xlabel = xlabel.format(optimizer=config.inner.optimizer.upper()
                               if config.inner.optimizer == "sgd" else "Adam")
        val_label = val_label.format(n=n, s=s, shots=config.eval.shots)
    else:
        xlabel, ylabel, column, val_label = RL_AXES
        val_label = val_label.format(n=n, s=s)
    log = isinstance(config, SineExperimentConfig)
    written = []
    if (run.eval / "summary.csv").exists():
        written.append(plot_adaptation(run, family, xlabel, ylabel, log))
        if log:
            from metarl.sine_plot import plot_sine_fits

            written.append(plot_sine_fits(run))
    if run.metrics.exists():
        written.append(plot_meta_training(run, family, column, val_label, log))
    for path in written:
        print(f"wrote {path}")
    return written


def plot_adaptation(run: RunDir, family: str, xlabel: str = RL_AXES[0],
                    ylabel: str = RL_AXES[1], log: bool = False) -> Path:
    """Score (return, error) against inner updates per method, with 95% CI bands and the
    oracle's level; ``log`` draws the score on a log scale."""
    summary = read_csv(run.eval / "summary.csv")
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    n_tasks = n_seeds = 0
    for method in dict.fromkeys(r["method"] for r in summary):
        rows = sorted((r for r in summary if r["method"] == method), key=lambda r: int(r["k"]))
        ks = [int(r["k"]) for r in rows]
        mean = [float(r["mean"]) for r in rows]
        ci = [0.0 if math.isnan(float(r["ci95"])) else float(r["ci95"]) for r in rows]
        n_tasks, n_seeds = int(rows[0]["tasks"]), int(rows[0]["seeds"])
        color = COLORS.get(method)
        ax.plot(ks, mean, marker="o", color=color, label=LABELS.get(method, method))
        ax.fill_between(ks, [m - c for m, c in zip(mean, ci, strict=True)],
                        [m + c for m, c in zip(mean, ci, strict=True)], color=color, alpha=0.2)
        if len(ks) <= 12:
            ax.set_xticks(ks)
    if log:
        ax.set_yscale("log")
    oracle_path = run.eval / "oracle.csv"
    if oracle_path.exists():
        oracle = read_csv(oracle_path)
        level, _ = mean_ci95([float(r["return"]) for r in oracle])
        ax.axhline(level, color="black", ls="--", lw=1,
                   label=f"oracle (PPO, {oracle[0]['iterations']} updates per task)")
    settings = run.eval / "eval.toml"
    split = read_toml(settings)["eval"]["split"] if settings.exists() else "test"
    which = "held-out" if split == "test" else "validation"
    ax.set_title(f"{family}: adaptation to {n_tasks} {which} tasks "
                 f"({n_seeds} seed{'s' if n_seeds > 1 else ''})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, title="initialisation (shaded: 95% CI)", title_fontsize=8)
    return save_figure(fig, run.plots / "adaptation.png")


def plot_meta_training(run: RunDir, family: str, column: str = RL_AXES[2],
                       ylabel: str = "validation return", log: bool = False) -> Path:
    """Validation score (``column`` of ``metrics.csv``) against meta-iteration, one line per
    trained method; ``log`` draws it on a log scale."""
    rows = read_metrics(run.metrics)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for method in dict.fromkeys(r["method"] for r in rows):
        points = [(int(r["iteration"]), float(r[column])) for r in rows
                  if r["method"] == method and not math.isnan(float(r[column]))]
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, marker=".", color=COLORS.get(method),
                    label=LABELS.get(method, method))
    ax.set_title(f"{family}: meta-training progress on the validation tasks")
    ax.set_xlabel("meta-iteration")
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if ax.get_lines():
        ax.legend(fontsize=8)
    else:  # no validation point yet (fewer meta-iterations than meta.val_every)
        ax.text(0.5, 0.5, "no validation score yet", ha="center", va="center",
                transform=ax.transAxes)
    return save_figure(fig, run.plots / "meta_training.png")


def save_figure(fig: plt.Figure, path: Path) -> Path:
    """Write ``fig`` to ``path`` (creating its directory) and close it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
