"""A naive Reptile + PPO run on Navigation2D, beside PPO from scratch, on the 40 test goals.

Reptile with the plain outer step (epsilon 1 annealed to 0), every parameter group meta-learned,
PPO inner loop of 3 iterations of 20 episodes x 100 steps per task. Prints the mean return over the
test goals after k = 0..3 inner updates from the meta-learned theta and from the random theta it
started from. This is the baseline the Reptile issues start from, not a tuned result.

Usage: ``python experiments/reptile_naive.py [--meta-iterations 60] [--meta-batch 10] [--seed 0]``
"""

from __future__ import annotations

import argparse
import time

import torch

from metarl.agents.actor_critic import ActorCritic
from metarl.agents.ppo import PPO, PPOConfig
from metarl.envs import Navigation2D
from metarl.meta_train import MetaConfig, meta_train
from metarl.stats import mean_ci95

INNER = PPOConfig(num_envs=20, num_steps=100, learning_rate=3e-4, num_epochs=10,
                  num_minibatches=4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meta-iterations", type=int, default=60)
    parser.add_argument("--meta-batch", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    family = Navigation2D()
    policy = ActorCritic.for_spaces(family.observation_space, family.action_space,
                                    init_log_std=-2.0)
    ppo = PPO(family, policy, INNER)
    theta0 = policy.init(torch.Generator().manual_seed(args.seed))
    config = MetaConfig(meta_iterations=args.meta_iterations, meta_batch=args.meta_batch,
                        inner_iterations=3, epsilon=1.0, val_tasks=10, val_every=10)
    start = time.perf_counter()
    result = meta_train(ppo, theta0, config, seed=args.seed)
    last = result.history[-1]
    print(f"meta-trained {last.iteration} outer steps, {last.env_steps:,} env steps, "
          f"{time.perf_counter() - start:.0f} s; validation return after 1 update: "
          f"{last.val_return:.2f}")
    test = family.tasks.sample(40, split="test")
    print(f"{'init':>8} | " + " | ".join(f"{'k=' + str(k):>13}" for k in range(4)))
    for name, theta in (("reptile", result.theta), ("scratch", theta0)):
        out = ppo.adapt(theta, test, 3, torch.Generator().manual_seed(args.seed + 100),
                        evaluate_final=True)
        cells = [mean_ci95(out.returns[k].tolist()) for k in range(4)]
        print(f"{name:>8} | " + " | ".join(f"{m:7.1f} +- {c:3.1f}" for m, c in cells))


if __name__ == "__main__":
    main()
