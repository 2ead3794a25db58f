"""Adaptation curves and meta-training curves as PNG files, drawn from CSV files alone.

``adaptation.png``: the mean score on the held-out tasks (return; or mean squared error, on a log
scale) against the number of inner updates, one line per method with its 95% confidence band, the
oracle as a dashed line (from ``eval/summary.csv``, ``oracle.csv`` and ``eval.toml``).
``meta_training.png``: each trained method's score on the validation tasks after k = 0..K inner
updates, with 95% CIs, against samples, meta-iterations and wall time (from ``metrics.csv``).
The words come from the run's problem (:class:`~metarl.problem.PlotLabels`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from metarl.config import read_toml
from metarl.figures import COLORS, LABELS, new_figure, save_figure
from metarl.report.files import read_csv, read_table
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


def _number(text: str | None) -> float:
    """A CSV cell as a float (empty: NaN)."""
    return float(text) if text not in (None, "") else math.nan


def plot_meta_training(metrics: Path, path: Path, family: str, samples: str = "env_steps",
                       ylabel: str = "validation return", log: bool = False) -> Path:
    """Meta-training progress on the validation tasks, from ``metrics.csv``: one column per
    trained method; in each, the score after k = 0..K inner updates (one line per k, shaded: the
    95% CI over the validation tasks) against the samples used (column ``samples``, meta-iterations
    on the top axis) and, below, against the training wall time. A file without the curve's
    columns (an older run's) draws its ``val_return``/``val_loss`` column alone. ``log`` draws
    the score on a log scale. Written to ``path``."""
    rows = read_csv(metrics)
    header = rows[0].keys() if rows else ()
    ks = sorted(int(c[5:]) for c in header if c.startswith("val_k") and c[5:].isdigit())
    old = next((c for c in ("val_return", "val_loss") if c in header), None)
    lines = ([(f"k = {k}", f"val_k{k}", f"val_k{k}_ci95") for k in ks] if ks else
             [("validation", old, None)] if old else [])
    methods = list(dict.fromkeys(r["method"] for r in rows))
    fig = new_figure(figsize=(max(6.4, 4.2 * len(methods)), 6.6))
    axes = fig.subplots(2, max(1, len(methods)), squeeze=False, sharey=True)
    colors = [f"C{i % 10}" for i in range(len(lines))] if len(lines) <= 10 else None
    drawn = False
    for col, method in enumerate(methods):
        mine = [r for r in rows if r["method"] == method]
        for row, x_name in enumerate((samples, "wall_time_s")):
            ax = axes[row][col]
            for i, (label, column, ci_column) in enumerate(lines):
                points = [(_number(r.get(x_name)), _number(r.get(column)),
                           _number(r.get(ci_column)) if ci_column else math.nan) for r in mine]
                points = [p for p in points if not math.isnan(p[0]) and not math.isnan(p[1])]
                if not points:
                    continue
                xs = [p[0] / 60 if x_name == "wall_time_s" else p[0] for p in points]
                ys = [p[1] for p in points]
                ci = [0.0 if math.isnan(p[2]) else p[2] for p in points]
                color = colors[i] if colors else None
                ax.plot(xs, ys, marker=".", color=color, label=label)
                ax.fill_between(xs, [y - c for y, c in zip(ys, ci, strict=True)],
                                [y + c for y, c in zip(ys, ci, strict=True)], color=color,
                                alpha=0.15)
                drawn = True
            ax.set_xlabel("training wall time (minutes)" if x_name == "wall_time_s"
                          else samples.replace("_", " "))
            if row == 0:
                ax.set_title(LABELS.get(method, method), fontsize=10)
                _iteration_axis(ax, mine, samples)
            if col == 0:
                ax.set_ylabel(ylabel)
            if log:
                ax.set_yscale("log")
            ax.grid(alpha=0.3)
    if drawn:
        axes[0][0].legend(fontsize=8, title="after k inner updates (shaded: 95% CI)",
                          title_fontsize=8)
    else:  # no validation point yet
        axes[0][0].text(0.5, 0.5, "no validation score yet", ha="center", va="center",
                        transform=axes[0][0].transAxes)
    fig.suptitle(f"{family}: meta-training progress\non the validation tasks", fontsize=11)
    return save_figure(fig, path)


def _iteration_axis(ax: Any, rows: list[dict[str, str]], samples: str) -> None:
    """A top axis of meta-iterations over a samples axis (one method's samples per iteration
    are constant)."""
    pairs = [(_number(r.get(samples)), _number(r.get("iteration"))) for r in rows]
    pairs = [(s, i) for s, i in pairs if i > 0 and s > 0]
    if not pairs:
        return
    per_iteration = pairs[-1][0] / pairs[-1][1]
    top = ax.secondary_xaxis("top", functions=(lambda s: s / per_iteration,
                                               lambda i: i * per_iteration))
    top.set_xlabel("meta-iteration", fontsize=8)


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
