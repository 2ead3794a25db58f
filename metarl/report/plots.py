"""Adaptation curves and meta-training curves as PNG files, drawn from CSV files alone.

``adaptation.png``: the mean score on the held-out tasks (return; or mean squared error, on a log
scale) against the number of inner updates, one line per method with its 95% confidence band, the
oracle as a dashed line (from ``eval/summary.csv``, ``oracle.csv`` and ``eval.toml``).
``meta_training.png``: the validation score against the meta-iteration, one line per trained
method (from ``metrics.csv``). The words come from the run's problem
(:class:`~metarl.problem.PlotLabels`).
"""

from __future__ import annotations

import math
from pathlib import Path

from metarl.config import read_toml
from metarl.figures import COLORS, LABELS, new_figure, save_figure
from metarl.report.files import read_table
from metarl.report.stats import mean_ci95


def plot_adaptation(eval_dir: Path, path: Path, family: str,
                    xlabel: str = "inner PPO updates k on the new task",
                    ylabel: str = "mean episode return after k updates", log: bool = False
                    ) -> Path:
    """Score (return, error) against inner updates per method, with 95% CI bands and the
    oracle's level, from the evaluation files in ``eval_dir``; ``log`` draws the score on a
    log scale. Written to ``path``."""
    summary = read_table(eval_dir / "summary.csv", {"method": str, "k": int, "mean": float,
                                                    "ci95": float, "tasks": int, "seeds": int})
    fig = new_figure(figsize=(6.4, 4.4))
    ax = fig.subplots()
    n_tasks = n_seeds = 0
    for method in dict.fromkeys(r["method"] for r in summary):
        rows = sorted((r for r in summary if r["method"] == method), key=lambda r: r["k"])
        ks = [r["k"] for r in rows]
        mean = [r["mean"] for r in rows]
        ci = [0.0 if math.isnan(r["ci95"]) else r["ci95"] for r in rows]
        n_tasks, n_seeds = rows[0]["tasks"], rows[0]["seeds"]
        color = COLORS.get(method)
        ax.plot(ks, mean, marker="o", color=color, label=LABELS.get(method, method))
        ax.fill_between(ks, [m - c for m, c in zip(mean, ci, strict=True)],
                        [m + c for m, c in zip(mean, ci, strict=True)], color=color, alpha=0.2)
        if len(ks) <= 12:
            ax.set_xticks(ks)
    if log:
        ax.set_yscale("log")
    oracle_path = eval_dir / "oracle.csv"
    if oracle_path.exists():
        oracle = read_table(oracle_path, {"iterations": int, "return": float})
        level, _ = mean_ci95([r["return"] for r in oracle])
        ax.axhline(level, color="black", ls="--", lw=1,
                   label=f"oracle (PPO, {oracle[0]['iterations']} updates per task)")
    settings = eval_dir / "eval.toml"
    split = "test"
    if settings.exists():
        try:
            split = read_toml(settings)["eval"]["split"]
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{settings} is not an eval.toml metarl wrote ({err}); rerun "
                             "metarl evaluate") from None
    which = "held-out" if split == "test" else "validation"
    ax.set_title(f"{family}: adaptation to {n_tasks} {which} tasks "
                 f"({n_seeds} seed{'s' if n_seeds > 1 else ''})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, title="initialisation (shaded: 95% CI)", title_fontsize=8)
    return save_figure(fig, path)


def plot_meta_training(metrics: Path, path: Path, family: str, column: str = "val_return",
                       ylabel: str = "validation return", log: bool = False) -> Path:
    """Validation score (``column`` of the ``metrics`` CSV) against meta-iteration, one line per
    trained method; ``log`` draws it on a log scale. Written to ``path``."""
    rows = read_table(metrics, {"method": str, "iteration": int, column: float},
                      allow_empty=True)  # a run stopped before its first meta-iteration
    fig = new_figure(figsize=(6.4, 4.4))
    ax = fig.subplots()
    for method in dict.fromkeys(r["method"] for r in rows):
        points = [(r["iteration"], r[column]) for r in rows
                  if r["method"] == method and not math.isnan(r[column])]
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
    return save_figure(fig, path)


def plot_comparison(rows: list[dict[str, float | str | int]], path: Path, ylabel: str,
                    log: bool = False) -> Path:
    """Each entry's statistic against k with its confidence band (``rows``: ``entry``, ``k``,
    ``value``, ``low``, ``high``), written to ``path``."""
    fig = new_figure(figsize=(6.4, 4.4))
    ax = fig.subplots()
    for i, entry in enumerate(dict.fromkeys(str(r["entry"]) for r in rows)):
        points = sorted((r for r in rows if r["entry"] == entry), key=lambda r: int(r["k"]))
        ks = [int(r["k"]) for r in points]
        color = COLORS.get(entry.split(":")[-1], f"C{i % 10}")
        ax.plot(ks, [float(r["value"]) for r in points], marker="o", color=color,
                label=LABELS.get(entry, entry))
        ax.fill_between(ks, [float(r["low"]) for r in points],
                        [float(r["high"]) for r in points], color=color, alpha=0.2)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("inner updates k on the new task")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, title="shaded: 95% stratified-bootstrap CI", title_fontsize=8)
    return save_figure(fig, path)
