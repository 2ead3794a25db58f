"""Where does the adapted policy walk on Navigation2D: short of the goal, onto it, or past it?

Adapts a run's meta-learned initialisation for k = 0..K inner PPO updates (the run's inner
learner, as in evaluation, each k the first k updates of a K-update adaptation; ``--set`` changes
the run's settings for this measurement only) and then walks each task's mean policy (no
exploration noise) for one 100-step episode from the origin.
Reports, per k, the stochastic policy's mean return (what the evaluation reports), the mean
policy's return, its distance to the goal at the end and at its closest, how far along the
origin-to-goal direction it ends (1 = level with the goal, below 1 short of it, above 1 past
it), its distance from that line, the mean log-std, and how much of the goal's distance the walk
knows: the least-squares fit of how far it goes along the goal direction (absolute units) against
the goal's distance, ``length = a * |goal| + b`` (``a = 1, b = 0``: it walks exactly as far as its
goal; ``a = 0``: the same length whatever the goal's distance, only the direction was learned).

Usage: ``python experiments/diagnostics/goal_reach.py runs/navigation2d_quick [--method reptile]
[--split val] [--tasks 40] [--updates 3] [--episodes 20] [--seed 0] [--set ppo.clip_coef=10 ...]``
"""

from __future__ import annotations

import argparse
import dataclasses

import run_adaptation
import torch

from metarl.agents.actor_critic import ActorCritic
from metarl.agents.param_tree import Params
from metarl.envs.navigation2d import GOAL_TOLERANCE, MAX_SPEED
from metarl.runs.selection import final_theta


@dataclasses.dataclass
class Walk:
    """Per-task outcome of one deterministic episode of the mean policy (every field ``[T]``)."""

    ret: torch.Tensor
    final_distance: torch.Tensor
    closest_distance: torch.Tensor
    along: torch.Tensor
    off_line: torch.Tensor


def walk_mean_policy(policy: ActorCritic, params: Params, goal: torch.Tensor,
                     steps: int = 100) -> Walk:
    """One episode per task from the origin taking the mean action (Navigation2D's dynamics)."""
    num_tasks = goal.shape[0]
    x = goal.new_zeros(num_tasks, 1, 2)
    ret = goal.new_zeros(num_tasks)
    done = torch.zeros(num_tasks, dtype=torch.bool)
    closest = torch.full((num_tasks,), float("inf"))
    for _ in range(steps):
        with torch.no_grad():
            x = x + policy.mode(params, x).clamp(-MAX_SPEED, MAX_SPEED)
        delta = x[:, 0] - goal
        distance = delta.norm(dim=-1)
        ret -= torch.where(done, 0.0, distance)  # the episode ends at the goal
        closest = torch.minimum(closest, torch.where(done, closest, distance))
        done |= (delta.abs() < GOAL_TOLERANCE).all(dim=-1)
    final = x[:, 0]
    direction = goal / goal.norm(dim=-1, keepdim=True)
    along = (final * direction).sum(dim=-1)
    off_line = (final - along.unsqueeze(-1) * direction).norm(dim=-1)
    return Walk(ret, (final - goal).norm(dim=-1), closest, along / goal.norm(dim=-1), off_line)


def fit_length(walk: Walk, goal: torch.Tensor) -> tuple[float, float]:
    """``(a, b)`` of the least-squares fit of how far the walk goes along the goal direction,
    ``walk.along * |goal| = a * |goal| + b``, over the tasks."""
    distance = goal.norm(dim=-1)
    design = torch.stack([distance, torch.ones_like(distance)], dim=1)
    length = walk.along * distance
    a, b = torch.linalg.lstsq(design, length.unsqueeze(1)).solution[:, 0].tolist()
    return a, b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    run_adaptation.add_arguments(parser, methods="reptile, fomaml or pretrain", episodes=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    run, family, policy, ppo, tasks = run_adaptation.load(args)
    if family.name != "Navigation2D":
        raise ValueError(f"{args.run}: goal_reach needs a Navigation2D run, not {family.name}")
    theta = final_theta(run, args.method)
    goal = tasks.goal
    print(run_adaptation.describe(args, f"seed {args.seed}"))
    print("  k | stochastic return | mean-policy return | final distance | closest | "
          "along (1 = level with goal) | off the line | log-std | length = a |goal| + b")
    for k, out in run_adaptation.adaptations(ppo, theta, tasks, args.updates, args.seed):
        walk = walk_mean_policy(policy, out.params, goal)
        a, b = fit_length(walk, goal)
        print(f"{k:3d} | {out.returns[-1].mean().item():17.2f} | {walk.ret.mean().item():18.2f} | "
              f"{walk.final_distance.mean().item():14.3f} | "
              f"{walk.closest_distance.mean().item():7.3f} | {walk.along.mean().item():27.2f} | "
              f"{walk.off_line.mean().item():12.3f} | {out.params['log_std'].mean().item():7.2f} | "
              f"{a:5.2f} |goal| {b:+.3f}",
              flush=True)


if __name__ == "__main__":
    main()
