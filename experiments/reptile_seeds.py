"""Train and evaluate one config with several training seeds, then pool the results.

Each seed is a full ``metarl train`` run in ``OUT/seed_<s>`` (resumed when it already exists),
evaluated with its own seed, so the ``seed`` column of the pooled ``OUT/eval/curves.csv`` is the
training seed. The pooled summary is the mean over tasks of each task's mean over seeds, with a
95% confidence interval over tasks; ``OUT/plots/adaptation.png`` draws it.

With ``--pool-only``, nothing is trained or evaluated: the seeds' existing evaluations (for
instance redone with ``metarl evaluate OUT/seed_<s> --checkpoint best_val``) are pooled, with the
evaluation settings each recorded in ``eval/eval.toml``.

Usage: ``python experiments/reptile_seeds.py experiments/navigation2d.toml --seeds 0 1 2
[--out runs/navigation2d_seeds] [--set key=value ...] [--pool-only]``
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from metarl.config import EvalConfig, dump_config, load_config
from metarl.evaluate import read_csv, read_settings, write_results
from metarl.plots import plot_run
from metarl.run_dir import RunDir
from metarl.train import train_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", help="directory (default runs/<config name>_seeds)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--pool-only", action="store_true",
                        help="pool the seeds' existing evaluations; train and evaluate nothing")
    args = parser.parse_args()
    out = Path(args.out or f"runs/{Path(args.config).stem}_seeds")
    curves, oracle, checkpoints = [], [], []
    config = None
    for seed in args.seeds:
        run_dir = out / f"seed_{seed}"
        print(f"== seed {seed}: {run_dir}", flush=True)
        if args.pool_only:
            run = RunDir(run_dir)
            config = dataclasses.replace(run.load_config(),
                                         eval=read_settings(run.eval, EvalConfig))
        else:
            config = load_config(Path(args.config),
                                 [*args.set, f"run.seed={seed}", f"eval.seeds=[{seed}]"])
            run = train_run(config, run_dir, resume=(run_dir / "config.toml").exists())
        checkpoints += [f"seed {seed}: {line[2:]}" for line in
                        (run.eval / "summary.md").read_text().splitlines()
                        if line.startswith("- ")]
        curves += read_csv(run.eval / "curves.csv")
        if (run.eval / "oracle.csv").exists():
            oracle += read_csv(run.eval / "oracle.csv")
    assert config is not None
    pooled = RunDir(out)
    settings = dataclasses.replace(config.eval, seeds=tuple(args.seeds))
    pooled.path.mkdir(parents=True, exist_ok=True)
    pooled.config.write_text(dump_config(dataclasses.replace(config, eval=settings)))
    _, text = write_results(pooled.eval, curves, oracle, config.env.family, settings,
                            checkpoints)
    print(text)
    plot_run(pooled)


if __name__ == "__main__":
    main()
