"""Batched PPO on fixed Navigation2D goals: how close does plain PPO get to MAML's oracle (-2.29)?

Each task of the batch is one held-out goal with its own seed (initialisation, Adam state, envs);
PPO trains a policy per goal from scratch. The oracle figure of the MAML paper is the mean return
over goals of a policy trained on each goal, so the comparable number here is the mean over goals.

The Gaussian head starts at log-std -2 (std 0.14), matched to the action range of +-0.1; at the
usual log-std 0 the policy spends most of its budget shrinking a std ten times the action range.

Usage: ``python experiments/ppo_navigation.py [--goals 8] [--iterations 100] [--seed 0]``
"""

from __future__ import annotations

import argparse
import time

import torch

from metarl.agents import param_tree
from metarl.agents.actor_critic import ActorCritic
from metarl.agents.ppo import PPO, PPOConfig
from metarl.envs import Navigation2D
from metarl.report.stats import mean_ci95
from metarl.rl.episode_returns import first_episode_returns

CONFIG = PPOConfig(num_envs=20, num_steps=100, learning_rate=3e-4, num_epochs=10,
                   num_minibatches=4, gamma=0.99, gae_lambda=0.95, clip_coef=0.2,
                   max_grad_norm=0.5)
ORACLE = -2.29


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--goals", type=int, default=8, help="held-out goals, one task each")
    parser.add_argument("--iterations", type=int, default=100, help="PPO iterations per goal")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    family = Navigation2D()
    policy = ActorCritic.for_spaces(family.observation_space, family.action_space,
                                    init_log_std=-2.0)
    tasks = family.tasks.sample(args.goals, split="test")
    seeds = range(args.seed, args.seed + args.goals)
    init = param_tree.stack_list([policy.init(torch.Generator().manual_seed(s)) for s in seeds])
    start = time.perf_counter()
    result = PPO(family, policy, CONFIG).adapt(init, tasks, args.iterations,
                                               torch.Generator().manual_seed(args.seed),
                                               evaluate_final=True)
    elapsed = time.perf_counter() - start
    steps = CONFIG.num_envs * CONFIG.num_steps
    print(f"{args.goals} goals x {args.iterations} iterations x {steps} env steps "
          f"in {elapsed:.1f} s")
    for k in sorted({0, 10, 25, 50, args.iterations // 2, args.iterations}):
        if k <= args.iterations:
            mean, ci = mean_ci95(result.returns[k].tolist())
            print(f"  after {k:>3} updates ({k * steps:>7,} steps): mean return over goals "
                  f"{mean:7.2f} +- {ci:.2f}")
    final, ci = mean_ci95(result.returns[-1].tolist())
    greedy_returns = first_episode_returns(family, tasks, 1,
                                           lambda obs: policy.mode(result.params, obs))
    greedy, gci = mean_ci95(greedy_returns[:, 0].tolist())  # deterministic env: one episode
    print(f"final stochastic policy: {final:.2f} +- {ci:.2f}; greedy (mean action): "
          f"{greedy:.2f} +- {gci:.2f}; MAML's oracle: {ORACLE}")


if __name__ == "__main__":
    main()
