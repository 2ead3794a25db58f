"""``metarl train``: meta-train, train the baselines, evaluate and plot, resumably (any problem).

The trained methods run from the same initial theta and seed: Reptile, then first-order MAML
and multi-task pretraining when ``eval.methods`` lists them, side by side in ``run.jobs``
processes (by default one per core on a CPU) or one after the other. Each writes
checkpoints to ``checkpoints/<method>/`` every ``run.checkpoint_every`` meta-iterations and at its
end; ``--resume`` continues each from its newest checkpoint exactly as if it had not stopped.
Ctrl-C finishes the current meta-iteration, writes a checkpoint and stops; a NaN or Inf in an
adaptation stops the run and keeps the last good checkpoint.

Under ``torchrun`` (a :class:`~metarl.meta.distributed.Distributed` job), Reptile and first-order
MAML split each meta-batch over the ranks; rank 0 alone writes the run directory and trains the
pretraining baseline, evaluates and plots while the other ranks finish.
"""

from __future__ import annotations

import multiprocessing
import signal
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from types import FrameType
from typing import Any

import torch

from metarl.agents.param_tree import Params
from metarl.config import TRAINED, first_difference, resolve_device
from metarl.evaluation import evaluate_run
from metarl.machine import use_threads
from metarl.meta.distributed import Distributed
from metarl.meta.learner import validation_score
from metarl.meta.trainer import MetaTrainer, Trainer
from metarl.plotting import plot_run
from metarl.problem import Config
from metarl.problems import check_config, config_from_dict, problem_of
from metarl.report.files import read_csv
from metarl.runs.checkpoint import (
    check_theta,
    check_training_state,
    checkpoint_path,
    checkpoints_by_iteration,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from metarl.runs.metrics import MetricsLog, check_wandb, prepare_metrics
from metarl.runs.progress import Progress
from metarl.runs.provenance import record_invocation
from metarl.runs.run_dir import RunDir, prepare_run_dir

DISTRIBUTED = ("reptile", "fomaml")  # the methods whose meta-batches are split over ranks


class Interrupted(Exception):
    """Ctrl-C stopped training after a checkpoint was written."""


class TrainingDiverged(Exception):
    """A NaN or Inf stopped training; the message names the last good checkpoint."""


def trained_methods(config: Config) -> list[str]:
    """The methods ``metarl train`` trains for a config (Reptile always)."""
    return [m for m in TRAINED if m == "reptile" or m in config.eval.methods]


def make_trainer(method: str, config: Config, device: torch.device,
                 dist: Distributed | None = None) -> Trainer:
    """A fresh trainer of ``method`` from the run's initial theta (split over the ranks of
    ``dist`` for Reptile and first-order MAML), from the config's problem."""
    if dist is not None and method not in DISTRIBUTED:
        raise ValueError(f"{method} does not run over several processes; "
                         f"expected one of {', '.join(DISTRIBUTED)}")
    return problem_of(config).trainer(method, config, device, dist)


class _SigintFlag:
    """While active, the first Ctrl-C sets :attr:`raised`; a second one aborts at once.

    :param quiet: say nothing (the processes training side by side say it).
    """

    def __init__(self, quiet: bool = False) -> None:
        self.raised = False
        self.quiet = quiet
        self._previous: Any = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.raised = True
        if not self.quiet:
            print("\nCtrl-C: finishing this meta-iteration, then writing a checkpoint "
                  "(press again to abort without one)", file=sys.stderr)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def __enter__(self) -> _SigintFlag:
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGINT, self._previous)


def verified_state(path: Path, method: str, config: Config, theta: Params) -> dict[str, Any]:
    """The checkpoint at ``path``, checked before use: a training checkpoint of ``method`` whose
    stored meta-iteration is its file name's, written with this run's ``config``, whose theta
    has the names and shapes of ``theta``; else a one-line ``ValueError`` naming the file."""
    state = load_checkpoint(path)
    check_training_state(state, path, method)
    try:
        saved = config_from_dict(state["config"])
    except ValueError as err:
        raise ValueError(f"checkpoint {path}: its config is not a metarl config ({err})") from None
    differ = first_difference(saved, config)
    if differ:
        key, there, here, _ = differ
        raise ValueError(f"checkpoint {path} was written with another config: {key} is "
                         f"{there!r} there, {here!r} in this run")
    check_theta(state["theta"], theta, path)
    return state


