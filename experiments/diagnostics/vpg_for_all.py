"""How does every initialisation adapt under MAML's rule, the VPG steps?

For finished runs with ``maml`` (``experiments/navigation2d_maml.toml``), adapts the checkpoint each
run's evaluation chose for every trained method, and scratch's initialisation, by the run's VPG
steps (``[vpg]`` with the ``[eval.vpg]`` changes, the evaluation's episodes and rollout length,
as ``maml-vpg``), on the run's test tasks and evaluation seeds, and prints the pooled table (each
task's mean over runs and seeds, ± 95% CI over tasks).

Usage: ``python experiments/diagnostics/vpg_for_all.py RUN [RUN ...]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from metarl.config import TRAINED
from metarl.problems import problem_of
from metarl.report.files import read_settings
from metarl.report.summary import ci_cells, curve_rows, summarize
from metarl.rl.maml import vpg_curve
from metarl.runs.run_dir import RunDir
from metarl.runs.selection import checkpoint_theta, checkpoints, evaluated_iteration


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    args = parser.parse_args()
    rows = []
    for index, path in enumerate(args.runs):
        run = RunDir(path)
        config = run.load_config()
        settings = read_settings(run.eval, type(config.eval))
        evaluator = problem_of(config).evaluator(config, settings)
        tasks = evaluator.learner.sample_tasks(settings.test_tasks, split=settings.split)
        for seed in settings.seeds:
            for method in settings.methods:
                if method in TRAINED:
                    it = evaluated_iteration(run, method)
                    theta = checkpoint_theta(checkpoints(run, method)[it])
                else:
                    theta = evaluator.initial_theta(seed, torch.device("cpu"))
                curve = vpg_curve(evaluator.vpg, theta, tasks, settings.updates, seed)
                rows += curve_rows(method, index * 10**6 + seed, curve, "return")
    cells = ci_cells(summarize(rows, "return"))
    ks = sorted({int(r["k"]) for r in rows})
    print(f"{len(args.runs)} runs; mean return after k VPG steps (MAML's rule), ± 95% CI over "
          "tasks\n")
    print("| method | " + " | ".join(f"k={k}" for k in ks) + " |")
    print("| --- | " + " | ".join("---" for _ in ks) + " |")
    for method in dict.fromkeys(str(r["method"]) for r in rows):
        print(f"| {method} | " + " | ".join(cells[(method, k)] for k in ks) + " |")


if __name__ == "__main__":
    main()
