"""The inner optimizer's step: BatchedAdam (per-task Adam on flat buffers) against torch's Adam.

Times one optimizer step on the stacked parameters ``[T, ...]`` of the main command's policy
(Navigation2D, two hidden layers of 100, actor and critic) for several task counts, against
``torch.optim.Adam`` over the same tensors in its multi-tensor (``foreach``) and ``fused`` forms,
in the same run. torch's Adam is one Adam over all tasks: it keeps no per-task step count and
clips nothing, so it does less than BatchedAdam (which clips each task's gradient norm, as PPO
does). Medians of alternating repeats; ratios above 1 mean BatchedAdam is faster.

Usage: ``python experiments/bench_optimizer.py [--tasks 1 10 40 100] [--threads 1]``
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable

import torch

from metarl.agents.actor_critic import ActorCritic
from metarl.agents.batched_adam import BatchedAdam
from metarl.agents.param_tree import stack
from metarl.envs import Navigation2D
from metarl.machine import describe_machine, use_threads


def per_step(step: Callable[[], object], steps: int) -> float:
    """Milliseconds per call of ``step`` over ``steps`` calls."""
    began = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - began) / steps * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[1, 10, 40, 100])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=200, help="steps per measurement")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    use_threads(args.threads)
    family = Navigation2D()
    policy = ActorCritic.for_spaces(family.observation_space, family.action_space,
                                    hidden=(100, 100), activation="relu")
    theta = policy.init(torch.Generator().manual_seed(0))
    print(f"machine: {describe_machine()}")
    print(f"one Adam step on T x {sum(v.numel() for v in theta.values()):,} parameters "
          f"({len(theta)} tensors per task), ms per step, median of {args.repeats} repeats of "
          f"{args.steps} steps\n")
    print("| tasks T | BatchedAdam (per-task clip) | torch Adam foreach | torch Adam fused | "
          "foreach / ours | fused / ours |")
    print("| --- | --- | --- | --- | --- | --- |")
    for tasks in args.tasks:
        grads = {k: torch.randn_like(v) for k, v in stack(theta, tasks).items()}
        ours_params = {k: v.clone() for k, v in stack(theta, tasks).items()}
        ours = BatchedAdam(ours_params, 3e-4, eps=1e-5)
        peers = {}
        for kind in ("foreach", "fused"):
            tensors = [torch.nn.Parameter(v.clone()) for v in stack(theta, tasks).values()]
            for p, g in zip(tensors, grads.values(), strict=True):
                p.grad = g.clone()
            peers[kind] = torch.optim.Adam(tensors, lr=3e-4, eps=1e-5, **{kind: True})
        steps = {"ours": functools.partial(ours.step, grads, 0.5),
                 "foreach": peers["foreach"].step, "fused": peers["fused"].step}
        times: dict[str, list[float]] = {name: [] for name in steps}
        for step in steps.values():
            per_step(step, 10)  # warm up
        for _ in range(args.repeats):
            for name, step in steps.items():
                times[name].append(per_step(step, args.steps))
        ms = {name: statistics.median(values) for name, values in times.items()}
        print(f"| {tasks} | {ms['ours']:.3f} | {ms['foreach']:.3f} | {ms['fused']:.3f} | "
              f"{ms['foreach'] / ms['ours']:.2f} | {ms['fused'] / ms['ours']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
