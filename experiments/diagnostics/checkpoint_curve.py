"""Does more meta-training help? Adaptation of every saved checkpoint of a run.

For each checkpoint of a method (``checkpoints/<method>/iter_*.pt``), adapts its theta on the
family's validation tasks (or test tasks) for k = 0..K inner updates with the run's inner learner
and prints the mean return after each k, averaged over the tasks and the evaluation seeds.

Usage: ``python experiments/diagnostics/checkpoint_curve.py runs/navigation2d_quick
[--method reptile] [--split val] [--tasks 40] [--updates 3] [--episodes 40] [--seeds 0 1]``
"""

from __future__ import annotations

import argparse

import run_adaptation
import torch

from metarl.runs.checkpoint import load_checkpoint
from metarl.runs.selection import checkpoints


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    run_adaptation.add_arguments(parser, methods="reptile or fomaml", episodes=40)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()
    run, _, _, ppo, tasks = run_adaptation.load(args)
    paths = checkpoints(run, args.method).values()
    print(f"{args.method} of {args.run}: mean return on {args.tasks} {args.split} tasks, "
          f"{args.episodes} episodes per update, seeds {args.seeds}")
    print("checkpoint     | " + " | ".join(f"k={k:<5d}" for k in range(args.updates + 1)))
    for path in paths:
        theta = load_checkpoint(path)["theta"]
        returns = torch.stack([
            ppo.adapt(theta, tasks, args.updates, torch.Generator().manual_seed(seed),
                      evaluate_final=True).returns.mean(dim=1)
            for seed in args.seeds
        ]).mean(dim=0)
        print(f"{path.stem:14s} | " + " | ".join(f"{r:7.2f}" for r in returns.tolist()),
              flush=True)


if __name__ == "__main__":
    main()
