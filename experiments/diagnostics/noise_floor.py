"""The return a Gaussian policy can reach on Navigation2D when its mean is perfect.

The evaluated return is the stochastic policy's. This script gives the policy the ideal mean
(the clipped step straight to its goal, which it cannot know without adapting) and a fixed std,
and reports the mean return over the held-out goals: the floor set by exploration noise alone.

Usage: ``python experiments/diagnostics/noise_floor.py [--log-std -1 -2 -2.5 -3 -4]
[--episodes 200]``
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

import torch

from metarl.envs import AutoResetEnv, Navigation2D


def walk_return(target: Callable[[torch.Tensor], torch.Tensor], log_std: float | None,
                episodes: int, split: str = "test", seed: int = 0) -> torch.Tensor:
    """Each goal's mean return over ``episodes`` episodes of a policy whose mean action is the
    (clipped) step to ``target(goal)``, a point per goal, with Gaussian noise of ``log_std``
    (``None``: no noise), on the 40 goals of ``split``: ``[40]``."""
    family = Navigation2D()
    tasks = family.tasks.sample(40, split=split)
    gen = torch.Generator().manual_seed(seed)
    env = AutoResetEnv(family, tasks, episodes, gen)
    obs = env.reset()
    point = target(tasks.goal).unsqueeze(1)
    total = torch.zeros(40, episodes)
    done = torch.zeros(40, episodes, dtype=torch.bool)
    for _ in range(family.default_max_episode_steps):
        action = point - obs  # the env clips the action to +-0.1 per axis
        if log_std is not None:
            action = action + torch.randn(obs.shape, generator=gen) * math.exp(log_std)
        tr = env.step(action)
        total += tr.reward * ~done
        done |= tr.terminated | tr.truncated
        obs = tr.obs
    return total.mean(dim=1)


def ideal_mean_return(log_std: float, episodes: int, seed: int = 0) -> float:
    """Mean return of the first episode of ``episodes`` envs on each of the 40 test goals."""
    return float(walk_return(lambda goal: goal, log_std, episodes, seed=seed).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log-std", type=float, nargs="+", default=[-1.0, -2.0, -2.5, -3.0, -4.0])
    parser.add_argument("--episodes", type=int, default=200, help="episodes per goal")
    args = parser.parse_args()
    print("log-std |   std | mean return, ideal mean, 40 test goals")
    for log_std in args.log_std:
        ret = ideal_mean_return(log_std, args.episodes)
        print(f"{log_std:7.2f} | {torch.tensor(log_std).exp():.3f} | {ret:8.2f}")


if __name__ == "__main__":
    main()
