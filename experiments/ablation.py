"""Ablation of Reptile's design choices, measured on the validation tasks.

Starting from a config, each row changes one setting, meta-trains Reptile with it and evaluates
Reptile and scratch (the same inner settings from a random initialisation) on the family's
validation tasks, never the test tasks. Prints a Markdown table of the mean return after k = 1..K
updates with its 95% confidence interval over tasks (each task's mean over the seeds), and writes
it to ``OUT/ablation.md``. Runs land in ``OUT/<row name>/seed_<s>`` and are resumed when present.
``--set`` changes the base config of every row (applied before the row's own change).

Usage: ``python experiments/ablation.py experiments/navigation2d_quick.toml [--seeds 0 1 2]
[--out runs/ablation] [--rows N ...] [--set key=value ...]``
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from metarl.problems import load_config
from metarl.report.files import read_csv
from metarl.report.summary import ci_cells, summarize
from metarl.training import train_run

# (row name, overrides of the base config)
ROWS: list[tuple[str, list[str]]] = [
    ("config as given", []),
    ("log-std meta-learned too", ['meta.groups=["body","head","log_std","value"]']),
    ("log-std inner lr = inner lr (noise stays near its init)",
     ['ppo.log_std_learning_rate="none"']),
    ("PPO clip 2", ["ppo.clip_coef=2.0"]),
    ("PPO clip 0.2 (standard)", ["ppo.clip_coef=0.2"]),
    ("inner lr 3e-4 (standard)", ["ppo.learning_rate=3e-4"]),
    ("10 epochs per update", ["ppo.num_epochs=10"]),
    ("init log-std -1", ["policy.init_log_std=-1.0"]),
    ("value function not meta-learned", ['meta.groups=["body","head"]']),
    ("outer step not annealed", ["meta.anneal=false"]),
    ("discount 0.9", ["ppo.gamma=0.9"]),
    ("discount 0.95", ["ppo.gamma=0.95"]),
    ("discount 0.8", ["ppo.gamma=0.8"]),
    ("GAE lambda 0.9", ["ppo.gae_lambda=0.9"]),
    ("GAE lambda 1 (Monte Carlo returns, the critic only as a baseline)", ["ppo.gae_lambda=1.0"]),
    ("1 inner PPO iteration per task", ["meta.inner_iterations=1"]),
    ("2 inner PPO iterations per task", ["meta.inner_iterations=2"]),
    ("5 inner PPO iterations per task", ["meta.inner_iterations=5"]),
    ("outer step 0.5", ["meta.epsilon=0.5"]),
    ("meta-batch 20", ["meta.meta_batch=20"]),
    ("inner lr 1e-2", ["ppo.learning_rate=1e-2"]),
    ("8 minibatches per epoch", ["ppo.num_minibatches=8"]),
    ("PPO clip 5 annealed over the updates", ["ppo.anneal_clip=true"]),
    ("PPO clip 7.5", ["ppo.clip_coef=7.5"]),
    ("PPO clip 7.5 annealed over the updates", ["ppo.clip_coef=7.5", "ppo.anneal_clip=true"]),
    ("PPO clip 10 annealed over the updates", ["ppo.clip_coef=10.0", "ppo.anneal_clip=true"]),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", default="runs/ablation")
    parser.add_argument("--rows", type=int, nargs="+", help="row numbers to run (default all)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="change the base config of every row")
    args = parser.parse_args()
    lines = []
    for i, (name, overrides) in enumerate(ROWS):
        if args.rows and i not in args.rows:
            continue
        # named after the row, not its position, so that adding rows never resumes another's run
        row_dir = Path(args.out) / re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
        curves = []
        for seed in args.seeds:
            config = load_config(Path(args.config), [
                *args.set, *overrides, f"run.seed={seed}", f"eval.seeds=[{seed}]",
                'eval.split="val"', 'eval.checkpoint="last"',
                'eval.methods=["reptile","scratch"]', "eval.oracle_iterations=0"])
            run_dir = row_dir / f"seed_{seed}"
            run = train_run(config, run_dir, resume=(run_dir / "config.toml").exists(),
                            quiet=True)
            curves += read_csv(run.eval / "curves.csv")
        cells = ci_cells(summarize(curves), digits=1)
        ks = sorted({k for _, k in cells})
        row = [f"{name}: {' '.join(overrides) or '-'}"]
        row += [cells[("reptile", k)] for k in ks] + [cells[("scratch", k)] for k in ks[1:2]]
        if not lines:
            lines = ["| change | " + " | ".join(f"Reptile k={k}" for k in ks)
                     + f" | scratch k={ks[1]} |", "|" + " --- |" * (len(row))]
        lines.append("| " + " | ".join(row) + " |")
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "ablation.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
