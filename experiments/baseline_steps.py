"""Give every method the inner step size that suits it, chosen on the validation tasks.

The evaluation adapts every initialisation with the run's inner learner, whose large steps are
tuned for Reptile. A random or a pretrained initialisation may prefer small ones, and a
pretrained policy whose exploration noise has narrowed may adapt better from the noise every
adaptation of Reptile starts from (``policy.init_log_std``). For each method this script
evaluates a few inner settings, each with the method's own log-std and (where it differs) with
the log-std reset, on the validation tasks (first seed); picks the variant with the best mean
return over k = 1..K; and evaluates that on the test tasks with every seed. Prints both tables;
the test table is the fair comparison.

Usage: ``python experiments/baseline_steps.py runs/navigation2d_quick_seeds/seed_0
[--seeds 0 1 2] [--methods reptile scratch pretrain fomaml]``, or several runs (one per
training seed, each evaluated with the seed of its directory name ``seed_<s>``):
``python experiments/baseline_steps.py runs/navigation2d_quick_seeds/seed_*``
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import re
from pathlib import Path

import torch

from metarl.agents.actor_critic import ActorCritic
from metarl.agents.param_tree import Params
from metarl.agents.ppo import PPO
from metarl.envs import TaskParams
from metarl.problem import initial_theta
from metarl.report.summary import ci_cells, curve_rows, summarize
from metarl.rl.components import build_components
from metarl.rl.learner import adaptation_returns
from metarl.runs.run_dir import RunDir
from metarl.runs.selection import final_theta

# (name, changes to the evaluation's inner PPO settings; a fixed clip replaces any clip schedule)
FIXED_CLIP = {"clip_schedule": ()}
SETTINGS: list[tuple[str, dict[str, object]]] = [
    ("run's inner learner", {}),
    ("medium: lr 1e-3, clip 1", {"learning_rate": 1e-3, "clip_coef": 1.0, **FIXED_CLIP}),
    ("standard: lr 3e-4, clip 0.2, 10 epochs", {"learning_rate": 3e-4, "clip_coef": 0.2,
                                                "num_epochs": 10, **FIXED_CLIP}),
    ("standard, one lr (pretraining's)", {"learning_rate": 3e-4, "clip_coef": 0.2,
                                         "num_epochs": 10, "log_std_learning_rate": None,
                                         **FIXED_CLIP}),
]


def start(run: RunDir, method: str, policy: ActorCritic, seed: int,
          reset_log_std: float | None) -> Params:
    """The theta ``method`` adapts from (scratch: the seed's random one), its log-std set to
    ``reset_log_std`` unless that is ``None``."""
    theta = dict(initial_theta(policy, seed, torch.device("cpu")) if method == "scratch"
                 else final_theta(run, method))
    if reset_log_std is not None:
        theta["log_std"] = torch.full_like(theta["log_std"], reset_log_std)
    return theta


def returns_of(run: RunDir, method: str, ppo: PPO, tasks: TaskParams, reset_log_std: float | None,
               updates: int, seeds: list[int]) -> list[dict[str, float | str | int]]:
    """``curves.csv``-style rows of one method adapted by ``ppo`` on ``tasks``."""
    rows: list[dict[str, float | str | int]] = []
    for seed in seeds:
        theta = start(run, method, ppo.policy, seed, reset_log_std)
        returns = adaptation_returns(ppo, theta, tasks, updates, seed)
        rows += curve_rows(method, seed, returns, "return",
                           ppo.config.num_envs * ppo.config.num_steps)
    return rows


def table(rows: list[dict[str, float | str | int]], label: str, updates: int) -> list[str]:
    """Markdown rows ``| label | k=0 | ... |`` per method of ``rows``."""
    cells = ci_cells(summarize(rows))
    methods = dict.fromkeys(str(r["method"]) for r in rows)
    return [f"| {m} | {label} | " + " | ".join(cells[(m, k)] for k in range(updates + 1)) + " |"
            for m in methods]


def run_seed(path: Path, default: list[int]) -> list[int]:
    """The training seed in a ``seed_<s>`` directory name, else ``default``."""
    match = re.fullmatch(r"seed_(\d+)", path.name)
    return [int(match.group(1))] if match else default


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help="run directories of one config")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                        help="evaluation seeds of a run whose name is not seed_<s>")
    parser.add_argument("--methods", nargs="+",
                        default=["reptile", "scratch", "pretrain", "fomaml"])
    args = parser.parse_args()
    runs = [RunDir(p) for p in args.runs]
    config = runs[0].load_config()
    settings = config.eval
    family, policy, _ = build_components(config)
    split_tasks = {split: family.tasks.sample(settings.test_tasks, split=split)
                   for split in ("val", "test")}
    base = settings.inner(config.ppo)
    header = ("| method | inner settings | " + " | ".join(f"k={k}" for k in range(
        settings.updates + 1)) + " |\n| --- | --- |" + " --- |" * (settings.updates + 1))
    val_lines, test_lines = [], []
    val_seed = run_seed(args.runs[0], args.seeds)[:1]
    init_log_std = config.policy.init_log_std
    for method in args.methods:
        own = start(runs[0], method, policy, val_seed[0], reset_log_std=None)
        resets: list[float | None] = [None]
        if "log_std" in own and not torch.all(own["log_std"] == init_log_std):
            resets.append(init_log_std)
        scored = []
        for (name, changes), reset in itertools.product(SETTINGS, resets):
            label = name + (", log-std reset" if reset is not None else "")
            ppo = PPO(family, policy, dataclasses.replace(base, **changes))  # type: ignore[arg-type]
            rows = returns_of(runs[0], method, ppo, split_tasks["val"], reset, settings.updates,
                              val_seed)
            val_lines += table(rows, label, settings.updates)
            after = [float(r["mean"]) for r in summarize(rows) if int(r["k"]) > 0]
            scored.append((sum(after) / len(after), label, ppo, reset))
            print(val_lines[-1], flush=True)
        _, name, best, reset = max(scored, key=lambda s: s[0])
        rows = []
        for run, path in zip(runs, args.runs, strict=True):
            rows += returns_of(run, method, best, split_tasks["test"], reset, settings.updates,
                               run_seed(path, args.seeds))
        test_lines += table(rows, f"{name} (best on val)", settings.updates)
        print(test_lines[-1], flush=True)
    print(f"\nValidation tasks, seed {run_seed(args.runs[0], args.seeds)[0]}, "
          f"{settings.episodes} episodes per update:\n\n{header}\n" + "\n".join(val_lines))
    print(f"\nTest tasks, each method with its best inner settings on val, {len(runs)} run(s):"
          f"\n\n{header}\n" + "\n".join(test_lines))


if __name__ == "__main__":
    main()
