"""Why Reptile's adaptation stops improving and then degrades: one change per row, read from the
validation curve every run writes to ``metrics.csv``.

Each row meta-trains Reptile alone (``eval.methods = ["reptile"]``, no evaluation) with one
setting changed, validating every ``meta.val_every`` meta-iterations on the family's fixed
validation tasks after k = 0..K updates of the training inner learner (``meta.val_updates = K``,
3 unless ``--set`` says otherwise). The test tasks are never touched. The table gives, per row
and seed, the validation score (the mean return over k = 1..K) of the initialisation, of the best
validated iteration and of the last, and last minus best; then the k = 0 and k = K means at the
best and the last. Runs land in ``OUT/<row name>/seed_<s>`` and are resumed when present;
``--jobs`` runs trains that many side by side (one torch thread each). ``--score`` then adapts
the initialisation and every ``--score-every``-th checkpoint with the evaluation's inner learner
(the one the README's tables use) on ``--score-tasks`` validation tasks for each of
``--score-seeds``, and compares the last checkpoint with the best, paired over tasks.

Usage: ``python experiments/degradation.py [experiments/navigation2d.toml] [--seeds 0]
[--rows N ...] [--out runs/degradation] [--jobs 2] [--set key=value ...] [--score]``;
``python experiments/degradation.py --score-runs RUN ... [--score-every 5]`` scores existing runs.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from metarl.problems import problem_of
from metarl.report.files import read_csv, write_csv
from metarl.report.stats import mean_ci95
from metarl.runs.run_dir import RunDir
from metarl.runs.selection import checkpoint_theta, checkpoints
from metarl.training import make_trainer

# (row name, overrides of the base config)
ROWS: list[tuple[str, list[str]]] = [
    ("config as given", []),
    ("outer step not annealed", ["meta.anneal=false"]),
    ("value function not meta-learned", ['meta.groups=["body","head"]']),
    ("no bound penalty", ["ppo.bound_coef=0.0"]),
    ("meta-batch 40", ["meta.meta_batch=40"]),
    ("1 inner PPO iteration per task", ["meta.inner_iterations=1"]),
    ("outer step 0.5, annealed", ["meta.epsilon=0.5"]),
    ("outer step 0.1, not annealed", ["meta.epsilon=0.1", "meta.anneal=false"]),
]


def row_dir(out: Path, name: str) -> Path:
    """A row's folder, named after the row (adding rows never resumes another's run)."""
    return out / re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def train(config: str, run_dir: Path, overrides: list[str], seed: int) -> None:
    """``metarl train`` of Reptile alone, in a process of its own with one torch thread."""
    command = [sys.executable, "-m", "metarl", "train", config, "--out", str(run_dir),
               "--quiet", "--no-eval", "--seed", str(seed), "--set", 'eval.methods=["reptile"]',
               "--set", "run.threads=1", "--set", "run.jobs=1"]
    for change in overrides:
        command += ["--set", change]
    if (run_dir / "config.toml").exists():
        command.append("--resume")
    log = run_dir.with_suffix(".log")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as f:
        subprocess.run(command, check=True, stdout=f, stderr=subprocess.STDOUT,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})


def scores(metrics: Path) -> list[tuple[int, float, float, float]]:
    """``(iteration, score, k=0 mean, k=K mean)`` of every validated row of Reptile, the score
    being the mean over k = 1..K (k = 0 when K = 0)."""
    rows = [r for r in read_csv(metrics) if r["method"] == "reptile"]
    ks = sorted(int(c[5:]) for c in rows[0] if c.startswith("val_k") and c[5:].isdigit())
    out = []
    for r in rows:
        means = [float(r[f"val_k{k}"]) for k in ks]
        if not math.isnan(means[0]):
            adapted = means[1:] or means
            out.append((int(r["iteration"]), sum(adapted) / len(adapted), means[0], means[-1]))
    return out


def table_row(name: str, seed: int, points: list[tuple[int, float, float, float]]) -> str:
    """One Markdown row: the initialisation, the best and the last validated iterations."""
    first, last = points[0], points[-1]
    best = max(points, key=lambda p: p[1])
    return (f"| {name} | {seed} | {first[1]:.2f} | {best[1]:.2f} (it. {best[0]}) | "
            f"{last[1]:.2f} (it. {last[0]}) | {last[1] - best[1]:+.2f} | "
            f"{best[2]:.2f} / {last[2]:.2f} | {best[3]:.2f} / {last[3]:.2f} |")


def score_checkpoints(run_dir: Path, tasks: int, seeds: list[int], every: int
                      ) -> dict[int, list[float]]:
    """``{iteration: per-task score}`` of Reptile's initialisation and of every checkpoint
    whose iteration is a multiple of ``every`` (and the last), adapted by the evaluation's
    inner learner (``[eval.ppo]``, ``eval.episodes``, ``eval.updates``) on ``tasks`` validation
    tasks, each task's score the mean over ``seeds`` and k = 1..K; all at once, 40 tasks per call.
    Cached in ``RUN/checkpoint_scores.csv``."""
    cache = run_dir / "checkpoint_scores.csv"
    if cache.exists():
        table: dict[int, list[float]] = {}
        for r in read_csv(cache):
            table.setdefault(int(r["iteration"]), []).append(float(r["score"]))
        return table
    config = RunDir(run_dir).load_config()
    problem = problem_of(config)
    learner = problem.evaluator(config, problem.eval_settings(config, {})).learner
    found = checkpoints(RunDir(run_dir), "reptile")
    thetas = {0: make_trainer("reptile", config, torch.device("cpu")).theta}
    thetas |= {it: checkpoint_theta(path) for it, path in found.items()
               if it % every == 0 or it == max(found)}
    val = learner.sample_tasks(tasks, split="val")
    updates = config.eval.updates
    starts = [(theta, seed) for theta in thetas.values() for seed in seeds]
    curves = learner.evaluation_curves(starts, val, updates, 40)  # [starts, K + 1, T]
    scores = curves.view(len(thetas), len(seeds), updates + 1, tasks)[:, :, 1:].mean(dim=(1, 2))
    table = {it: row.tolist() for it, row in zip(thetas, scores, strict=True)}
    write_csv(cache, ("iteration", "task", "score"),
              [{"iteration": it, "task": t, "score": round(v, 4)}
               for it, row in table.items() for t, v in enumerate(row)])
    return table


def score_average(run_dir: Path, first: int, tasks: int, seeds: list[int]) -> list[float]:
    """Per-task score (as :func:`score_checkpoints`) of the average of Reptile's checkpoints from
    meta-iteration ``first`` on: the iterates' mean, which a random walk of theta around a good
    region leaves near its centre."""
    config = RunDir(run_dir).load_config()
    problem = problem_of(config)
    learner = problem.evaluator(config, problem.eval_settings(config, {})).learner
    kept = [checkpoint_theta(path) for it, path in checkpoints(RunDir(run_dir), "reptile").items()
            if it >= first]
    theta = {k: torch.stack([t[k] for t in kept]).mean(dim=0) for k in kept[0]}
    val = learner.sample_tasks(tasks, split="val")
    updates = config.eval.updates
    curves = learner.evaluation_curves([(theta, seed) for seed in seeds], val, updates, 40)
    return curves[:, 1:].mean(dim=(0, 1)).tolist()


def score_row(name: str, seed: int, table: dict[int, list[float]]) -> str:
    """One Markdown row of the evaluation learner's scores: the initialisation, the best and the
    last checkpoint, and last minus best paired over the tasks with its 95% CI."""
    means = {it: sum(v) / len(v) for it, v in table.items()}
    last = max(table)
    best = max((it for it in table if it > 0), key=lambda it: means[it])
    diff, ci = mean_ci95([a - b for a, b in zip(table[last], table[best], strict=True)])
    curve = " ".join(f"{it}:{means[it]:.2f}" for it in sorted(table))
    return (f"| {name} | {seed} | {means[0]:.2f} | {means[best]:.2f} (it. {best}) | "
            f"{means[last]:.2f} | {diff:+.2f} ± {ci:.2f} | {curve} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default="experiments/navigation2d.toml")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", default="runs/degradation")
    parser.add_argument("--rows", type=int, nargs="+", help="row numbers to run (default all)")
    parser.add_argument("--jobs", type=int, default=2, help="runs trained side by side")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="change the base config of every row (default meta.val_updates=3)")
    parser.add_argument("--score", action="store_true",
                        help="also score the checkpoints with the evaluation's inner learner")
    parser.add_argument("--score-tasks", type=int, default=40)
    parser.add_argument("--score-seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--score-every", type=int, default=20)
    parser.add_argument("--score-runs", type=Path, nargs="+", metavar="RUN",
                        help="only score these existing runs' Reptile checkpoints (any config)")
    parser.add_argument("--average-from", type=int, nargs="+", default=[], metavar="IT",
                        help="with --score-runs: also score the average of the checkpoints from "
                             "each IT on, paired against the last and the best checkpoint")
    args = parser.parse_args()
    if args.score_runs:
        torch.set_num_threads(1)
        print("| run | seed | initialisation | best | last | last - best (paired, 95% CI) | "
              "score by iteration |\n|" + " --- |" * 7, flush=True)
        for run_dir in args.score_runs:
            table = score_checkpoints(run_dir, args.score_tasks, args.score_seeds,
                                      args.score_every)
            seed = RunDir(run_dir).load_config().run.seed
            print(score_row(str(run_dir), seed, table), flush=True)
            last = table[max(table)]
            best = max((v for it, v in table.items() if it > 0), key=lambda v: sum(v))
            for first in args.average_from:
                average = score_average(run_dir, first, args.score_tasks, args.score_seeds)
                cells = []
                for name, other in (("- last", last), ("- best", best)):
                    diff, ci = mean_ci95([a - b for a, b in zip(average, other, strict=True)])
                    cells.append(f"{name} {diff:+.2f} ± {ci:.2f}")
                print(f"  average of checkpoints from {first}: {sum(average) / len(average):.2f}"
                      f" ({', '.join(cells)}; paired over tasks)", flush=True)
        return
    base = ["meta.val_updates=3", *args.set]
    out = Path(args.out)
    runs = [(name, [*base, *overrides], seed, row_dir(out, name) / f"seed_{seed}")
            for i, (name, overrides) in enumerate(ROWS) if not args.rows or i in args.rows
            for seed in args.seeds]
    with ThreadPoolExecutor(args.jobs) as pool:
        for future in [pool.submit(train, args.config, run_dir, changes, seed)
                       for _, changes, seed, run_dir in runs]:
            future.result()
    lines = ["| change | seed | initialisation | best | last | last - best | k=0 best / last "
             "| k=K best / last |", "|" + " --- |" * 8]
    for name, _, seed, run_dir in runs:
        lines.append(table_row(name, seed, scores(run_dir / "metrics.csv")))
    text = (f"Reptile on {args.config}, validation score (mean return over k = 1..K, training's "
            f"inner learner) by meta-iteration; changes {' '.join(base)}\n\n"
            + "\n".join(lines) + "\n")
    if args.score:
        torch.set_num_threads(1)
        lines = ["| change | seed | initialisation | best | last | last - best (paired, 95% CI) "
                 "| score by iteration |", "|" + " --- |" * 7]
        for name, _, seed, run_dir in runs:
            table = score_checkpoints(run_dir, args.score_tasks, args.score_seeds,
                                      args.score_every)
            lines.append(score_row(name, seed, table))
            print(lines[-1], flush=True)
        text += (f"\nThe same checkpoints (every {args.score_every} meta-iterations) adapted by "
                 f"the evaluation's inner learner on {args.score_tasks} validation tasks, seeds "
                 f"{args.score_seeds}: mean over k = 1..K and seeds\n\n" + "\n".join(lines)
                 + "\n")
    out.mkdir(parents=True, exist_ok=True)
    (out / "degradation.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
