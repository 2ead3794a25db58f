"""Several training seeds of one config: train each, then pool their evaluations.

``metarl train CONFIG --seeds 0 1 2 [--jobs N]``: each seed is a full ``metarl train`` run in
``OUT/seed_<s>``, evaluated with its own seed, so the ``seed`` column of the pooled
``OUT/eval/curves.csv`` is the training seed. The seeds run one after the other in this process,
or ``N`` at a time in child processes of one thread each (``OMP_NUM_THREADS=1``), so that the
cores are used without oversubscription. With ``resume``, a seed whose directory holds a run is
resumed (a finished one trains nothing) and a seed not yet started starts; with ``force``, each
seed's run directory is replaced.

The pooled summary is the mean over tasks of each task's mean over seeds, with a
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
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from metarl.config import MAX_SEED, dump_config
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
        run = RunDir(seed_dir(source, seed))
        saved = run.load_config()
        this = dataclasses.replace(saved, eval=read_settings(run.eval, type(saved.eval)))
        repeated = sorted(set(methods) & set(this.eval.methods))
        if repeated:
            raise ValueError(f"{run.eval}: method {repeated[0]!r} is also in an earlier --from "
                             f"directory; each method must come from one")
        if config is not None:
            first = seed_dir(sources[0], seed)
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


def check_sweep(seeds: Sequence[int], jobs: int = 1) -> None:
    """One-line errors for a sweep's ``--seeds`` and ``--jobs``."""
    if not seeds or len(set(seeds)) != len(seeds) or any(
            not 0 <= s <= MAX_SEED for s in seeds):
        raise ValueError(f"--seeds {' '.join(map(str, seeds))} must be distinct integers from 0 "
                         "to 2**32 - 1")
    if jobs <= 0:
        raise ValueError(f"--jobs={jobs} must be a positive integer")


def seed_dir(out: Path, seed: int) -> Path:
    """The run directory of training seed ``seed`` under ``out``."""
    return out / f"seed_{seed}"


def seed_overrides(overrides: Sequence[str], seed: int) -> list[str]:
    """``overrides`` for training seed ``seed``: trained and evaluated with that seed."""
    return [*overrides, f"run.seed={seed}", f"eval.seeds=[{seed}]"]


def _train_children(config_path: Path, seeds: Sequence[int], out: Path,
                    options: Callable[[int], list[str]], jobs: int, quiet: bool) -> None:
    """``metarl train`` of each seed in a child process of one thread, ``jobs`` at a time; a
    one-line error naming the seeds that failed and the last line each wrote."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    waiting, running, failed = list(seeds), {}, []
    while waiting or running:
        while waiting and len(running) < jobs:
            seed = waiting.pop(0)
            side_by_side = ["--set", "run.jobs=1"] if jobs > 1 else []  # seeds use the cores
            cmd = [sys.executable, "-m", "metarl", "train", str(config_path),
                   "--out", str(seed_dir(out, seed)), "--quiet", *options(seed), *side_by_side]
            running[seed] = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                             stderr=subprocess.PIPE, text=True)
            if not quiet:
                print(f"== seed {seed}: {seed_dir(out, seed)} (child process)", flush=True)
        for seed, child in list(running.items()):
            if child.poll() is None:
                continue
            _, err = child.communicate()
            del running[seed]
            if child.returncode != 0:
                last = (err.strip().splitlines() or [f"exit status {child.returncode}"])[-1]
                failed.append(f"seed {seed}: {last}")
            elif not quiet:
                print(f"== seed {seed}: done", flush=True)
        time.sleep(0.2)
    if failed:
        raise ValueError("; ".join(failed))


def train_seeds(config_path: Path, seeds: Sequence[int], out: Path,
                overrides: Sequence[str] = (), pool_only: bool = False,
                sources: Sequence[Path] = (), quiet: bool = False, jobs: int = 1,
                resume: bool = False, force: bool = False, evaluate: bool = True) -> str:
    """Train and evaluate ``config_path`` once per seed in ``out/seed_<s>`` (``jobs`` at a time),
    or, with ``pool_only``, only read their evaluations (from each of ``sources`` when given);
    then, unless ``evaluate`` is off, write the pooled evaluation and plots to ``out``; returns
    the pooled summary table (empty without evaluation)."""
    check_sweep(seeds, jobs)
    if sources and not pool_only:
        raise ValueError("--from pools existing evaluations: it needs --pool-only")
    if resume and force:
        raise ValueError("--resume and --force exclude each other")
    if not pool_only:
        for seed in seeds:  # every seed's config, checked before any trains
            load_config(config_path, seed_overrides(overrides, seed))
        if jobs > 1:
            def options(seed: int) -> list[str]:
                started = (seed_dir(out, seed) / "config.toml").exists()
                return [*(o for item in seed_overrides(overrides, seed) for o in ("--set", item)),
                        *(f for f, on in (("--resume", resume and started), ("--force", force),
                                          ("--no-eval", not evaluate)) if on)]

            _train_children(config_path, [s for s in seeds if not (
                resume and _finished(seed_dir(out, s), evaluate))], out, options, jobs, quiet)
        else:
            for seed in seeds:
                if not quiet:
                    print(f"== seed {seed}: {seed_dir(out, seed)}", flush=True)
                config = load_config(config_path, seed_overrides(overrides, seed))
                run = seed_dir(out, seed)
                train_run(config, run, resume=resume and (run / "config.toml").exists(),
                          force=force, evaluate=evaluate, quiet=quiet)
    if not evaluate:
        return ""
    curves: Rows = []
    oracle: Rows = []
    checkpoints: list[str] = []
    config: Any = None
    for seed in seeds:
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


def _finished(run: Path, evaluated: bool) -> bool:
    """Whether a seed's run needs nothing more (checked and resumed by its own process
    otherwise)."""
    return (run / "config.toml").exists() and (
        not evaluated or (run / "eval" / "curves.csv").exists())
