"""Does first-order MAML's outer step feed the drift of its initialisation?

Meta-trains first-order MAML from a config for ``--iterations`` meta-iterations, then, at the
initialisation and at the trained theta, draws ``--batches`` meta-batches and reports: theta's mean
action over the observation square (its drift, shared by every state and task), the adapted
policies' mean action, averaged over the tasks, and the outer direction on the actor's output
bias (``-mean_i grad L_i(phi_i)``), with its standard error over the meta-batches and its cosine
with the drift.

Usage: ``python experiments/diagnostics/fomaml_drift.py experiments/navigation2d_quick.toml
[--iterations 30] [--batches 12]``
"""

from __future__ import annotations

import argparse

import torch

from metarl.agents.param_tree import Params, stack
from metarl.problems import load_config, problem_of


def report(trainer: object, theta: Params, batches: int, tasks_per_batch: int) -> None:
    learner = trainer.learner  # type: ignore[attr-defined]
    family, policy = learner.ppo.family, learner.ppo.policy
    low, high = torch.as_tensor(family.observation_space.low), torch.as_tensor(
        family.observation_space.high)
    square = torch.rand(1, 4000, low.shape[0], generator=torch.Generator().manual_seed(0))
    obs = low.clamp(min=-0.5) + square * (high.clamp(max=0.5) - low.clamp(min=-0.5))
    head = f"actor.{len(policy.hidden)}.bias"
    with torch.no_grad():
        drift = policy.actor(stack(theta, 1), obs).mean(dim=(0, 1))
    directions, adapted = [], []
    for i in range(batches):
        gen = torch.Generator().manual_seed(100 + i)
        tasks = family.tasks.sample(tasks_per_batch, torch.Generator().manual_seed(200 + i))
        out = learner.adapt(theta, tasks, trainer.config.inner_iterations, gen)  # type: ignore[attr-defined]
        with torch.no_grad():
            mu = policy.actor(out.params, obs.expand(tasks_per_batch, -1, -1))
        adapted.append(mu.mean(dim=(0, 1)))
        directions.append(-learner.query_gradients(out, tasks, gen).grads[head].mean(dim=0))
    d = torch.stack(directions)
    mean, se = d.mean(dim=0), d.std(dim=0) / batches ** 0.5
    cosine = torch.nn.functional.cosine_similarity(mean, drift, dim=0).item()
    fmt = lambda t: "[" + ", ".join(f"{x:+.4f}" for x in t.tolist()) + "]"  # noqa: E731
    print(f"  theta's mean action (drift): {fmt(drift)}")
    print(f"  adapted policies' mean action: {fmt(torch.stack(adapted).mean(dim=0))}")
    print(f"  outer direction on {head}: {fmt(mean)} +- {fmt(se)} (s.e.), cosine with the "
          f"drift {cosine:+.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--batches", type=int, default=12)
    args = parser.parse_args()
    config = load_config(args.config, args.set)
    trainer = problem_of(config).trainer("fomaml", config, torch.device("cpu"))
    print(f"first-order MAML on {args.config} {' '.join(args.set)}; {args.batches} meta-batches "
          f"of {config.meta.meta_batch} training tasks")
    print("at the initialisation:")
    report(trainer, trainer.theta, args.batches, config.meta.meta_batch)
    for _ in range(args.iterations):
        trainer.step()
    print(f"after {args.iterations} meta-iterations:")
    report(trainer, trainer.theta, args.batches, config.meta.meta_batch)


if __name__ == "__main__":
    main()