def newest_state(directory: Path, method: str, config: Config, theta: Params
                 ) -> tuple[dict[str, Any], Path] | None:
    """The newest checkpoint in ``directory`` and its path (``None``: there is none), checked by
    :func:`verified_state`; when it fails, the error says which older checkpoint is intact."""
    found = checkpoints_by_iteration(directory)
    paths = [found[i] for i in sorted(found, reverse=True)]
    if not paths:
        return None
    try:
        return verified_state(paths[0], method, config, theta), paths[0]
    except ValueError as err:
        for older in paths[1:]:
            try:
                verified_state(older, method, config, theta)
            except ValueError:
                continue
            raise ValueError(f"{err}; the newest intact checkpoint is {older.name}: move "
                             f"{paths[0].name} out of {directory} and resume again to continue "
                             "from it") from None
        raise ValueError(f"{err}; no older checkpoint in {directory} passes these checks "
                         "either") from None


def check_checkpoints(run: RunDir, config: Config, methods: list[str]) -> None:
    """Before a resumed run trains anything: every method's newest checkpoint passes
    :func:`verified_state` (so that a bad one of a later method is found before an earlier
    method trains and writes)."""
    for method in methods:
        theta = make_trainer(method, config, torch.device("cpu")).theta  # the network's shapes
        newest_state(run.checkpoints(method), method, config, theta)


def train_method(run: RunDir, method: str, config: Config, device: torch.device,
                 quiet: bool = False, dist: Distributed | None = None) -> Params:
    """Train (or resume, or skip when finished) one method; returns its final theta.

    With ``dist``, every rank calls this; rank 0 reads the newest checkpoint and passes it on,
    and alone writes checkpoints, metrics and the progress bar.
    """
    trainer = make_trainer(method, config, device, dist)
    main = dist is None or dist.is_main
    directory = run.checkpoints(method)

    def newest() -> tuple[dict[str, Any], Path] | None:
        return newest_state(directory, method, config, trainer.theta)

    found = newest() if dist is None else dist.on_main(
        newest, f"{method}: reading the newest checkpoint")
    elapsed = 0.0
    if found is not None:
        state, path = found
        try:
            trainer.load_state_dict(state["trainer"])
            elapsed = float(state["wall_time_s"])
        except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as err:
            raise ValueError(f"checkpoint {path}: its trainer state does not fit this run's "
                             f"{method} trainer ({type(err).__name__}: "
                             f"{str(err).splitlines()[0] if str(err) else 'no detail'}); move it "
                             f"out of {directory} and resume again to continue from an older "
                             "checkpoint") from None
    if trainer.done:
        return trainer.theta

    def save() -> Path:
        state = {"method": method, "iteration": trainer.iteration, "theta": trainer.theta,
                 "trainer": trainer.state_dict(), "config": config.to_dict(),
                 "wall_time_s": elapsed}
        return save_checkpoint(state, checkpoint_path(directory, trainer.iteration))

    record_type = trainer.record_type
    log = (MetricsLog(run, method, record_type._fields, config.meta.val_updates,
                      resume_from=trainer.iteration, wandb_settings=config.run.wandb)
           if main else None)
    if log is not None and trainer.iteration == 0:  # the initialisation's validation curve
        began = time.perf_counter()
        curve = trainer.validate()
        elapsed += time.perf_counter() - began
        log.append(record_type.start(validation_score(curve)), elapsed, curve)
    progress = None if quiet or not main else Progress(
        method, trainer.iterations, trainer.iteration, unit=record_type.unit)
    try:
        with _SigintFlag() as sigint:
            if isinstance(trainer, MetaTrainer):  # ranks agree on when to stop
                trainer.interrupt = lambda: sigint.raised
            while not trainer.done:
                began = time.perf_counter()
                try:
                    record = trainer.step()
                except FloatingPointError as err:
                    last = latest_checkpoint(directory) if main else None
                    kept = (f"the last good checkpoint is {last}" if last else
                            "no checkpoint yet" if main else "rank 0 keeps the last good one")
                    raise TrainingDiverged(f"{method}: {err}; training stopped, {kept}") from None
                elapsed += time.perf_counter() - began
                stop = sigint.raised
                if dist is not None and isinstance(trainer, MetaTrainer):
                    stop = trainer.interrupted  # any rank's Ctrl-C, the same on every rank
                path: Path | str = "written by rank 0"
                if log is not None:
                    log.append(record, elapsed, trainer.validation)
                    every = config.run.checkpoint_every
                    if trainer.done or record.iteration % every == 0 or stop:
                        path = save()
                if progress is not None:
                    progress.update(record.iteration, *record.progress())
                if stop and not trainer.done:
                    raise Interrupted(f"interrupted after {method} meta-iteration "
                                      f"{trainer.iteration}; checkpoint {path}")
    finally:
        if log is not None:
            log.close()
        if progress is not None and not trainer.done:
            progress.close()
    return trainer.theta


