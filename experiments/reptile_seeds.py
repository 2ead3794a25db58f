"""Train and evaluate one config with several training seeds, then pool the results.

Each seed is a full ``metarl train`` run in ``OUT/seed_<s>`` (resumed when it already exists),
evaluated with its own seed, so the ``seed`` column of the pooled ``OUT/eval/curves.csv`` is the
training seed. The pooled summary is the mean over tasks of each task's mean over seeds, with a
95% confidence interval over tasks; ``OUT/plots/adaptation.png`` draws it.

With ``--pool-only``, nothing is trained or evaluated: the seeds' existing evaluations (for
instance redone with ``metarl evaluate OUT/seed_<s> --checkpoint best_val``) are pooled, with the
evaluation settings each recorded in ``eval/eval.toml``. ``--from A B ...`` pools each seed's
evaluations from ``A/seed_<s>``, ``B/seed_<s>``, ... into ``OUT``: one directory per group of
methods evaluated on its own (copies of the same runs, each evaluated with ``metarl evaluate
--methods ...``); the groups must hold different methods and the same evaluation settings.

Usage: ``python experiments/reptile_seeds.py experiments/navigation2d.toml --seeds 0 1 2
[--out runs/navigation2d_seeds] [--set key=value ...] [--pool-only [--from DIR ...]]``
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from metarl.config import AnyConfig, EvalConfig, dump_config, load_config
from metarl.evaluate import read_csv, read_settings, write_results
from metarl.plots import plot_run
from metarl.run_dir import RunDir
from metarl.train import train_run

Rows = list[dict[str, str]]


def read_evaluations(sources: list[Path], seed: int) -> tuple[AnyConfig, Rows, Rows, list[str]]:
    """One seed's config (with its evaluation's settings, the methods of every source), curve
    rows, oracle rows and checkpoint lines, from ``SOURCE/seed_<seed>/eval`` of each source."""
    config, curves, oracle, lines = None, [], [], []
    methods: list[str] = []
    for source in sources:
        run = RunDir(source / f"seed_{seed}")
        this = dataclasses.replace(run.load_config(), eval=read_settings(run.eval, EvalConfig))
        repeated = sorted(set(methods) & set(this.eval.methods))
        if repeated:
            raise SystemExit(f"{run.eval}: method {repeated[0]!r} is also in an earlier --from "
                             f"directory; each method must come from one")
        if config is not None:
            first = sources[0] / f"seed_{seed}"
            if dataclasses.replace(this.eval, methods=config.eval.methods) != config.eval:
                raise SystemExit(f"{run.eval}/eval.toml: evaluation settings differ from "
                                 f"{first}'s (other than the methods)")
            if dataclasses.replace(this, eval=config.eval) != config:
                raise SystemExit(f"{run.path}/config.toml differs from {first}'s: --from pools "
                                 f"evaluations of the same runs")
        methods += this.eval.methods
        base = this if config is None else config
        config = dataclasses.replace(base, eval=dataclasses.replace(base.eval,
                                                                    methods=tuple(methods)))
        lines += [f"seed {seed}: {line[2:]}" for line in
                  (run.eval / "summary.md").read_text().splitlines() if line.startswith("- ")]
        curves += read_csv(run.eval / "curves.csv")
        if not oracle and (run.eval / "oracle.csv").exists():  # the same oracle in every source
            oracle = read_csv(run.eval / "oracle.csv")
    assert config is not None
    return config, curves, oracle, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", help="directory (default runs/<config name>_seeds)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--pool-only", action="store_true",
                        help="pool the seeds' existing evaluations; train and evaluate nothing")
    parser.add_argument("--from", dest="sources", type=Path, nargs="+", metavar="DIR",
                        help="with --pool-only: pool the evaluations of DIR/seed_<s> for every "
                             "DIR (default: --out)")
    args = parser.parse_args()
    out = Path(args.out or f"runs/{Path(args.config).stem}_seeds")
    if args.sources and not args.pool_only:
        parser.error("--from pools existing evaluations: it needs --pool-only")
    curves: Rows = []
    oracle: Rows = []
    checkpoints: list[str] = []
    config = None
    for seed in args.seeds:
        dirs = [d / f"seed_{seed}" for d in args.sources or [out]]
        print(f"== seed {seed}: {', '.join(map(str, dirs))}", flush=True)
        if args.pool_only:
            config, seed_curves, seed_oracle, lines = read_evaluations(args.sources or [out], seed)
        else:
            run_dir = dirs[0]
            config = load_config(Path(args.config),
                                 [*args.set, f"run.seed={seed}", f"eval.seeds=[{seed}]"])
            train_run(config, run_dir, resume=(run_dir / "config.toml").exists())
            config, seed_curves, seed_oracle, lines = read_evaluations([out], seed)
        checkpoints += lines
        curves += seed_curves
        oracle += seed_oracle
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
