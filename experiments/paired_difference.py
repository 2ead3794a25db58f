"""The difference between two evaluations of the same tasks, paired task by task.

Two evaluation directories (``RUN/eval`` of ``metarl evaluate``, or a pooled ``OUT/eval`` of
``reptile_seeds.py``) on the same tasks, for instance the same runs evaluated with
``--checkpoint last`` and ``--checkpoint best_val``: for every method and k that both hold, the
mean over tasks of (B - A), each task's return first averaged over its seeds, with a 95%
confidence interval over tasks. Pairing removes the spread between tasks, so it resolves smaller
differences than comparing the two summaries' intervals.

Usage: ``python experiments/paired_difference.py A_EVAL_DIR B_EVAL_DIR``
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

from metarl.report.files import read_csv
from metarl.report.stats import mean_ci95
from metarl.report.summary import task_means


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path, help="evaluation directory A (the reference)")
    parser.add_argument("b", type=Path, help="evaluation directory B")
    args = parser.parse_args()
    a, b = (task_means(read_csv(d / "curves.csv")) for d in (args.a, args.b))
    pairs: dict[tuple[str, int], list[float]] = defaultdict(list)
    for key in a.keys() & b.keys():
        pairs[key] += [b[key][task] - a[key][task] for task in a[key].keys() & b[key].keys()]
    if not pairs:
        raise ValueError(f"{args.a} and {args.b} share no method, k and task")
    ks = sorted({k for _, k in pairs})
    print(f"B - A, mean over tasks ± 95% CI (A = {args.a}, B = {args.b})\n")
    print("| method | tasks | " + " | ".join(f"k={k}" for k in ks) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in ks) + " |")
    for method in dict.fromkeys(m for m, _ in a if (m, ks[0]) in pairs):
        cells = []
        for k in ks:
            diffs = pairs.get((method, k))
            cells.append("{:.2f} ± {:.2f}".format(*mean_ci95(diffs)) if diffs else "")
        print(f"| {method} | {len(pairs[(method, ks[0])])} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
