"""Does overlapping the policy with the engine speed the locomotion rollout up? Two pools, piped.

A rollout step has two parts: the engine steps ``T * E`` robots (envpool's thread pool) and the
policy picks the next actions (torch, on the main thread). Run one after the other, the engine
waits for the policy. Pipelining splits the tasks in two halves, each with its own pool: while
the engine steps one half, the policy acts for the other. Per family and size, in the same process,
alternating ``--repeats`` times (medians reported):

* ``raw``: one pool of ``T * E`` robots stepped with random actions (the engine's ceiling,
  measured by ``bench_locomotion.py``'s ``raw_rate``);
* ``sync``: the same pool, the stacked policies of the ``T`` tasks acting on the normalised
  observations before each step (what :class:`~metarl.envs.envpool_env.EnvPoolEnv` does, less the
  task rewards and bookkeeping);
* ``piped``: two pools of ``T / 2`` tasks each; ``recv`` one half, act for it, ``send`` it, then
  the other half, so that one half's policy runs while the other half's robots step.

Both ratios are against ``raw``. Pipelining pays where the engine's threads leave cores idle while
the policy runs; where the engine already fills every core, the policy's work only moves.

Usage: ``python experiments/bench_pipelining.py [--families HalfCheetahVel AntDir]
[--sizes 20x20] [--steps 300] [--repeats 5] [--threads 1] [--out FILE]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from bench_locomotion import raw_rate  # the same ceiling as bench_locomotion's (this folder)

from metarl.agents.actor_critic import ActorCritic
from metarl.agents.param_tree import Params, stack
from metarl.envs import make_family
from metarl.envs.locomotion import LocomotionFamily, make_pool
from metarl.machine import describe_machine


def _act(policy: ActorCritic, params: Params, family: LocomotionFamily[Any], obs: np.ndarray,
         tasks: int, gen: torch.Generator) -> np.ndarray:
    """The engine's actions ``[tasks * E, action_dim]`` of the stacked policies for its raw
    observations ``[tasks * E, obs_dim]``."""
    x = torch.as_tensor(family.observe_engine(obs), dtype=torch.float32).reshape(tasks, -1,
                                                                                 obs.shape[-1])
    action, _ = policy.sample(params, x, gen)
    engine = family.env_action(action)
    return engine.reshape(-1, engine.shape[-1]).to(torch.float64).numpy()


def sync_rate(family: LocomotionFamily[Any], policy: ActorCritic, params: Params, tasks: int,
              envs: int, steps: int) -> float:
    """Env steps per second of one pool, the policy acting between steps."""
    gen = torch.Generator().manual_seed(0)
    pool = make_pool(family, list(range(tasks * envs)))
    obs, _ = pool.reset()
    start = time.perf_counter()
    for _ in range(steps):
        obs, *_ = pool.step(_act(policy, params, family, obs, tasks, gen))
    rate = tasks * envs * steps / (time.perf_counter() - start)
    pool.close()
    return rate


def piped_rate(family: LocomotionFamily[Any], policy: ActorCritic, params: Params, tasks: int,
               envs: int, steps: int) -> float:
    """Env steps per second of two pools of half the tasks each, each half's policy acting while
    the other half's robots step."""
    gen = torch.Generator().manual_seed(0)
    half = tasks // 2
    halves = [{key: value[:half] for key, value in params.items()},
              {key: value[half:2 * half] for key, value in params.items()}]
    pools = [make_pool(family, list(range(i * half * envs, (i + 1) * half * envs)))
             for i in range(2)]
    ids = np.arange(half * envs, dtype=np.int32)
    for pool, theta in zip(pools, halves, strict=True):
        obs, _ = pool.reset()
        pool.send(_act(policy, theta, family, obs, half, gen), ids)
    start = time.perf_counter()
    for _ in range(steps):
        for pool, theta in zip(pools, halves, strict=True):
            obs, *_ = pool.recv()
            pool.send(_act(policy, theta, family, obs, half, gen), ids)
    rate = 2 * half * envs * steps / (time.perf_counter() - start)
    for pool in pools:
        pool.recv()
        pool.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--families", nargs="+", default=["HalfCheetahVel", "AntDir"])
    parser.add_argument("--sizes", nargs="+", default=["20x20"], help="TASKSxENVS per size")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    lines = [f"# bench_pipelining: {describe_machine(torch.device('cpu'))}",
             f"# {args.steps} steps per measurement, median of {args.repeats} alternating repeats",
             f"{'family':<16}{'tasks x envs':>14}{'raw steps/s':>13}{'sync':>9}{'piped':>9}"
             f"{'sync/raw':>10}{'piped/raw':>11}"]
    print("\n".join(lines), flush=True)
    for name in args.families:
        family = make_family(name)
        policy = ActorCritic.for_spaces(family.observation_space, family.action_space,
                                        hidden=(64, 64))
        for size in args.sizes:
            tasks, envs = (int(n) for n in size.split("x"))
            if tasks % 2:
                raise ValueError(f"--sizes {size}: the number of tasks must be even (two halves)")
            params = stack(policy.init(torch.Generator().manual_seed(0)), tasks)
            rates: dict[str, list[float]] = {"raw": [], "sync": [], "piped": []}
            for _ in range(args.repeats):
                rates["raw"].append(raw_rate(family.engine_id, tasks * envs,
                                               family.action_space.shape[0], args.steps,
                                               family.max_episode_steps))
                rates["sync"].append(sync_rate(family, policy, params, tasks, envs, args.steps))
                rates["piped"].append(piped_rate(family, policy, params, tasks, envs, args.steps))
            raw, sync, piped = (statistics.median(rates[key]) for key in ("raw", "sync", "piped"))
            line = (f"{name:<16}{f'{tasks} x {envs}':>14}{raw:>13,.0f}{sync:>9,.0f}{piped:>9,.0f}"
                    f"{sync / raw:>10.2f}{piped / raw:>11.2f}")
            print(line, flush=True)
            lines.append(line)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
