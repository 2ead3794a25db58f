"""Where the main command's time goes: each phase of ``metarl train CONFIG`` timed on its own.

Runs the whole job of a config (default the README's main command,
``experiments/navigation2d_quick.toml``) in a temporary run directory, phase by phase, and prints
one table: the seconds of each trained method (with its env steps per second), of the evaluation
(checkpoint selection, every method x seed, the oracle) and of the plots, and each phase's share
of the whole. The machine and thread count head the table; ``--threads`` sets torch's intra-op
threads (default: torch's), ``--set`` changes the config as ``metarl train`` does.

Usage: ``python experiments/bench_main.py [CONFIG] [--threads N] [--set key=value ...]
[--out FILE]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from metarl.config import resolve_device
from metarl.evaluation import evaluate_run
from metarl.machine import describe_machine
from metarl.plotting import plot_run
from metarl.problems import check_config, load_config
from metarl.report.files import read_csv
from metarl.runs.run_dir import prepare_run_dir
from metarl.training import train_method, trained_methods


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default="experiments/navigation2d_quick.toml")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    config = load_config(Path(args.config), args.set)
    check_config(config)
    device = resolve_device(config.run.device)
    rows: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory() as folder:
        run = prepare_run_dir(Path(folder) / "run", config, resume=False, force=False)
        for method in trained_methods(config):
            began = time.perf_counter()
            train_method(run, method, config, device, quiet=True)
            seconds = time.perf_counter() - began
            last = [r for r in read_csv(run.metrics) if r["method"] == method][-1]
            samples = int(last.get("env_steps") or last.get("points") or 0)
            rows.append((f"train {method}", seconds,
                         f"{samples / seconds:,.0f} samples/s, {last['iteration']} iterations"))
        began = time.perf_counter()
        evaluate_run(run, config.eval, device=device, quiet=True, check_size=False)
        settings = config.eval
        rows.append(("evaluate", time.perf_counter() - began,
                     f"{len(settings.methods)} methods x {len(settings.seeds)} seeds x "
                     f"{settings.test_tasks} tasks, K={settings.updates}, oracle "
                     f"{getattr(settings, 'oracle_iterations', 0)} iterations"))
        began = time.perf_counter()
        plot_run(run)
        rows.append(("plots", time.perf_counter() - began, ""))
    total = sum(seconds for _, seconds, _ in rows)
    lines = [f"{args.config}{' ' + ' '.join(args.set) if args.set else ''}",
             describe_machine(device), "",
             "| phase | seconds | share | detail |", "| --- | --- | --- | --- |"]
    lines += [f"| {name} | {seconds:.1f} | {seconds / total:.0%} | {detail} |"
              for name, seconds, detail in rows]
    lines.append(f"| total | {total:.1f} | 100% | |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
