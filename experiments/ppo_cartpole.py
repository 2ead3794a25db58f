"""Batched PPO on CartPole-v1's physics with the rl-baselines3-zoo settings, several seeds at once.

Each seed is one task of the batch (default physics for all), with its own initialisation, Adam
state and environments, so one run trains every seed together. Reports, per seed, the mean return
of the episodes finished in the last 10 iterations and the env steps after which the return of the
finished episodes first reaches 475 (CartPole-v1's threshold) and stays there for 10 iterations.

Usage: ``python experiments/ppo_cartpole.py [--seeds 5] [--steps 100000] [--seed 0]``
"""

from __future__ import annotations

import argparse
import time

import torch

from metarl.agents import param_tree
from metarl.agents.actor_critic import ActorCritic
from metarl.agents.ppo import PPO, PPOConfig
from metarl.envs import CartPoleMass

# rl-baselines3-zoo's CartPole-v1 PPO: 8 envs, n_steps 32, batch 256 (one minibatch), 20 epochs,
# lr lin_1e-3, clip lin_0.2, gamma 0.98, gae_lambda 0.8, ent_coef 0
ZOO = PPOConfig(num_envs=8, num_steps=32, reset_every_iteration=False, learning_rate=1e-3,
                anneal_lr=True, num_epochs=20, num_minibatches=1, gamma=0.98, gae_lambda=0.8,
                clip_coef=0.2, anneal_clip=True, ent_coef=0.0, max_grad_norm=0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds, trained as one batch")
    parser.add_argument("--steps", type=int, default=100_000, help="env steps per seed")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    args = parser.parse_args()
    family = CartPoleMass()
    policy = ActorCritic.for_spaces(family.observation_space, family.action_space)
    per_iteration = ZOO.num_envs * ZOO.num_steps
    iterations = args.steps // per_iteration
    seeds = range(args.seed, args.seed + args.seeds)
    init = param_tree.stack_list([policy.init(torch.Generator().manual_seed(s)) for s in seeds])
    tasks = family.make_params(args.seeds)
    start = time.perf_counter()
    result = PPO(family, policy, ZOO).adapt(init, tasks, iterations,
                                            torch.Generator().manual_seed(args.seed))
    elapsed = time.perf_counter() - start
    returns = result.returns  # [iterations, seeds], NaN where no episode finished
    print(f"{args.seeds} seeds x {iterations * per_iteration} env steps in {elapsed:.1f} s "
          f"({args.seeds * iterations * per_iteration / elapsed:,.0f} env steps/s, all seeds)")
    print(f"{'seed':>4} | {'return, last 10 iterations':>26} | {'steps to 475 (held 10 its)':>26}")
    solved = 0
    for i, seed in enumerate(seeds):
        r = returns[:, i]
        late = r[-10:].nanmean().item()
        reached = "-"
        for k in range(iterations - 9):  # first window of 10 iterations whose episodes all >= 475
            window = r[k:k + 10]
            if window.isfinite().any() and window.nan_to_num(nan=torch.inf).min() >= 475:
                reached = f"{(k + 1) * per_iteration:,}"
                break
        solved += late >= 475
        print(f"{seed:>4} | {late:>26.1f} | {reached:>26}")
    print(f"seeds with mean return >= 475 over the last 10 iterations: {solved}/{args.seeds}")


if __name__ == "__main__":
    main()
