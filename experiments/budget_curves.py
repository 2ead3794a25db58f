"""Return after k updates against meta-training env steps and wall time, per method, over runs.

Reads runs evaluated with ``eval.checkpoint = "best_val"``: ``eval/selection.csv`` holds every
checkpoint's mean return after k = 0..K updates on the validation tasks (each method by its own
rule: MAML by its VPG steps, the others by the evaluation's PPO), and ``metrics.csv`` the env steps
and the wall time of the meta-iteration that wrote it. Prints, for each method, the mean over runs
at each checkpoint, and draws ``--out``: the return after ``--k`` updates against env steps and
against wall time (one line per method, the runs' mean). Reads CSV files only.

With ``--metrics`` it reads the validation return that meta-training itself logged instead
(``val_return`` in ``metrics.csv``, every ``meta.val_every`` meta-iterations, after
``meta.val_updates`` updates on ``meta.val_tasks`` validation tasks, each method by its own rule):
for runs evaluated at their last checkpoint, which have no ``selection.csv``.

Usage: ``python experiments/budget_curves.py RUN [RUN ...] [--k 1 | --metrics] [--out FILE.png]``
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

from metarl.figures import COLORS, LABELS, new_figure, save_figure
from metarl.report.files import read_csv


def curves(runs: list[Path], k: int | None
           ) -> dict[str, list[tuple[int, float, float, float]]]:
    """``{method: [(iteration, env steps, wall time s, return after k), ...]}``, means over
    the runs at each checkpoint that every run has (``k = None``: the ``val_return`` logged in
    ``metrics.csv``)."""
    per_run: dict[str, dict[int, list[tuple[float, float, float]]]] = defaultdict(
        lambda: defaultdict(list))
    for run in runs:
        rows = read_csv(run / "metrics.csv")
        metrics = {(r["method"], int(r["iteration"])): r for r in rows}
        if k is None:
            scored = [(r["method"], int(r["iteration"]), float(r["val_return"])) for r in rows
                      if r["val_return"] not in ("", "nan")]
        else:
            scored = [(r["method"], int(r["iteration"]), float(r["return"]))
                      for r in read_csv(run / "eval" / "selection.csv") if int(r["k"]) == k]
        for method, iteration, ret in scored:
            m = metrics[(method, iteration)]
            per_run[method][iteration].append(
                (float(m["env_steps"]), float(m["wall_time_s"]), ret))
    out: dict[str, list[tuple[int, float, float, float]]] = {}
    for method, by_iteration in per_run.items():
        out[method] = [(it, *(sum(v[i] for v in values) / len(values) for i in range(3)))
                       for it, values in sorted(by_iteration.items())
                       if len(values) == len(runs)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--k", type=int, default=1, help="updates after which the return counts")
    parser.add_argument("--metrics", action="store_true",
                        help="read val_return from metrics.csv (after meta.val_updates updates)")
    parser.add_argument("--out", type=Path, help="write the figure here (PNG)")
    args = parser.parse_args()
    table = curves(args.runs, None if args.metrics else args.k)
    after = "meta.val_updates" if args.metrics else f"k = {args.k}"
    print(f"{len(args.runs)} runs: validation return after {after} updates (each method "
          "by its own rule), mean over runs, at each checkpoint")
    print("| method | meta-iteration | env steps | wall time (s) | return |")
    print("| --- | --- | --- | --- | --- |")
    for method, points in table.items():
        for it, steps, wall, ret in points:
            print(f"| {method} | {it} | {steps / 1e6:.1f}M | {wall:.0f} | {ret:.2f} |")
    if args.out:
        fig = new_figure(figsize=(10, 4))
        by_steps, by_time = fig.subplots(1, 2, sharey=True)
        for method, points in table.items():
            label = LABELS.get(method, method)
            color = COLORS.get(method)
            by_steps.plot([p[1] / 1e6 for p in points], [p[3] for p in points], marker=".",
                          color=color, label=label)
            by_time.plot([p[2] / 60 for p in points], [p[3] for p in points], marker=".",
                         color=color, label=label)
        by_steps.set_xlabel("meta-training env steps (millions)")
        by_time.set_xlabel("meta-training wall time (minutes)")
        by_steps.set_ylabel(f"validation return after {after} update(s)")
        by_steps.legend()
        for ax in (by_steps, by_time):
            ax.grid(alpha=0.3)
        save_figure(fig, args.out)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
