"""Several training seeds of one config: train each, then pool their evaluations.

Each seed is a full ``metarl train`` run in ``OUT/seed_<s>`` (resumed when it already exists),
evaluated with its own seed, so the ``seed`` column of the pooled ``OUT/eval/curves.csv`` is the
training seed. The pooled summary is the mean over tasks of each task's mean over seeds, with a
95% confidence interval over tasks; ``OUT/plots/adaptation.png`` draws it.

With ``pool_only``, nothing is trained or evaluated: the seeds' existing evaluations (for instance
redone with ``metarl evaluate OUT/seed_<s> --checkpoint best_val``) are pooled, with the
evaluation settings each recorded in ``eval/eval.toml``. ``sources`` pools each seed's
evaluations from ``A/seed_<s>``, ``B/seed_<s>``, ... into ``OUT``: one directory per group of
methods evaluated on its own (copies of the same runs, each evaluated with ``metarl evaluate
--methods ...``); the groups must hold different methods and the same evaluation settings.
``experiments/reptile_seeds.py`` is the command line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from metarl.config import dump_config
from metarl.evaluation import write_results
from metarl.plotting import plot_run
from metarl.problems import load_config, problem_of
from metarl.report.files import read_csv, read_settings
from metarl.runs.run_dir import RunDir
from metarl.training import train_run

Rows = list[dict[str, str]]


def read_evaluations(sources: Sequence[Path], seed: int) -> tuple[Any, Rows, Rows, list[str]]:
    """One seed's config (with its evaluation's settings, the methods of every source), curve
    rows, oracle rows and checkpoint lines, from ``SOURCE/seed_<seed>/eval`` of each source;
    a one-line ``ValueError`` when the sources are not evaluations of the same runs with the
    same settings and different methods."""
    config, curves, oracle, lines = None, [], [], []
    methods: list[str] = []
    for source in sources:
        run = RunDir(source / f"seed_{seed}")
        saved = run.load_config()
        this = dataclasses.replace(saved, eval=read_settings(run.eval, type(saved.eval)))
        repeated = sorted(set(methods) & set(this.eval.methods))
        if repeated:
            raise ValueError(f"{run.eval}: method {repeated[0]!r} is also in an earlier --from "
                             f"directory; each method must come from one")
        if config is not None:
            first = sources[0] / f"seed_{seed}"
            if dataclasses.replace(this.eval, methods=config.eval.methods) != config.eval:
                raise ValueError(f"{run.eval}/eval.toml: evaluation settings differ from "
                                 f"{first}'s (other than the methods)")
            if dataclasses.replace(this, eval=config.eval) != config:
                raise ValueError(f"{run.path}/config.toml differs from {first}'s: --from pools "
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


def train_seeds(config_path: Path, seeds: Sequence[int], out: Path,
                overrides: Sequence[str] = (), pool_only: bool = False,
                sources: Sequence[Path] = (), quiet: bool = False) -> str:
    """Train and evaluate ``config_path`` once per seed in ``out/seed_<s>`` (or, with
    ``pool_only``, only read their evaluations, from each of ``sources`` when given), then write
    the pooled evaluation and plots to ``out``; returns the pooled summary table."""
    if sources and not pool_only:
        raise ValueError("--from pools existing evaluations: it needs --pool-only")
    curves: Rows = []
    oracle: Rows = []
    checkpoints: list[str] = []
    config: Any = None
    for seed in seeds:
        dirs = [d / f"seed_{seed}" for d in sources or [out]]
        if not quiet:
            print(f"== seed {seed}: {', '.join(map(str, dirs))}", flush=True)
        if not pool_only:
            config = load_config(config_path,
                                 [*overrides, f"run.seed={seed}", f"eval.seeds=[{seed}]"])
            train_run(config, dirs[0], resume=(dirs[0] / "config.toml").exists(), quiet=quiet)
        config, seed_curves, seed_oracle, lines = read_evaluations(sources or [out], seed)
        checkpoints += lines
        curves += seed_curves
        oracle += seed_oracle
    pooled = RunDir(out)
    settings = dataclasses.replace(config.eval, seeds=tuple(seeds))
    pooled.path.mkdir(parents=True, exist_ok=True)
    pooled.config.write_text(dump_config(dataclasses.replace(config, eval=settings)))
    evaluator = problem_of(config).evaluator(config, settings)
    _, text = write_results(pooled.eval, curves, oracle, evaluator, checkpoints)
    plot_run(pooled)
    return text
