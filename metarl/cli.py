"""The ``metarl`` command line.

``metarl envs`` lists the task families (RL environments, sine regression), their parameters and
splits.
``metarl train CONFIG`` meta-trains, trains the baselines, evaluates them on held-out tasks and
plots the adaptation curves; ``metarl evaluate RUN_DIR`` and ``metarl plot RUN_DIR`` redo the last
two steps. ``metarl demo`` runs a random policy on every family's held-out tasks (the floor).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import gymnasium as gym

from metarl.compare import compare
from metarl.config import resolve_device
from metarl.demo import run_demo
from metarl.envs import FAMILIES, LocomotionFamily, TaskSampler, engine_available
from metarl.envs.sine import SineRegression
from metarl.evaluation import evaluate_run
from metarl.machine import use_threads
from metarl.meta.distributed import (
    DEFAULT_TIMEOUT_S,
    Distributed,
    DistributedError,
    exit_helper_rank,
)
from metarl.plotting import plot_run
from metarl.problems import eval_options, eval_settings, load_config
from metarl.runs.run_dir import RunDir
from metarl.seeds import seed_dir, train_seeds
from metarl.training import Interrupted, TrainingDiverged, train_run


def cmd_envs(args: argparse.Namespace) -> int:
    """Print every registered family with its task parameters, ranges, defaults and splits."""
    for name, family in FAMILIES.items():
        print(f"{name}  ({family.gym_id})")
        print(f"  {family.description}")
        obs, act = family.observation_space, family.action_space
        act_text = (f"Discrete({act.n})" if isinstance(act, gym.spaces.Discrete)
                    else f"Box({act.low.min():g}, {act.high.max():g}, {act.shape})")
        print(f"  observation Box{obs.shape} {obs.dtype}, action {act_text}, "
              f"episode limit {family.default_max_episode_steps} steps")
        if issubclass(family, LocomotionFamily):
            state = "installed" if engine_available() else "NOT installed"
            print(f"  engine: envpool's {family.engine_id} (the [mujoco] extra: {state})")
        _print_tasks(TaskSampler(family.params_type), family.default_split_sizes)
    sine = SineRegression()
    print(f"{sine.name}  (supervised regression, e.g. experiments/sine.toml)")
    print(f"  {sine.description}")
    print(f"  inputs x uniform in [{sine.x_range[0]:g}, {sine.x_range[1]:g}]")
    _print_tasks(sine.tasks, {})
    return 0


def _print_tasks(sampler: TaskSampler, sizes: dict[str, int]) -> None:
    print("  task parameters:")
    for spec in sampler.specs:
        if spec.low == spec.high:
            sampling = f"fixed at {spec.low:g}"
        elif spec.choices:
            sampling = f"one of {spec.choices_text}, equally likely"
        else:
            law = "log-uniform" if spec.log_uniform else "uniform"
            dims = f"^{spec.shape[0]}" if spec.shape else ""
            sampling = f"{law} in [{spec.low:g}, {spec.high:g}]{dims}"
        print(f"    {spec.name:<10} default {spec.default!s:<12} {sampling:<32} {spec.doc}")
    print("  splits:")
    for split, text in sampler.describe().items():
        size = f" ({sizes[split]} tasks by default)" if split in sizes else ""
        print(f"    {split:<5} {text}{size}")
    print()


def cmd_demo(args: argparse.Namespace) -> int:
    """Random policy on each family's test tasks; prints returns and writes a trajectory plot."""
    if args.envs <= 0:
        raise ValueError(f"--envs={args.envs} must be a positive integer")
    run_demo(Path(args.out), seed=args.seed, num_envs=args.envs,
             device=resolve_device(args.device, "--device"), force=args.force)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Meta-train from a TOML config, then evaluate and plot (over every rank under torchrun)."""
    overrides = list(args.set or [])
    if args.device is not None:
        overrides.append(f"run.device={args.device}")
    stem = Path("runs") / Path(args.config).stem
    if args.seeds is not None:
        return train_sweep(args, overrides, Path(args.out) if args.out else stem)
    if args.jobs != 1:
        raise ValueError(f"--jobs={args.jobs} runs seeds side by side: it needs --seeds")
    if args.seed is not None:
        overrides.append(f"run.seed={args.seed}")
    config = load_config(Path(args.config), overrides)
    out = Path(args.out) if args.out else seed_dir(stem, config.run.seed)
    dist = Distributed.from_env(resolve_device(config.run.device).type, args.dist_timeout)
    args.helper_rank = dist is not None and not dist.is_main  # main() ends it: exit_helper_rank
    try:
        run = train_run(config, out, resume=args.resume, force=args.force,
                        evaluate=not args.no_eval, quiet=args.quiet, dist=dist,
                        command=args.command_line)
    finally:
        if dist is not None:
            dist.close()
    if dist is None or dist.is_main:
        print(f"run directory: {run.path}")
    return 0


def train_sweep(args: argparse.Namespace, overrides: list[str], out: Path) -> int:
    """``metarl train CONFIG --seeds ...``: one run per seed in ``OUT/seed_<s>``, pooled in
    ``OUT`` (:mod:`metarl.seeds`)."""
    if args.seed is not None:
        raise ValueError(f"--seed {args.seed} and --seeds exclude each other")
    if "RANK" in os.environ:
        raise ValueError("--seeds runs one process per seed; under torchrun, train one seed "
                         "per job (--seed)")
    text = train_seeds(Path(args.config), args.seeds, out, overrides, quiet=args.quiet,
                       jobs=args.jobs, resume=args.resume, force=args.force,
                       evaluate=not args.no_eval)
    if text and not args.quiet:
        print(text)
    print(f"sweep directory: {out} (one run directory per seed, seed_<s>)")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Evaluate a run's methods on its held-out tasks, with optional changed settings."""
    run = RunDir(Path(args.run_dir))
    config = run.load_config()
    changes = {"methods": tuple(args.methods) if args.methods else None, "updates": args.k,
               "seeds": tuple(args.seeds) if args.seeds else None,
               "test_tasks": args.tasks, "split": args.split}
    options = {o.name: o.parse(value) if o.parse and value is not None else value
               for o in eval_options() for value in [getattr(args, o.name)]}
    settings = eval_settings(config, changes, options, run.path)
    device = resolve_device(args.device, "--device") if args.device else None
    use_threads(config.run.threads)
    evaluate_run(run, settings, device=device, force=args.force, quiet=args.quiet,
                 memory_limit=args.memory_limit, jobs=config.run.processes(2))
    plot_run(run)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Compare runs and sweeps over training seeds x tasks (metarl.compare)."""
    text = compare([Path(p) for p in args.sources], args.methods or (), args.k or (),
                   Path(args.out))
    print(text)
    print(f"wrote {args.out}/compare.md, compare.csv, compare.png")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    """Redraw a run's plots from its CSV files."""
    if not plot_run(RunDir(Path(args.run_dir))):
        raise ValueError(f"{args.run_dir} has neither metrics.csv nor eval/summary.csv to plot")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``metarl`` command."""
    parser = argparse.ArgumentParser(
        prog="metarl",
        description="Meta-learning: Reptile over batched PPO (RL) or batched SGD (regression).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("envs", help="list environment families, task parameters and splits")
    p.set_defaults(func=cmd_envs)
    p = sub.add_parser("train", help="meta-train from a TOML config, evaluate and plot")
    p.add_argument("config", help="TOML file, e.g. experiments/navigation2d.toml")
    p.add_argument("--out", help="run directory (default runs/<config name>/seed_<seed>; with "
                                 "--seeds, the sweep's directory, default runs/<config name>)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a config key, e.g. --set meta.meta_iterations=50 (repeatable)")
    p.add_argument("--device", help="torch device, overrides run.device (cpu, cuda)")
    p.add_argument("--seed", type=int, help="overrides run.seed")
    p.add_argument("--seeds", type=int, nargs="+", metavar="SEED",
                   help="train one run per seed (OUT/seed_<s>) and pool their evaluations")
    p.add_argument("--jobs", type=int, default=1,
                   help="with --seeds: seeds trained side by side, one thread each (default 1)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its newest checkpoints")
    p.add_argument("--force", action="store_true", help="replace an existing run directory")
    p.add_argument("--no-eval", action="store_true", help="train only; evaluate later")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--dist-timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                   help="under torchrun: how long a rank waits for a silent one before failing "
                        f"(default {DEFAULT_TIMEOUT_S:g})")
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("evaluate", help="evaluate a run's methods on held-out tasks")
    p.add_argument("run_dir")
    p.add_argument("--methods", nargs="+", help="methods to evaluate (default: the config's)")
    p.add_argument("--k", type=int, help="inner updates K (returns after k = 0..K)")
    p.add_argument("--seeds", type=int, nargs="+", help="evaluation seeds")
    p.add_argument("--tasks", type=int, help="number of held-out tasks")
    p.add_argument("--split", choices=("test", "val"),
                   help="evaluate on the test tasks (results) or the validation tasks (tuning)")
    for option in eval_options():  # the options of one kind of run (RL, Sine)
        p.add_argument(option.flag, **option.kwargs)
    p.add_argument("--device", help="torch device (default: the run's)")
    p.add_argument("--memory-limit", type=float, metavar="GB",
                   help="memory the evaluation may use (default: the run's run.memory_limit; "
                        "0: what the device has free)")
    p.add_argument("--force", action="store_true", help="replace existing results in eval/")
    p.add_argument("--quiet", action="store_true",
                   help="print no results table (eval/ is written as usual)")
    p.set_defaults(func=cmd_evaluate)
    p = sub.add_parser("compare", help="compare runs and sweeps over seeds x tasks: mean, IQM, "
                                       "P(improvement), with bootstrap CIs")
    p.add_argument("sources", nargs="+", metavar="RUN_OR_SWEEP",
                   help="evaluated run directories, or sweeps (their seed_<s> runs)")
    p.add_argument("--methods", nargs="+", help="methods to compare (default: all evaluated)")
    p.add_argument("--k", type=int, nargs="+", help="updates k to report (default: all)")
    p.add_argument("--out", default="runs/compare",
                   help="directory of compare.md, .csv and .png (default runs/compare)")
    p.set_defaults(func=cmd_compare)
    p = sub.add_parser("plot", help="redraw a run's plots from its CSV files")
    p.add_argument("run_dir")
    p.set_defaults(func=cmd_plot)
    p = sub.add_parser("demo", help="random policy on every family's held-out tasks, with a plot")
    p.add_argument("--out", default="runs/demo", help="directory for the plot (default runs/demo)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--envs", type=int, default=20, help="environments per task (default 20)")
    p.add_argument("--device", default="cpu", help="torch device (cpu, cuda, ...)")
    p.add_argument("--force", action="store_true", help="overwrite an existing demo plot")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``metarl`` console script (a ``torchrun`` rank other than 0 does not
    return: it ends through :func:`~metarl.meta.distributed.exit_helper_rank`)."""
    args = build_parser().parse_args(argv)
    args.command_line = ["metarl", *(sys.argv[1:] if argv is None else argv)]  # for run.toml
    code = _dispatch(args)
    if getattr(args, "helper_rank", False):
        exit_helper_rank(code)
    return code


def _dispatch(args: argparse.Namespace) -> int:
    """Run the chosen command; a user's error becomes a one-line message and an exit status."""
    try:
        return int(args.func(args))
    except (ValueError, OSError) as err:  # OSError: a path that is not what it should be
        print(f"metarl: error: {err}", file=sys.stderr)
        return 2
    except (TrainingDiverged, DistributedError) as err:
        print(f"metarl: error: {err}", file=sys.stderr)
        return 1
    except Interrupted as err:
        print(f"metarl: {err}; continue with --resume", file=sys.stderr)
        return 130
    except KeyboardInterrupt:  # outside training (evaluation, plots): nothing to checkpoint
        print("metarl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["build_parser", "main"]
