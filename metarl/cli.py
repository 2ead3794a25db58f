"""The ``metarl`` command line.

``metarl envs`` lists the environment families, their task parameters and splits.
``metarl demo`` runs a random policy on the held-out tasks of every family and writes a plot; it is
the smoke test of an installation until meta-training lands.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import gymnasium as gym
import torch

from metarl.envs import FAMILIES


def cmd_envs(args: argparse.Namespace) -> int:
    """Print every registered family with its task parameters, ranges, defaults and splits."""
    for name, family_type in FAMILIES.items():
        family = family_type()
        print(f"{name}  ({family.gym_id})")
        print(f"  {family.description}")
        obs, act = family.observation_space, family.action_space
        act_text = (f"Discrete({act.n})" if isinstance(act, gym.spaces.Discrete)
                    else f"Box({act.low.min():g}, {act.high.max():g}, {act.shape})")
        print(f"  observation Box{obs.shape} {obs.dtype}, action {act_text}, "
              f"episode limit {family.max_episode_steps} steps")
        print("  task parameters:")
        for spec in family.tasks.specs:
            if spec.low == spec.high:
                sampling = f"fixed at {spec.low:g}"
            else:
                law = "log-uniform" if spec.log_uniform else "uniform"
                dims = f"^{spec.shape[0]}" if spec.shape else ""
                sampling = f"{law} in [{spec.low:g}, {spec.high:g}]{dims}"
            print(f"    {spec.name:<10} default {spec.default!s:<12} {sampling:<32} {spec.doc}")
        print("  splits:")
        sizes = family.default_split_sizes
        for split, text in family.tasks.describe().items():
            size = f" ({sizes[split]} tasks by default)" if split in sizes else ""
            print(f"    {split:<5} {text}{size}")
        print()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Random policy on each family's test tasks; prints returns and writes a trajectory plot."""
    from metarl.demo import run_demo

    run_demo(Path(args.out), seed=args.seed, num_envs=args.envs, device=torch.device(args.device),
             force=args.force)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``metarl`` command."""
    parser = argparse.ArgumentParser(
        prog="metarl", description="Meta-reinforcement learning: Reptile over batched PPO."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("envs", help="list environment families, task parameters and splits")
    p.set_defaults(func=cmd_envs)
    p = sub.add_parser("demo", help="random policy on every family's held-out tasks, with a plot")
    p.add_argument("--out", default="runs/demo", help="directory for the plot (default runs/demo)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--envs", type=int, default=20, help="environments per task (default 20)")
    p.add_argument("--device", default="cpu", help="torch device (cpu, cuda, ...)")
    p.add_argument("--force", action="store_true", help="overwrite an existing demo plot")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``metarl`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ValueError, FileExistsError) as err:
        print(f"metarl: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["build_parser", "main"]