def _train_in_child(run: Path, method: str, config: Config, device: str) -> float:
    """:func:`train_method` in a process of its own, quietly; returns its wall time."""
    use_threads(config.run.threads)
    began = time.perf_counter()
    train_method(RunDir(run), method, config, torch.device(device), quiet=True)
    return time.perf_counter() - began


def progress_line(run: RunDir, totals: dict[str, int], elapsed: float) -> str:
    """One line of the methods training side by side: each one's iterations so far (read from
    ``metrics.csv``, where they append) out of its own budget (``totals``: second-order MAML
    may train more meta-iterations than the others), and the time since they started."""
    methods = list(totals)
    done = dict.fromkeys(methods, 0)
    try:
        for row in read_csv(run.metrics):
            if row.get("method") in done and (row.get("iteration") or "").isdigit():
                done[row["method"]] = max(done[row["method"]], int(row["iteration"]))
    except (OSError, ValueError):  # a row half written: the next look reads it whole
        pass
    minutes, seconds = divmod(int(elapsed), 60)
    return (", ".join(f"{m} {done[m]}/{totals[m]}" for m in methods)
            + f"  ({minutes:02d}:{seconds:02d})")


def train_side_by_side(run: RunDir, methods: list[str], config: Config, device: torch.device,
                       jobs: int, quiet: bool = False) -> None:
    """Train (or resume) ``methods`` in ``jobs`` processes side by side, each as
    :func:`train_method` would in this one (the same numbers, the same files).

    Every method's rows of ``metrics.csv`` are prepared here first, so that the processes only
    append to it. Ctrl-C reaches every process: each running method finishes its meta-iteration
    and writes a checkpoint, and the methods not yet started are left for ``--resume``.
    """
    totals: dict[str, int] = {}
    for method in methods:
        found = checkpoints_by_iteration(run.checkpoints(method))
        trainer = make_trainer(method, config, torch.device("cpu"))
        totals[method] = trainer.iterations
        fields = trainer.record_type._fields
        prepare_metrics(run, method, fields, config.meta.val_updates, max(found) if found else 0)
    if not quiet:
        print(f"training {', '.join(methods)} side by side: {jobs} processes of "
              f"{config.run.threads or 'all'} torch thread(s) (run.jobs); progress in "
              f"{run.metrics}", flush=True)
    errors: list[BaseException] = []
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool, \
            _SigintFlag(quiet=True) as sigint:
        # the longest first: pretraining's updates take one minibatch of one network at a time
        # (in the main command 2.5x Reptile's time), the others batch their tasks
        order = sorted(methods, key=lambda method: method != "pretrain")
        futures = {pool.submit(_train_in_child, run.path, method, config, str(device)): method
                   for method in order}
        pending, began, shown, tty = set(futures), time.perf_counter(), 0.0, sys.stderr.isatty()
        while pending:
            done, pending = wait(pending, timeout=2.0, return_when=FIRST_COMPLETED)
            if not quiet and (tty or time.perf_counter() - shown > 30.0):
                shown = time.perf_counter()
                line = progress_line(run, totals, shown - began)
                sys.stderr.write(f"\r{line}\033[K" if tty else f"{line}\n")  # K: clear the rest
                sys.stderr.flush()
            for future in done:
                try:
                    seconds = future.result()
                except Exception as err:  # each method's error is reported below
                    errors.append(err)
                    for waiting in futures:
                        waiting.cancel()  # a method not yet started waits for --resume
                    continue
                if not quiet:
                    if tty:
                        sys.stderr.write("\r\033[K")  # the progress line gives way
                    print(f"{futures[future]}: trained in {seconds:.0f} s", flush=True)
                if sigint.raised:
                    for waiting in futures:
                        waiting.cancel()
            pending = {f for f in pending if not f.cancelled()}
    for kind in (TrainingDiverged, ValueError, Interrupted, Exception):
        found_errors = [e for e in errors if isinstance(e, kind)]
        if found_errors:
            if kind is Interrupted:
                raise Interrupted("; ".join(str(e) for e in found_errors))
            raise found_errors[0]
    if sigint.raised:
        raise Interrupted("interrupted before every method was trained")


