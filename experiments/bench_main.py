"""Where the main command's time goes: each phase of ``metarl train CONFIG`` timed on its own.

Runs the whole job of a config (default the README's main command,
``experiments/navigation2d_quick.toml``) in a temporary run directory, phase by phase as
``metarl train`` does (the methods side by side in ``run.jobs`` processes), and prints one table:
the seconds of each trained method (with its env steps per second) and of the training phase,
of the evaluation (checkpoint selection, every method x seed, the wait for the oracle) and of
the plots, and each phase's share of the whole. The machine and thread count head the table;
``--threads`` sets torch's intra-op threads (default: the config's ``run.threads``), ``--set``
changes the config as ``metarl train`` does, and ``--busy N`` runs N CPU-bound processes
beside it (a machine where something else runs).

Usage: ``python experiments/bench_main.py [CONFIG] [--threads N] [--busy N]
[--set key=value ...] [--out FILE]``
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from metarl.config import resolve_device
from metarl.evaluation import evaluate_run
from metarl.machine import describe_machine, use_threads
from metarl.plotting import plot_run
from metarl.problems import check_config, load_config
from metarl.report.files import read_csv
from metarl.runs.run_dir import prepare_run_dir
from metarl.training import train_methods, trained_methods


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default="experiments/navigation2d_quick.toml")
    parser.add_argument("--threads", type=int,
                        help="torch intra-op threads (default: the config's run.threads)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--busy", type=int, default=0, metavar="N",
                        help="run N CPU-bound processes beside the benchmark (a busy machine)")
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(args.busy)]
    try:
        rows, machine = run_phases(args)
    finally:
        for spinner in spinners:
            spinner.kill()
    total = sum(seconds for name, seconds, _ in rows if not name.startswith("  "))
    busy = f", {args.busy} CPU-bound process(es) beside it" if args.busy else ""
    lines = [f"{args.config}{' ' + ' '.join(args.set) if args.set else ''}",
             machine + busy, "",
             "| phase | seconds | share | detail |", "| --- | --- | --- | --- |"]
    for name, seconds, detail in rows:
        share = "" if name.startswith("  ") else f"{seconds / total:.0%}"
        lines.append(f"| {name} | {seconds:.1f} | {share} | {detail} |")
    lines.append(f"| total | {total:.1f} | 100% | |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


def run_phases(args: argparse.Namespace) -> tuple[list[tuple[str, float, str]], str]:
    """``(phase, seconds, detail)`` of every phase of the config's whole job, and the machine
    it ran on."""
    config = load_config(Path(args.config), args.set)
    check_config(config)
    use_threads(args.threads if args.threads is not None else config.run.threads)
    device = resolve_device(config.run.device)
    rows: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory() as folder:
        run = prepare_run_dir(Path(folder) / "run", config, resume=False, force=False)
        methods = trained_methods(config)
        began = time.perf_counter()
        jobs = train_methods(run, config, device, quiet=True)
        seconds = time.perf_counter() - began
        last = {r["method"]: r for r in read_csv(run.metrics)}
        for method in methods:
            samples = int(last[method].get("env_steps") or last[method].get("points") or 0)
            alone = float(last[method]["wall_time_s"])
            rows.append((f"  {method}", alone, f"{samples / alone:,.0f} samples/s, "
                         f"{last[method]['iteration']} iterations"))
        rows.append((f"train ({jobs} process{'es' if jobs > 1 else ''})", seconds,
                     "wall time of the methods above" + (" side by side" if jobs > 1 else "")))
        timings: dict[str, float] = {}
        evaluate_run(run, config.eval, device=device, quiet=True, check_size=False,
                     timings=timings, jobs=config.run.processes(2))
        settings = config.eval
        rows += [
            ("evaluate: select", timings["select"], f"checkpoint rule {settings.checkpoint}"),
            ("evaluate: adapt", timings["adapt"],
             f"{len(settings.methods)} methods x {len(settings.seeds)} seeds x "
             f"{settings.test_tasks} tasks, K={settings.updates}"),
            ("evaluate: oracle", timings["oracle"],
             f"{getattr(settings, 'oracle_iterations', 0)} iterations per task")]
        began = time.perf_counter()
        plot_run(run)
        rows.append(("plots", time.perf_counter() - began, ""))
    return rows, describe_machine(device)


if __name__ == "__main__":
    main()
