"""The best Navigation2D return of a policy that knows its goal's direction but not its distance.

An inner update that only learns which way the goal lies (not how far) can at best walk the same
distance ``r`` in the right direction for every goal. This script walks the mean policy straight to
``r * goal / |goal|`` (clipped steps, no noise, and optionally with exploration noise) for a grid of
``r`` and reports the mean return over the 40 goals of each split: the ceiling of a first update
that carries no distance information. The radius is chosen on the validation goals; the test
goals' return at that radius is the ceiling to compare with a method's return after one update,
with the exploration noise of ``--log-std`` added to compare like with like (the evaluated return
is the stochastic policy's). The last rows walk to the goal itself (direction and distance known)
and stay at the origin.

Usage: ``python experiments/diagnostics/direction_ceiling.py [--radii 0.2 0.25 ...] [--log-std -2.5]
[--episodes 200]``
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
from noise_floor import walk_return


def on_ray(radius: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """The point at ``radius`` from the origin in each goal's direction."""
    return lambda goal: radius * goal / goal.norm(dim=-1, keepdim=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--radii", type=float, nargs="+",
                        default=[0.2, 0.25, 0.3, 0.325, 0.35, 0.375, 0.4, 0.45, 0.5])
    parser.add_argument("--log-std", type=float, default=-2.5,
                        help="also report the returns with this exploration noise")
    parser.add_argument("--episodes", type=int, default=200, help="episodes per goal with noise")
    args = parser.parse_args()
    noisy = f"test, log-std {args.log_std:g}"
    print(f"walk to                 | val, no noise | test, no noise | {noisy}")
    targets = [(f"radius {radius:<5g} on the ray", on_ray(radius)) for radius in args.radii]
    targets += [("the goal", lambda goal: goal), ("the origin", torch.zeros_like)]
    rows = [(name, float(walk_return(target, None, 1, split="val").mean()),
             float(walk_return(target, None, 1).mean()),
             float(walk_return(target, args.log_std, args.episodes).mean()))
            for name, target in targets]
    for name, val, test, test_noisy in rows:
        print(f"{name:<23} | {val:13.2f} | {test:14.2f} | {test_noisy:{len(noisy)}.2f}")
    best = max(range(len(args.radii)), key=lambda i: rows[i][1])
    _, _, test, test_noisy = rows[best]
    print(f"best radius on the validation goals: {args.radii[best]:g}; on the test goals "
          f"{test:.2f} without noise, {test_noisy:.2f} with log-std {args.log_std:g}")


if __name__ == "__main__":
    main()
