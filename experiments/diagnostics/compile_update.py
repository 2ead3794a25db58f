"""Would ``torch.compile`` speed up the PPO update? The loss and its backward, eager and compiled.

Times PPO's minibatch loss and its gradient (``PPO.loss`` then ``torch.autograd.grad``) on
random minibatches of 500 samples for T tasks at once, with the main command's policy
(Navigation2D, two hidden layers of 100 ReLU) and its pretraining settings, eager and under
``torch.compile`` (inductor, static shapes; a C++ compiler is needed), in the same run; prints the
first call's time (the compilation), the steady time per step and the largest gradient difference.

Usage: ``python experiments/diagnostics/compile_update.py [--tasks 1 10 40] [--threads 1]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from metarl.agents.ppo import Batch
from metarl.machine import describe_machine, use_threads
from metarl.problems import load_config
from metarl.training import make_trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[1, 10, 40])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    use_threads(args.threads)
    print(f"machine: {describe_machine()}")
    config = load_config(Path("experiments/navigation2d_quick.toml"))
    pretrainer = make_trainer("pretrain", config, torch.device("cpu"))
    ppo = pretrainer.mixture  # PPO with pretraining's settings (10 epochs, clip 0.2)
    compiled = torch.compile(ppo.loss, dynamic=False)
    gen = torch.Generator().manual_seed(0)
    for tasks in args.tasks:
        params = {k: v.detach().expand(tasks, *v.shape).clone().requires_grad_()
                  for k, v in pretrainer.theta.items()}
        leaves = list(params.values())
        dims = (2, 2, 0, 0, 0, 0)  # obs, actions, log-probs, advantages, returns, values
        mb = Batch(*(torch.randn(tasks, 500, *((d,) if d else ()), generator=gen)
                     for d in dims))
        grads = {}
        for name, loss in (("eager", ppo.loss), ("compiled", compiled)):
            def step(loss=loss, params=params, mb=mb, leaves=leaves):
                return torch.autograd.grad(loss(params, mb, 0.2).loss.sum(), leaves)
            began = time.perf_counter()
            step()
            first = time.perf_counter() - began
            for _ in range(5):
                step()
            began = time.perf_counter()
            for _ in range(args.steps):
                grads[name] = step()
            ms = (time.perf_counter() - began) / args.steps * 1e3
            print(f"T={tasks:3d} {name:8s}: first call {first:5.1f} s, {ms:7.2f} ms per step")
        diff = max((a - b).abs().max().item()
                   for a, b in zip(grads["eager"], grads["compiled"], strict=True))
        print(f"T={tasks:3d} largest gradient difference {diff:.1e}")


if __name__ == "__main__":
    main()