def train_methods(run: RunDir, config: Config, device: torch.device, quiet: bool = False
                  ) -> int:
    """Train (or resume) every method of the run in this process's machine: side by side in
    ``run.jobs`` processes (:func:`train_side_by_side`) or one after the other; returns the
    processes used."""
    methods = trained_methods(config)
    jobs = config.run.processes(len(methods))
    if jobs > 1:
        train_side_by_side(run, methods, config, device, jobs, quiet)
    else:
        for method in methods:
            train_method(run, method, config, device, quiet)
    return jobs


def train_run(config: Config, out: Path, resume: bool = False, force: bool = False,
              evaluate: bool = True, quiet: bool = False,
              dist: Distributed | None = None, command: list[str] | None = None) -> RunDir:
    """The whole job: train every method, then evaluate on the test tasks and plot.

    With ``dist`` (every rank of a ``torchrun`` job calls this), Reptile and first-order MAML
    run over all ranks; rank 0 alone prepares the run directory, trains the pretraining
    baseline, evaluates and plots. ``command`` (default ``sys.argv``) goes to ``run.toml``.
    """
    device = resolve_device(config.run.device)
    use_threads(config.run.threads)
    torch.manual_seed(config.run.seed)  # nothing should draw from it; pinned all the same
    # before the run directory is written: a bad setting stops the command with its one-line
    # error and leaves nothing behind (under torchrun, on every rank if one rank refuses)
    def prepare() -> Path:
        run = prepare_run_dir(out, config, resume, force)
        if resume:  # every method's newest checkpoint, before anything is written
            check_checkpoints(run, config, trained_methods(config))
        record_invocation(run, command, resumed=resume)
        return run.path

    check_wandb(config.run.wandb)
    if dist is None:
        check_config(config, evaluate)
        run = RunDir(prepare())
    else:
        device = dist.device(device)
        dist.check_all(lambda: check_config(config, evaluate, dist.world_size, device),
                       "checking the config", device)
        run = RunDir(dist.on_main(prepare, "preparing the run directory and checkpoints"))
    if dist is None:
        train_methods(run, config, device, quiet)
    else:
        for method in trained_methods(config):
            if method in DISTRIBUTED:
                train_method(run, method, config, device, quiet, dist)
            elif dist.is_main:
                train_method(run, method, config, device, quiet)
    if dist is not None and not dist.is_main:
        return run
    if evaluate:
        if resume and (run.eval / "curves.csv").exists():
            print(f"{run.eval / 'curves.csv'} exists: kept (metarl evaluate {run.path} --force "
                  "redoes it)")
        else:
            evaluate_run(run, config.eval, device=device, quiet=quiet, check_size=False,
                         jobs=config.run.processes(2))
        plot_run(run)
    return run
