"""What a trained policy does along one observation dimension, and its greedy episodes.

Prints, for a run's trained method (its last checkpoint, no adaptation), the policy's action along
one observation dimension with every other dimension held at a value: the probability of each
action for a discrete action space, the mean action for a Box one. Then it runs one greedy episode
(most likely action every step) per task given with ``--task``, from the state every start-state
dimension at ``--start``, and prints its length and its first actions.

    python experiments/diagnostics/action_profile.py runs/cartpole_direction --method pretrain \\
        --dim 1 --task direction=1 --task direction=-1
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from metarl.envs import EnvState
from metarl.rl.components import build_components
from metarl.runs.run_dir import RunDir
from metarl.runs.selection import final_theta


def parse_task(text: str) -> dict[str, float]:
    """``"direction=-1,length=1"`` as ``{"direction": -1.0, "length": 1.0}``."""
    task: dict[str, float] = {}
    for item in filter(None, text.split(",")):
        try:
            key, value = item.split("=")
            task[key.strip()] = float(value)
        except ValueError:
            sys.exit(f"--task {text!r}: expected FIELD=NUMBER[,FIELD=NUMBER...]")
    return task


def main(argv: list[str] | None = None) -> int:
    """Print the profile and the greedy episodes."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a run directory with a trained method")
    parser.add_argument("--method", default="reptile", help="reptile, fomaml or pretrain")
    parser.add_argument("--dim", type=int, default=0, help="the observation dimension varied")
    parser.add_argument("--low", type=float, default=-1.5)
    parser.add_argument("--high", type=float, default=1.5)
    parser.add_argument("--points", type=int, default=11)
    parser.add_argument("--at", type=float, default=0.0, help="value of the other dimensions")
    parser.add_argument("--task", action="append", default=[], metavar="FIELD=VALUE,...",
                        help="a task for a greedy episode (repeatable)")
    parser.add_argument("--start", type=float, default=0.02,
                        help="every dimension of the greedy episodes' start state")
    parser.add_argument("--steps", type=int, default=500, help="longest greedy episode")
    args = parser.parse_args(argv)
    run = RunDir(args.run)
    family, policy, _ = build_components(run.load_config())
    obs_dim = family.obs_dim()
    if not 0 <= args.dim < obs_dim:
        sys.exit(f"--dim={args.dim} must be in [0, {obs_dim - 1}] for {family.name}")
    if args.points < 2:
        sys.exit(f"--points={args.points} must be at least 2")
    try:
        theta = {k: v.unsqueeze(0) for k, v in final_theta(run, args.method).items()}
    except (FileNotFoundError, ValueError) as error:
        sys.exit(str(error))
    grid = torch.linspace(args.low, args.high, args.points)
    obs = torch.full((1, args.points, obs_dim), args.at)
    obs[0, :, args.dim] = grid
    with torch.no_grad():
        out = policy.actor(theta, obs)[0]
    values = torch.softmax(out, -1) if policy.discrete else out
    label = "P(action {})" if policy.discrete else "mean action[{}]"
    print(f"{args.method} of {args.run}: observation dimension {args.dim} from {args.low:g} to "
          f"{args.high:g}, the others at {args.at:g}")
    print(f"{'obs[' + str(args.dim) + ']':>16} " + " ".join(f"{v:+6.2f}" for v in grid.tolist()))
    for a in range(values.shape[-1]):
        print(f"{label.format(a):>16} " + " ".join(f"{v:6.2f}" for v in values[:, a].tolist()))
    for text in args.task:
        task = parse_task(text)
        try:
            params = family.make_params(**task)
        except ValueError as error:
            sys.exit(str(error))
        state = EnvState(torch.full((1, 1, obs_dim), args.start),
                         torch.zeros(1, 1, dtype=torch.int32))
        current, actions = state.x, []
        with torch.no_grad():
            for _ in range(args.steps):
                action = policy.mode(theta, current)
                actions.append(action[0, 0])
                result = family.step(state, action, params)
                state, current = result.state, result.obs
                if bool(result.terminated[0, 0] | result.truncated[0, 0]):
                    break
        shown = "".join(str(int(a)) for a in actions[:40]) if policy.discrete else (
            " ".join(f"{a.tolist()}" for a in actions[:5]))
        print(f"greedy episode on {text}: {len(actions)} steps; first actions {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
