"""Is adaptation limited by the policy's mean or by its exploration noise?

Adapts a run's meta-learned initialisation for k = 0..K inner PPO updates (the run's inner
learner, as in evaluation) and reports, after each k, the mean return of the stochastic policy
(what the evaluation reports), the return of the same policy taking its mean action (log-std set
to -12), and the mean log-std. When the two returns are close, the mean action is what is left to
improve; when the mean action scores much better, the noise is.

Usage: ``python experiments/diagnostics/mean_action.py runs/navigation2d_quick [--method reptile]
[--split val] [--tasks 40] [--updates 3] [--episodes 20] [--seed 0]``
"""

from __future__ import annotations

import argparse

import run_adaptation
import torch

from metarl.runs.selection import final_theta

DETERMINISTIC_LOG_STD = -12.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    run_adaptation.add_arguments(parser, methods="reptile, fomaml or pretrain", episodes=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    run, _, policy, ppo, tasks = run_adaptation.load(args)
    if policy.discrete:
        raise ValueError(f"{args.run}: the policy is discrete; it has no mean action or log-std")
    theta = final_theta(run, args.method)
    print(run_adaptation.describe(args, f"seed {args.seed}"))
    print("  k | stochastic return | mean-action return (median) | mean log-std")
    for k, out in run_adaptation.adaptations(ppo, theta, tasks, args.updates, args.seed):
        params = dict(out.params)
        log_std = params["log_std"].mean().item()
        params["log_std"] = torch.full_like(params["log_std"], DETERMINISTIC_LOG_STD)
        mean_action = ppo.adapt(params, tasks, 0, torch.Generator().manual_seed(args.seed + 1),
                                evaluate_final=True).returns[-1]
        print(f"{k:3d} | {out.returns[-1].mean().item():17.2f} | "
              f"{mean_action.mean().item():18.2f} ({mean_action.median().item():6.2f}) | "
              f"{log_std:12.2f}", flush=True)


if __name__ == "__main__":
    main()
