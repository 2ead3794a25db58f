"""Summaries of adaptation curves: mean and 95% confidence interval over tasks, as tables.

Curve rows (``curves.csv``) hold one score per method, seed, task and k. A summary row is, per
method and k, the mean over tasks of each task's mean over seeds, with the 95% confidence
interval over tasks (:func:`~metarl.report.stats.mean_ci95`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

from metarl.report.stats import mean_ci95

SUMMARY_COLUMNS = ("method", "k", "mean", "ci95", "tasks", "seeds")

Row = dict[str, float | str | int]


def curve_columns(score: str, with_samples: bool) -> tuple[str, ...]:
    """The columns of ``curves.csv`` for a score named ``score`` (``return``, ``mse``), with
    ``env_steps`` when the samples of an update are counted."""
    return ("method", "seed", "task", "k", score, *(("env_steps",) if with_samples else ()))


def curve_rows(method: str, seed: int, curve: Sequence[Sequence[float]] | object, score: str,
               samples: int | None = None) -> list[Row]:
    """``curves.csv`` rows of one method and seed from a curve ``[K + 1, T]`` (a tensor or
    nested lists).

    :param score: the name of the score column.
    :param samples: samples per task and update (the ``env_steps`` column; ``None``: none).
    """
    values = curve.tolist() if hasattr(curve, "tolist") else curve
    rows: list[Row] = []
    for k, per_task in enumerate(values):  # type: ignore[arg-type]
        for task, value in enumerate(per_task):
            row: Row = {"method": method, "seed": seed, "task": task, "k": k, score: value}
            if samples is not None:
                row["env_steps"] = k * samples
            rows.append(row)
    return rows


def task_means(rows: Sequence[Row], value_key: str = "return"
               ) -> dict[tuple[str, int], dict[int, float]]:
    """``{(method, k): {task: mean over seeds}}`` of curve rows; NaN values are left out.

    :param value_key: the column averaged (``return``, ``mse``).
    """
    per_task: dict[tuple[str, int], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        value = float(r[value_key])
        if not math.isnan(value):
            per_task[(str(r["method"]), int(r["k"]))][int(r["task"])].append(value)
    return {key: {task: sum(v) / len(v) for task, v in tasks.items()}
            for key, tasks in per_task.items()}


def summarize(rows: Sequence[Row], value_key: str = "return") -> list[Row]:
    """Mean and 95% CI over tasks of the per-task mean over seeds, per method and k.

    :param value_key: the column averaged (``return``, ``mse``).
    """
    seeds: dict[tuple[str, int], set[int]] = defaultdict(set)
    for r in rows:
        seeds[(str(r["method"]), int(r["k"]))].add(int(r["seed"]))
    out: list[Row] = []
    for (method, k), tasks in task_means(rows, value_key).items():
        means = list(tasks.values())
        mean, ci = mean_ci95(means)
        out.append({"method": method, "k": k, "mean": round(mean, 4), "ci95": round(ci, 4),
                    "tasks": len(means), "seeds": len(seeds[(method, k)])})
    return out


def ci_cells(summary: Sequence[Row], digits: int = 2) -> dict[tuple[str, int], str]:
    """``{(method, k): "mean ± ci95"}`` of :func:`summarize` rows, to ``digits`` decimals."""
    return {(str(r["method"]), int(r["k"])): f"{float(r['mean']):.{digits}f} ± "
                                             f"{float(r['ci95']):.{digits}f}" for r in summary}


def updates_to_threshold(summary: Sequence[Row], threshold: float) -> dict[str, int | None]:
    """Per method, the first k whose mean score over tasks is ``>= threshold`` (``None``: never).

    :param summary: rows of :func:`summarize`.
    """
    first: dict[str, int | None] = {}
    for r in sorted(summary, key=lambda r: int(r["k"])):
        method = str(r["method"])
        first.setdefault(method, None)
        if first[method] is None and float(r["mean"]) >= threshold:
            first[method] = int(r["k"])
    return first


def summary_markdown(summary: Sequence[Row], title: str, ks: Sequence[int] | None = None,
                     digits: int = 2, oracle: Sequence[Row] = (),
                     threshold: float | None = None) -> str:
    """The summary as a Markdown table under ``title``: one row per method, one column per k in
    ``ks`` (default: every k); then the oracle's level (``oracle.csv`` rows) and, with a
    ``threshold``, the inner updates each method needs to reach it."""
    every = sorted({int(r["k"]) for r in summary})
    ks = list(ks) if ks is not None else every
    cell = ci_cells(summary, digits)
    lines = [title, "",
             "| method | " + " | ".join(f"k={k}" for k in ks) + " |",
             "| --- | " + " | ".join("---" for _ in ks) + " |"]
    for method in dict.fromkeys(r["method"] for r in summary):
        lines.append(f"| {method} | " + " | ".join(cell.get((str(method), k), "") for k in ks)
                     + " |")
    if oracle:
        mean, ci = mean_ci95([float(r["return"]) for r in oracle])
        lines += ["", f"oracle (PPO from scratch, {oracle[0]['iterations']} iterations per "
                      f"task): {mean:.2f} ± {ci:.2f}"]
    if threshold is not None:
        reached = updates_to_threshold(summary, threshold)
        lines += ["", f"inner updates to a mean return >= {threshold:g}: " + "; ".join(
            f"{m} {k if k is not None else f'not within {max(every)}'}"
            for m, k in reached.items())]
    return "\n".join(lines) + "\n"
