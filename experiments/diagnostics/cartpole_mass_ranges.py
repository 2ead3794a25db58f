"""Does one fixed policy solve every CartPoleMass task? (It must not, or there is nothing to adapt.)

Trains stable-baselines3 PPO with the rl-baselines3-zoo CartPole settings at the default physics
(which are CartPole-v1's), then runs its greedy policy on sampled tasks of the batched family and
reports the share of tasks on which it fails (mean return below CartPole-v1's threshold of 475),
overall and by parameter.

Usage: ``python experiments/diagnostics/cartpole_mass_ranges.py [--steps 100000] [--tasks 200]
[--seed 0] [--range FIELD LOW HIGH ...]``
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

import metarl.envs  # noqa: F401  (registers the metarl/ ids)
from metarl.envs import CartPoleMass, TaskParams
from metarl.rl.episode_returns import first_episode_returns

THRESHOLD = 475.0


def train_default_policy(steps: int, seed: int) -> PPO:
    """SB3 PPO with the rl-baselines3-zoo CartPole-v1 settings, at the default physics."""
    env = make_vec_env("metarl/CartPoleMass-v0", n_envs=8, seed=seed)

    def linear(start: float):  # zoo's lin_ schedules
        return lambda progress: progress * start

    model = PPO("MlpPolicy", env, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98,
                n_epochs=20, ent_coef=0.0, learning_rate=linear(1e-3), clip_range=linear(0.2),
                seed=seed, verbose=0, device="cpu")
    model.learn(total_timesteps=steps)
    return model


def greedy_returns(model: PPO, family: CartPoleMass, tasks: TaskParams, episodes: int,
                   seed: int) -> torch.Tensor:
    """Mean return of ``episodes`` greedy episodes per task (one full episode per env), ``[T]``."""

    def act(obs: torch.Tensor) -> torch.Tensor:
        action, _ = model.policy.predict(obs.reshape(-1, 4).numpy(), deterministic=True)
        return torch.as_tensor(action).reshape(obs.shape[:2])

    return first_episode_returns(family, tasks, episodes, act,
                                 torch.Generator().manual_seed(seed)).mean(dim=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000, help="PPO training env steps")
    parser.add_argument("--tasks", type=int, default=200, help="validation tasks to evaluate")
    parser.add_argument("--episodes", type=int, default=10, help="episodes per task")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--range", nargs=3, action="append", default=[],
                        metavar=("FIELD", "LOW", "HIGH"), help="override a sampling range")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    start = time.perf_counter()
    model = train_default_policy(args.steps, args.seed)
    family = CartPoleMass(ranges={name: (float(lo), float(hi)) for name, lo, hi in args.range})
    default = family.make_params(1)
    default_ret = greedy_returns(model, family, default, args.episodes, args.seed).item()
    print(f"trained SB3 PPO for {args.steps} steps at the default physics in "
          f"{time.perf_counter() - start:.0f} s; greedy return there: {default_ret:.1f}")
    tasks = family.tasks.sample(args.tasks, split="val")
    rets = greedy_returns(model, family, tasks, args.episodes, args.seed)
    fail = rets < THRESHOLD
    print(f"validation tasks failed (mean return < {THRESHOLD:g}): {int(fail.sum())}/{args.tasks} "
          f"= {fail.float().mean().item():.0%}; mean return {rets.mean().item():.1f}")
    for spec in family.tasks.specs:
        values = getattr(tasks, spec.name)
        if spec.low == spec.high:
            continue
        edges = torch.quantile(values, torch.tensor([1 / 3, 2 / 3]))
        groups = [values <= edges[0], (values > edges[0]) & (values <= edges[1]), values > edges[1]]
        shares = "  ".join(
            f"{label} {fail[g].float().mean().item():4.0%}"
            for label, g in zip(("low", "mid", "high"), groups, strict=True)
        )
        print(f"  failure share by {spec.name:<9} tercile: {shares}")
    print(f"gymnasium {gym.__version__}, torch {torch.__version__}")


if __name__ == "__main__":
    main()
