"""The cost of a meta-iteration: Reptile, first-order MAML and second-order MAML in one process.

Builds each method's trainer from a config (default ``experiments/navigation2d_maml.toml``, MAML's
protocol) and times ``--iterations`` meta-iterations of each, one method after the other in the
same process, after one untimed warm-up iteration (validation excluded: ``meta.val_every`` is set
past the end). Prints the seconds per meta-iteration, the env steps per meta-iteration and the
ratio of each to Reptile's; the machine and thread count head the table.

Usage: ``python experiments/bench_maml.py [CONFIG] [--iterations 5] [--threads N] [--set ...]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from metarl.machine import describe_machine
from metarl.problems import load_config
from metarl.training import make_trainer

METHODS = ("reptile", "fomaml", "maml")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default="experiments/navigation2d_maml.toml")
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    config = load_config(Path(args.config), [*args.set, "meta.val_every=100000",
                                             'eval.methods=["reptile","fomaml","maml"]'])
    device = torch.device(config.run.device)
    print(f"{describe_machine()}; {args.config}, "
          f"{args.iterations} meta-iterations of {config.meta.meta_batch} tasks per method")
    print("| method | s per meta-iteration | env steps per meta-iteration | time / Reptile's | "
          "env steps / Reptile's |")
    print("| --- | --- | --- | --- | --- |")
    rows = []
    for method in METHODS:
        trainer = make_trainer(method, config, device)
        before = trainer.step()  # warm-up, and the env steps before the timed iterations
        began = time.perf_counter()
        for _ in range(args.iterations):
            record = trainer.step()
        seconds = (time.perf_counter() - began) / args.iterations
        steps = (record.env_steps - before.env_steps) / args.iterations
        rows.append((method, seconds, steps))
    base_s, base_steps = rows[0][1], rows[0][2]
    for method, seconds, steps in rows:
        print(f"| {method} | {seconds:.2f} | {steps / 1e3:.1f}k | {seconds / base_s:.2f} | "
              f"{steps / base_steps:.2f} |")


if __name__ == "__main__":
    main()
