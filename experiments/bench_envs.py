"""Env steps per second: batched CartPoleMass against Gymnasium's numpy CartPoleVectorEnv.

Both run in the same process, one after the other, with uniformly random actions drawn inside the
timed loop (numpy for Gymnasium, torch for ours). Three contenders per size:

* ``gymnasium``: ``gym.make_vec("CartPole-v1", n, vectorization_mode="vector_entry_point")``;
* ``metarl native``: ``AutoResetEnv`` over ``CartPoleMass`` (torch tensors in and out, 1 task x n
  envs, default physics, which is the same physics as CartPole-v1);
* ``metarl compiled``: the same with ``AutoResetEnv(..., compile=True)`` (``torch.compile`` of the
  whole step, start states drawn for every env; compile time is excluded by the warm-up);
* ``metarl make_vec``: ``gym.make_vec("metarl/CartPoleMass-v0", n, ...)`` (numpy in and out,
  one task per sub-environment).

Usage: ``python experiments/bench_envs.py [--sizes 16 256 4096 65536] [--seconds 2] [--device cpu]``
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch

import metarl.envs  # noqa: F401  (registers the metarl/ ids)
from metarl.envs import AutoResetEnv, CartPoleMass
from metarl.machine import describe_machine


def steps_per_second(step: Callable[[], object], n_envs: int, seconds: float,
                     sync: Callable[[], None] = lambda: None) -> float:
    """Run ``step`` for about ``seconds`` after a short warm-up; env steps per second."""
    for _ in range(5):
        step()
    sync()
    iters, start = 0, time.perf_counter()
    while True:
        for _ in range(10):
            step()
        iters += 10
        sync()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return iters * n_envs / elapsed


def bench_gymnasium(n: int, seconds: float) -> float:
    env = gym.make_vec("CartPole-v1", num_envs=n, vectorization_mode="vector_entry_point")
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    rate = steps_per_second(lambda: env.step(rng.integers(0, 2, n)), n, seconds)
    env.close()
    return rate


def bench_native(n: int, seconds: float, device: torch.device, compile: bool = False) -> float:
    family = CartPoleMass()
    params = family.make_params(1, device=device)
    gen = torch.Generator(device=device).manual_seed(0)
    env = AutoResetEnv(family, params, n, gen, compile=compile)
    env.reset()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def step() -> None:
        env.step(torch.randint(0, 2, (1, n), device=device, generator=gen))

    with torch.inference_mode():
        return steps_per_second(step, n, seconds, sync)


def bench_make_vec(n: int, seconds: float) -> float:
    env = gym.make_vec("metarl/CartPoleMass-v0", num_envs=n,
                       vectorization_mode="vector_entry_point")
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    with torch.inference_mode():
        rate = steps_per_second(lambda: env.step(rng.integers(0, 2, n)), n, seconds)
    env.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 256, 4096, 65536])
    parser.add_argument("--seconds", type=float, default=2.0, help="timed seconds per contender")
    parser.add_argument("--device", default="cpu", help="device of the native torch contender")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--no-compile", dest="compile", action="store_false",
                        help="skip the torch.compile contender")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"machine: {describe_machine(device)}, gymnasium {gym.__version__}, "
          f"numpy {np.__version__}, native device {device}")
    header = (f"{'envs':>8} | {'gymnasium':>10} | {'metarl native':>13} | {'ratio':>5} | "
              f"{'metarl compiled':>15} | {'ratio':>5} | {'metarl make_vec':>15} | {'ratio':>5}")
    print(header)
    print("-" * len(header))
    for n in args.sizes:
        gym_rate = bench_gymnasium(n, args.seconds) if n <= 65536 else None
        rates = [
            bench_native(n, args.seconds, device),
            bench_native(n, args.seconds, device, compile=True) if args.compile else None,
            bench_make_vec(n, args.seconds) if n <= 65536 else None,
        ]
        cells = [f"{n:>8}", f"{gym_rate / 1e6:8.2f} M" if gym_rate else f"{'-':>10}"]
        for rate, width in zip(rates, (13, 15, 15), strict=True):
            cells.append(f"{rate / 1e6:{width - 2}.2f} M" if rate else f"{'-':>{width}}")
            cells.append(f"{rate / gym_rate:5.2f}" if rate and gym_rate else f"{'-':>5}")
        print(" | ".join(cells), flush=True)
    print("steps/s in millions; ratio = metarl / gymnasium in the same run")


if __name__ == "__main__":
    main()
