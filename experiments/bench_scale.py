"""Scaling: meta-iteration time and env steps per second as the meta-batch grows, 1 vs N processes.

For each meta-batch size (default 20, 100 and 1000 Navigation2D goals) the script times Reptile
meta-iterations of a config (default ``experiments/navigation2d_quick.toml``: 3 PPO iterations of
20 envs x 100 steps per task) in one process and in ``N`` processes started by ``torchrun``
(gloo on the CPU, NCCL on GPUs), each in its own Python process, and prints the ratio. It also
times a bare rollout with the policy (no update) on ``T`` tasks x ``E`` envs: the env steps per
second of the batched envs and policy alone (``--rollout-tasks``, ``--rollout-envs``).

Every process gets ``cores / N`` torch threads (torchrun's default of 1 thread per process is
replaced), so 1 and N processes use the same cores.

Usage: ``python experiments/bench_scale.py [--tasks 20 100 1000] [--procs 1 2] [--iterations 2]
[--config experiments/navigation2d_quick.toml] [--device cpu|cuda] [--task-chunk auto]
[--rollout-tasks 1000] [--rollout-envs 100]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from metarl.agents.rollout import collect
from metarl.config import resolve_device
from metarl.envs import AutoResetEnv
from metarl.machine import describe_machine
from metarl.meta.distributed import Distributed
from metarl.meta.trainer import MetaTrainer
from metarl.problem import initial_theta
from metarl.problems import load_config
from metarl.rl.components import build_components
from metarl.rl.learner import PPOLearner

HERE = Path(__file__).resolve()


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (timings on a GPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def worker(args: argparse.Namespace) -> None:
    """Time ``args.iterations`` meta-iterations (after one warm-up); rank 0 prints the result."""
    torch.set_num_threads(args.threads)
    overrides = [f"meta.meta_batch={args.tasks[0]}", f"run.device={args.device}",
                 f"meta.task_chunk={args.task_chunk!r}" if args.task_chunk == "auto"
                 else f"meta.task_chunk={args.task_chunk}",
                 "meta.val_every=1000000", "meta.meta_iterations=1000000"]
    config = load_config(Path(args.config), overrides)
    device = resolve_device(config.run.device)
    dist = Distributed.from_env(device.type)
    if dist is not None:
        device = dist.device(device)
    _, policy, ppo = build_components(config)
    theta = initial_theta(policy, config.run.seed, device)
    trainer = MetaTrainer(PPOLearner(ppo), theta, config.meta, config.run.seed, dist=dist)
    trainer.step()  # warm-up
    sync(device)
    began, samples = time.perf_counter(), trainer.samples
    for _ in range(args.iterations):
        trainer.step()
    sync(device)
    seconds = (time.perf_counter() - began) / args.iterations
    steps = (trainer.samples - samples) / args.iterations
    if dist is None or dist.is_main:
        print("RESULT " + json.dumps({"seconds": seconds, "steps": steps}), flush=True)
    if dist is not None:
        dist.close()


def rollout_rate(config_path: str, device: torch.device, tasks: int, envs: int,
                 steps: int = 100) -> float:
    """Env steps per second of a bare rollout of the config's policy on ``tasks x envs``."""
    config = load_config(Path(config_path), [])
    family, policy, _ = build_components(config)
    theta = initial_theta(policy, 0, device)
    params = {k: v.unsqueeze(0).expand(tasks, *v.shape).contiguous() for k, v in theta.items()}
    gen = torch.Generator(device=device).manual_seed(0)
    task_params = family.tasks.sample(tasks, torch.Generator().manual_seed(0), device=device)
    env = AutoResetEnv(family, task_params, envs, gen)
    collect(policy, params, env, env.reset(), 5, gen)  # warm-up
    sync(device)
    began = time.perf_counter()
    collect(policy, params, env, env.reset(), steps, gen)
    sync(device)
    return tasks * envs * steps / (time.perf_counter() - began)


def launch(args: argparse.Namespace, tasks: int, procs: int) -> dict[str, float]:
    """Run :func:`worker` in ``procs`` fresh processes; returns rank 0's timing."""
    threads = max(1, (os.cpu_count() or 1) // procs) if args.device == "cpu" else 1
    common = [str(HERE), "--worker", "--tasks", str(tasks), "--iterations",
              str(args.iterations), "--config", args.config, "--device", args.device,
              "--task-chunk", str(args.task_chunk),
              "--threads", str(threads)]
    if procs == 1:
        cmd = [sys.executable, *common]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={procs}", *common]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"{procs} process(es), {tasks} tasks failed:\n{done.stderr[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[20, 100, 1000])
    parser.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--iterations", type=int, default=2, help="timed meta-iterations")
    parser.add_argument("--config", default=str(HERE.parent / "navigation2d_quick.toml"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--task-chunk", default="auto",
                        help="meta.task_chunk: tasks adapted at once per process (0: all; auto: "
                             "the config's default, 100 on a CPU)")
    parser.add_argument("--rollout-tasks", type=int, default=1000)
    parser.add_argument("--rollout-envs", type=int, default=100)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    device = resolve_device(args.device)
    print(f"machine: {describe_machine(device)}")
    chunk = f", task_chunk {args.task_chunk}" if args.task_chunk not in ("0", 0) else ""
    print(f"config: {os.path.relpath(args.config)}{chunk} (Reptile meta-iterations, mean of "
          f"{args.iterations} after a warm-up)")
    base = min(args.procs)
    print(f"{'tasks':>6} {'procs':>5} {'s/meta-iter':>12} {'env steps/s':>12} "
          f"{'speed-up vs ' + str(base) + ' proc':>18}")
    for tasks in args.tasks:
        times = {}
        for procs in args.procs:
            result = launch(args, tasks, procs)
            times[procs] = result["seconds"]
            print(f"{tasks:>6} {procs:>5} {result['seconds']:>12.2f} "
                  f"{result['steps'] / result['seconds']:>12,.0f} "
                  f"{times[base] / result['seconds']:>17.2f}x", flush=True)
    if args.rollout_tasks > 0:
        torch.set_num_threads(os.cpu_count() or 1)
        rate = rollout_rate(args.config, device, args.rollout_tasks, args.rollout_envs)
        print(f"bare rollout with the policy, {args.rollout_tasks} tasks x {args.rollout_envs} "
              f"envs x 100 steps: {rate:,.0f} env steps/s")


if __name__ == "__main__":
    main()
