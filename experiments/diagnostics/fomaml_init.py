"""Why can first-order MAML's initialisation score below a random one before adaptation?

Meta-trains first-order MAML from a config (with ``--set`` changes, e.g. another outer learning
rate) and, every ``--every`` meta-iterations from the initialisation on, reports on the validation
tasks: the mean return after k = 0..K updates of the evaluation's inner learner; how far theta's
mean actions reach, in units of the action bound (``|mu| / bound``, mean over the k = 0 rollout's
observations), how much of that is one drift shared by every state and task (``|mean mu| /
bound``: the norm of the mean action vector over all observations of all tasks), and the share of
mean actions beyond the bound (saturated: the env clips them); and the norm of the actor's output
layer.

Usage: ``python experiments/diagnostics/fomaml_init.py experiments/navigation2d_quick.toml
[--set fomaml.learning_rate=1e-4] [--every 5] [--tasks 20]``
"""

from __future__ import annotations

import argparse

import torch

from metarl.agents.param_tree import stack
from metarl.agents.ppo import PPO
from metarl.agents.rollout import collect
from metarl.envs import AutoResetEnv
from metarl.problems import load_config, problem_of
from metarl.rl.components import build_components


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--every", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=20)
    args = parser.parse_args()
    config = load_config(args.config, args.set)
    family, policy, _ = build_components(config)
    ppo = PPO(family, policy, config.eval.inner(config.ppo))
    trainer = problem_of(config).trainer("fomaml", config, torch.device("cpu"))
    tasks = family.tasks.sample(args.tasks, split="val")
    bound = torch.as_tensor(family.action_space.high)
    head = f"actor.{len(policy.hidden)}.weight"
    print(f"first-order MAML on {args.config} {' '.join(args.set)}: {args.tasks} validation "
          f"tasks, {ppo.config.num_envs} episodes per update")
    print(" iter | return k=0..K                          | mean |mu|/bound | |mean mu|/bound "
          "| saturated | head norm")
    while True:
        theta = trainer.theta
        gen = torch.Generator().manual_seed(0)
        returns = ppo.adapt(theta, tasks, config.eval.updates, gen, evaluate_final=True).returns
        env = AutoResetEnv(family, tasks, ppo.config.num_envs, torch.Generator().manual_seed(1))
        rollout, _ = collect(policy, stack(theta, args.tasks), env, env.reset(),
                             ppo.config.num_steps, torch.Generator().manual_seed(2))
        with torch.no_grad():
            mu = policy.actor(stack(theta, args.tasks), rollout.obs.transpose(0, 1).reshape(
                args.tasks, -1, rollout.obs.shape[-1]))
        reach = (mu.abs() / bound).mean().item()
        drift = (mu.reshape(-1, mu.shape[-1]).mean(dim=0) / bound).norm().item()
        saturated = (mu.abs() > bound).float().mean().item()
        curve = " ".join(f"{r:8.2f}" for r in returns.nanmean(dim=1).tolist())
        print(f"{trainer.iteration:5d} | {curve} | {reach:15.2f} | {drift:15.2f} | "
              f"{saturated:9.2f} | {theta[head].norm().item():9.2f}", flush=True)
        if trainer.done:
            break
        for _ in range(args.every):
            if not trainer.done:
                trainer.step()


if __name__ == "__main__":
    main()
