"""An evaluated run's returns split by one task parameter of its held-out tasks.

A run's ``eval/curves.csv`` holds every method's return on every held-out task after k updates. This
script groups those tasks by one parameter (each value of a discrete one such as CartPoleDirection's
``direction``; quantile bins of a continuous one such as CartPoleMass's ``length``; with ``--norm``,
quantile bins of a vector parameter's length, such as the distance of Navigation2D's ``goal`` from
the start) and prints, per method and k, the mean return of each group (each task's mean over the
evaluation seeds, ± 95% CI over the group's tasks). The tasks are rebuilt from the run's config and
``eval/eval.toml``, so they are the ones the evaluation used.

    python experiments/returns_by_task.py runs/cartpole_direction --field direction
    python experiments/returns_by_task.py runs/cartpole_mass --field length --bins 3 --k 0 3 10
    python experiments/returns_by_task.py runs/navigation2d_quick --field goal --norm
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import torch

from metarl.report.files import read_settings
from metarl.report.stats import mean_ci95
from metarl.report.summary import task_means
from metarl.rl.components import build_components
from metarl.rl.config import EvalConfig
from metarl.runs.run_dir import RunDir


def task_groups(values: torch.Tensor, bins: int) -> tuple[list[str], list[int]]:
    """Group labels and each task's group: one group per value if there are at most ``bins``
    distinct values, else ``bins`` quantile bins (labelled by their value ranges)."""
    distinct = sorted(set(values.tolist()))
    if len(distinct) <= bins:
        return [f"{v:g}" for v in distinct], [distinct.index(v) for v in values.tolist()]
    edges = torch.quantile(values.double(), torch.linspace(0, 1, bins + 1, dtype=torch.float64))
    group = (torch.bucketize(values.double(), edges[1:-1], right=True)).tolist()
    labels = [f"[{edges[b]:.3g}, {edges[b + 1]:.3g}]" for b in range(bins)]
    return labels, group


def main(argv: list[str] | None = None) -> int:
    """Print the grouped table of an evaluated run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="an evaluated run directory")
    parser.add_argument("--field", required=True, help="the task parameter to group by")
    parser.add_argument("--bins", type=int, default=3,
                        help="groups of a continuous parameter (quantile bins)")
    parser.add_argument("--norm", action="store_true",
                        help="group by the length of a vector parameter (e.g. goal)")
    parser.add_argument("--k", type=int, nargs="+", default=None,
                        help="numbers of updates to show (default: all evaluated)")
    args = parser.parse_args(argv)
    run = RunDir(args.run)
    try:
        settings = read_settings(run.eval, EvalConfig)
    except ValueError as error:
        sys.exit(str(error))
    family, _, _ = build_components(run.load_config())
    fields = family.params_type.field_names()
    if args.field not in fields:
        sys.exit(f"--field={args.field!r} is not a task parameter of {family.name}; expected one "
                 f"of {', '.join(fields)}")
    if args.bins < 1:
        sys.exit(f"--bins={args.bins} must be a positive integer")
    tasks = family.tasks.sample(settings.test_tasks, split=settings.split)  # type: ignore[arg-type]
    values = getattr(tasks, args.field)
    name = f"length of {args.field}" if args.norm else args.field  # no '|' in a Markdown cell
    vector = values.dim() > 1
    if args.norm != vector:
        sys.exit(f"--field={args.field!r} has shape {tuple(values.shape[1:])} per task: "
                 + ("--norm groups vector parameters by their length" if args.norm else
                    "pass --norm to group it by its length"))
    if args.norm:
        values = values.norm(dim=1)
    labels, group = task_groups(values, args.bins)
    with open(run.eval / "curves.csv", newline="") as f:
        means = task_means(list(csv.DictReader(f)))
    ks = args.k if args.k is not None else sorted({k for _, k in means})
    counts = [group.count(g) for g in range(len(labels))]
    print(f"{family.name}: {args.run}, {settings.test_tasks} {settings.split} tasks grouped by "
          f"{name}; mean return after k updates ± 95% CI over the group's tasks")
    print()
    print("| method | k | " + " | ".join(f"{name} {lab} ({n} tasks)"
                                       for lab, n in zip(labels, counts, strict=True)) + " |")
    print("| --- | --- |" + " --- |" * len(labels))
    for method in dict.fromkeys(m for m, _ in means):
        for k in ks:
            per_task = means.get((method, k))
            if per_task is None:
                continue
            cells = []
            for g in range(len(labels)):
                mean, ci = mean_ci95([r for t, r in per_task.items() if group[t] == g])
                cells.append(f"{mean:.2f} ± {ci:.2f}")
            print(f"| {method} | {k} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
