"""The evaluation's adaptations at several batch sizes: every method x seed of a trained run.

Adapts the evaluated checkpoint of every trained method, and scratch, for every evaluation seed
on the run's test tasks (``metarl evaluate``'s adaptations, without the oracle), once per
``--max-tasks`` value: the most tasks adapted in one batched call (``TaskBlocks``: each start
draws the numbers it would draw alone, so every value gives the same curves up to float
rounding). Prints the seconds of each and their ratio to the first.

Usage: ``python experiments/bench_evaluation.py RUN_DIR [--max-tasks 40 100 480] [--threads N]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from metarl.config import resolve_device
from metarl.machine import describe_machine, use_threads
from metarl.problems import problem_of
from metarl.runs.run_dir import RunDir
from metarl.runs.selection import select_checkpoint
from metarl.training import trained_methods


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--max-tasks", type=int, nargs="+", default=[40, 100, 480])
    parser.add_argument("--threads", type=int, help="torch threads (default: run.threads)")
    args = parser.parse_args()
    run = RunDir(args.run)
    config = run.load_config()
    use_threads(args.threads if args.threads is not None else config.run.threads)
    device = resolve_device(config.run.device)
    settings = config.eval
    evaluator = problem_of(config).evaluator(config, settings)
    learner = evaluator.learner
    tasks = learner.sample_tasks(settings.test_tasks, split=settings.split, device=device)
    thetas = {m: select_checkpoint(run, m, "last").theta for m in trained_methods(config)}
    starts = [(thetas[m] if m != "scratch" else evaluator.initial_theta(seed, device), seed)
              for seed in settings.seeds for m in settings.methods
              if m in thetas or m == "scratch"]
    print(describe_machine(device))
    print(f"{run.path}: {len(starts)} starts (methods x seeds) x {settings.test_tasks} tasks, "
          f"K={settings.updates}")
    first, curves = None, None
    for max_tasks in args.max_tasks:
        began = time.perf_counter()
        out = learner.evaluation_curves(starts, tasks, settings.updates, max_tasks)
        seconds = time.perf_counter() - began
        first = first or seconds
        gap = "" if curves is None else f", max |difference| {(out - curves).abs().max():.2g}"
        curves = out if curves is None else curves
        print(f"  at most {max_tasks:5d} tasks per call: {seconds:6.1f} s  "
              f"({first / seconds:.2f}x the first{gap})", flush=True)


if __name__ == "__main__":
    main()
