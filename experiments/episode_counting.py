"""How a return is counted: every episode a rollout finishes, or each environment's first one.

metarl's evaluation scores the policy after k updates by the mean return of every episode that
finishes inside its rollout (``E`` environments x ``H`` steps with auto-reset), so an environment
that reaches its goal early contributes several short episodes, as rllab's batch sampler (MAML's)
collects paths until its step budget is spent. A sampler of a fixed number of episodes (one per
environment, as pytorch-maml-rl's) counts only the first. This script redoes the evaluation of
finished runs (the same settings, tasks, seeds, checkpoints and generators, so the every-episode
score reproduces ``eval/curves.csv``, which it checks) and reports both counts side by side, pooled
over the runs as the per-seed tables are: each task's mean over runs and seeds, +- a 95% CI over
tasks.

Usage: ``python experiments/episode_counting.py RUN [RUN ...] [--seeds S ...] [--out FILE.csv]``
(``--seeds``: evaluation seeds, default those of each run's evaluation, ``eval/eval.toml``).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch

from metarl.config import TRAINED
from metarl.problems import problem_of
from metarl.report.files import read_csv, read_settings, write_csv
from metarl.report.summary import ci_cells, summarize
from metarl.runs.run_dir import RunDir
from metarl.runs.selection import checkpoint_theta, checkpoints, evaluated_iteration

Row = dict[str, float | str | int]


def evaluate(run: RunDir, seeds: list[int] | None) -> list[Row]:
    """Both counts for every method and evaluation seed of one run."""
    config = run.load_config()
    settings = read_settings(run.eval, type(config.eval))  # what the run's evaluation used
    evaluator = problem_of(config).evaluator(config, settings)
    tasks = evaluator.learner.sample_tasks(settings.test_tasks, split=settings.split)
    recorded = {(r["method"], int(r["seed"]), int(r["task"]), int(r["k"])): float(r["return"])
                for r in read_csv(run.eval / "curves.csv")}
    rows: list[Row] = []
    for seed in seeds or list(settings.seeds):
        for method in settings.methods:
            if method in TRAINED:
                it = evaluated_iteration(run, method)
                theta = checkpoint_theta(checkpoints(run, method)[it])
            elif method == "scratch":
                theta = evaluator.initial_theta(seed, torch.device("cpu"))
            else:
                continue
            gen = torch.Generator().manual_seed
            outs = {method: evaluator.ppo.adapt(theta, tasks, settings.updates, gen(seed),
                                                evaluate_final=True)}
            if evaluator.own_rule(method) is not None:
                outs[str(evaluator.own_rule(method))] = evaluator.vpg.adapt(
                    theta, tasks, settings.updates, gen(seed), evaluate_final=True)
            for label, out in outs.items():
                for k in range(settings.updates + 1):
                    for task in range(settings.test_tasks):
                        every = out.returns[k, task].item()
                        old = recorded.get((label, seed, task, k))
                        if old is not None and not math.isclose(old, every, rel_tol=1e-4,
                                                                 abs_tol=1e-4):
                            print(f"warning: {run.path} {label} seed {seed} task {task} k {k}: "
                                  f"{every:.4f} here, {old:.4f} in curves.csv")
                        rows.append({"run": str(run.path), "method": label, "seed": seed,
                                     "task": task, "k": k, "return": every,
                                     "first_return": out.first_returns[k, task].item()})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--seeds", type=int, nargs="+")
    parser.add_argument("--out", type=Path, help="write every row to this CSV file")
    args = parser.parse_args()
    rows = [row for path in args.runs for row in evaluate(RunDir(path), args.seeds)]
    runs = list(dict.fromkeys(str(r["run"]) for r in rows))
    pooled = [{**r, "seed": runs.index(str(r["run"])) * 10**6 + int(r["seed"])}
              for r in rows]  # a (run, seed) pair is one sample of each task
    every = ci_cells(summarize(pooled, "return"))
    first = ci_cells(summarize(pooled, "first_return"))
    ks = sorted({int(r["k"]) for r in rows})
    methods = list(dict.fromkeys(str(r["method"]) for r in rows))
    print(f"{len(args.runs)} runs; mean return after k updates, every episode / first episode "
          "per environment (± 95% CI over tasks)\n")
    print("| method | count | " + " | ".join(f"k={k}" for k in ks) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in ks) + " |")
    for method in methods:
        for name, cells in (("every episode", every), ("first episode", first)):
            print(f"| {method} | {name} | " + " | ".join(cells[(method, k)] for k in ks) + " |")
    if args.out:
        write_csv(args.out, tuple(rows[0]), rows)


if __name__ == "__main__":
    main()
