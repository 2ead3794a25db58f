"""How hard a Navigation2D initialisation pulls back toward the centre, checkpoint by checkpoint.

For every checkpoint of a trained method, the initialisation's mean action (before the
environment clips it to +-0.1 per axis) at 16 points on circles of radius 0.1, 0.3 and 0.5 around
the origin: its mean outward component (negative: pulling back toward the centre) and its mean
length. Actions past the bound all move the agent alike, so nothing in the returns stops a mean
from drifting far past it; an adaptation must then undo the excess before the agent can walk
out there. With ``--selection``, each checkpoint's validation returns after k = 1..K updates from
``eval/selection.csv`` (written by ``metarl evaluate --checkpoint best_val``) are printed beside.

Usage: ``python experiments/diagnostics/mean_field.py runs/navigation2d_seeds/seed_0
[--method reptile] [--selection]``
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import torch

from metarl.agents.actor_critic import ActorCritic
from metarl.agents.param_tree import Params, stack
from metarl.envs.navigation2d import MAX_SPEED
from metarl.rl.components import build_components
from metarl.runs.checkpoint import load_checkpoint
from metarl.runs.run_dir import RunDir
from metarl.runs.selection import checkpoints

RADII = (0.1, 0.3, 0.5)
POINTS = 16


def outward_pull(policy: ActorCritic, theta: Params, radius: float) -> tuple[float, float]:
    """Mean outward component and mean length of the mean action on a circle of ``radius``."""
    angle = torch.arange(POINTS) * (2 * torch.pi / POINTS)
    unit = torch.stack([angle.cos(), angle.sin()], dim=1)
    with torch.no_grad():
        mean = policy.mode(stack(theta, 1), (radius * unit).unsqueeze(0))[0]
    return (mean * unit).sum(dim=1).mean().item(), mean.norm(dim=1).mean().item()


def validation_returns(run: RunDir, method: str) -> dict[int, list[float]]:
    """``{meta-iteration: [return after k = 1..K]}`` from the run's checkpoint selection."""
    path = run.eval / "selection.csv"
    if not path.is_file():
        raise SystemExit(f"{path} does not exist: run metarl evaluate {run.path} "
                         "--checkpoint best_val first, or leave out --selection")
    found: dict[int, dict[int, float]] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            if row["method"] == method and int(row["k"]) > 0:
                found.setdefault(int(row["iteration"]), {})[int(row["k"])] = float(row["return"])
    if not found:
        raise SystemExit(f"{path} has no {method} rows: run metarl evaluate {run.path} --methods "
                         f"{method} --checkpoint best_val first, or leave out --selection")
    return {it: [r[k] for k in sorted(r)] for it, r in found.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a Navigation2D run directory")
    parser.add_argument("--method", default="reptile")
    parser.add_argument("--selection", action="store_true",
                        help="print each checkpoint's validation returns beside")
    args = parser.parse_args()
    run = RunDir(args.run)
    family, policy, _ = build_components(run.load_config())
    if family.name != "Navigation2D":
        raise SystemExit(f"{args.run}: mean_field needs a Navigation2D run, not {family.name}")
    try:
        paths = checkpoints(run, args.method)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    val = validation_returns(run, args.method) if args.selection else {}
    print(f"{args.method} of {args.run}: mean action (bound {MAX_SPEED}) on circles around the "
          "origin, outward component / length")
    print("iteration | " + " | ".join(f"r = {r}: outward, length" for r in RADII)
          + (" | validation return after k = 1.." if val else ""))
    for iteration, path in paths.items():
        theta = load_checkpoint(path)["theta"]
        cells = [f"{pull:+.3f}, {length:.3f}" for pull, length in
                 (outward_pull(policy, theta, r) for r in RADII)]
        line = f"{iteration:9d} | " + " | ".join(f"{c:>25}" for c in cells)
        if val:
            line += " | " + " ".join(f"{x:7.2f}" for x in val.get(iteration, []))
        print(line, flush=True)


if __name__ == "__main__":
    main()
