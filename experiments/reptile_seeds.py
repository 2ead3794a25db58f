"""Train and evaluate one config with several training seeds, then pool the results.

Each seed is a full ``metarl train`` run in ``OUT/seed_<s>`` (resumed when it already exists),
evaluated with its own seed, so the ``seed`` column of the pooled ``OUT/eval/curves.csv`` is the
training seed. The pooled summary is the mean over tasks of each task's mean over seeds, with a
95% confidence interval over tasks; ``OUT/plots/adaptation.png`` draws it.

Usage: ``python experiments/reptile_seeds.py experiments/navigation2d.toml --seeds 0 1 2
[--out runs/navigation2d_seeds] [--set key=value ...]``
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from metarl.config import dump_config, load_config
from metarl.evaluate import read_csv, write_results
from metarl.plots import plot_run
from metarl.run_dir import RunDir
from metarl.train import train_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", help="directory (default runs/<config name>_seeds)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    out = Path(args.out or f"runs/{Path(args.config).stem}_seeds")
    curves, oracle = [], []
    config = None
    for seed in args.seeds:
        config = load_config(Path(args.config),
                             [*args.set, f"run.seed={seed}", f"eval.seeds=[{seed}]"])
        run_dir = out / f"seed_{seed}"
        print(f"== seed {seed}: {run_dir}", flush=True)
        run = train_run(config, run_dir, resume=(run_dir / "config.toml").exists())
        curves += read_csv(run.eval / "curves.csv")
        if (run.eval / "oracle.csv").exists():
            oracle += read_csv(run.eval / "oracle.csv")
    assert config is not None
    pooled = RunDir(out)
    settings = dataclasses.replace(config.eval, seeds=tuple(args.seeds))
    pooled.path.mkdir(parents=True, exist_ok=True)
    pooled.config.write_text(dump_config(dataclasses.replace(config, eval=settings)))
    _, text = write_results(pooled.eval, curves, oracle, config.env.family, settings)
    print(text)
    plot_run(pooled)


if __name__ == "__main__":
    main()
