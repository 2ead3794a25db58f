"""Rollout steps per second of the MuJoCo locomotion families against envpool's raw pool.

Per family and size (``T`` tasks x ``E`` envs), in the same process, alternating ``--repeats``
times (the median of each is reported, as the machine's speed drifts):

* ``raw``: envpool's pool of ``T * E`` envs of the robot stepped with uniformly random actions
  drawn by numpy inside the timed loop, nothing else (the engine's ceiling);
* ``rollout``: ``collect`` (what PPO, VPG and the evaluation run) of an untrained ``[64, 64]``
  tanh policy per task on ``make_batch_env``'s envs: policy forward and sampling, the task
  rewards from the engine's infos, auto-reset and the rollout's bookkeeping;
* ``pinned``: the same rollout with the engine's threads pinned to the cores
  (``env.pin_threads = true``; the raw pool is left as envpool makes it by default).

The ratios ``rollout / raw`` and ``pinned / raw`` are what metarl's batching costs on top of the
engine (floor 0.8).

Usage: ``python experiments/bench_locomotion.py [--sizes 10x20 20x20] [--steps 400]
[--repeats 3] [--threads 1] [--out experiments/results/bench_locomotion.txt]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import envpool
import numpy as np
import torch

from metarl.agents.actor_critic import ActorCritic
from metarl.agents.param_tree import stack
from metarl.agents.rollout import collect
from metarl.envs import LOCOMOTION_FAMILIES, make_batch_env, make_family
from metarl.machine import describe_machine


def raw_rate(engine_id: str, num_envs: int, action_dim: int, steps: int, horizon: int) -> float:
    """Env steps per second of envpool's pool with random actions."""
    pool = envpool.make_gymnasium(engine_id, num_envs=num_envs, max_episode_steps=horizon)
    pool.reset()
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(steps):
        pool.step(rng.uniform(-1.0, 1.0, (num_envs, action_dim)))
    rate = num_envs * steps / (time.perf_counter() - start)
    pool.close()
    return rate


def rollout_rate(name: str, tasks: int, envs: int, steps: int, pin_threads: bool = False
                 ) -> float:
    """Env steps per second of ``collect`` on ``make_batch_env``'s envs of family ``name``."""
    family = make_family(name, pin_threads=pin_threads)
    gen = torch.Generator().manual_seed(0)
    params = family.tasks.sample(tasks, gen)
    policy = ActorCritic.for_spaces(family.observation_space, family.action_space, hidden=(64, 64))
    theta = stack(policy.init(gen), tasks)
    env = make_batch_env(family, params, envs, gen)
    obs = env.reset()
    start = time.perf_counter()
    collect(policy, theta, env, obs, steps, gen)
    rate = tasks * envs * steps / (time.perf_counter() - start)
    env.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--families", nargs="+", default=list(LOCOMOTION_FAMILIES))
    parser.add_argument("--sizes", nargs="+", default=["10x20", "20x20"],
                        help="TASKSxENVS per size")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    lines = [f"# bench_locomotion: {describe_machine(torch.device('cpu'))}",
             f"# {args.steps} steps per measurement, median of {args.repeats} alternating repeats",
             f"{'family':<16}{'tasks x envs':>14}{'raw steps/s':>14}{'rollout steps/s':>17}"
             f"{'pinned steps/s':>16}{'ratio':>8}{'pinned ratio':>14}"]
    print("\n".join(lines), flush=True)
    for name in args.families:
        family = make_family(name)
        for size in args.sizes:
            tasks, envs = (int(n) for n in size.split("x"))
            raws, rolls, pins = [], [], []
            for _ in range(args.repeats):
                raws.append(raw_rate(family.engine_id, tasks * envs, family.action_space.shape[0],
                                     args.steps, family.max_episode_steps))
                rolls.append(rollout_rate(name, tasks, envs, args.steps))
                pins.append(rollout_rate(name, tasks, envs, args.steps, pin_threads=True))
            raw, roll, pin = (statistics.median(rates) for rates in (raws, rolls, pins))
            line = (f"{name:<16}{f'{tasks} x {envs}':>14}{raw:>14,.0f}{roll:>17,.0f}"
                    f"{pin:>16,.0f}{roll / raw:>8.2f}{pin / raw:>14.2f}")
            print(line, flush=True)
            lines.append(line)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
