"""``metarl train``: meta-train, train the baselines, evaluate and plot, resumably (RL or sine).

The trained methods run one after the other from the same initial theta and seed: Reptile, then
first-order MAML and multi-task pretraining when ``eval.methods`` lists them. Each writes
checkpoints to ``checkpoints/<method>/`` every ``run.checkpoint_every`` meta-iterations and at its
end; ``--resume`` continues each from its newest checkpoint exactly as if it had not stopped.
Ctrl-C finishes the current meta-iteration, writes a checkpoint and stops; a NaN or Inf in an
adaptation stops the run and keeps the last good checkpoint.

Under ``torchrun`` (a :class:`~metarl.distributed.Distributed` job), Reptile and first-order MAML
split each meta-batch over the ranks; rank 0 alone writes the run directory and trains the
pretraining baseline, evaluates and plots while the other ranks finish.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol

import torch

from metarl.agents.param_tree import Params
from metarl.agents.ppo import PPO
from metarl.checkpoint import checkpoint_path, latest_checkpoint, load_checkpoint, save_checkpoint
from metarl.checkpoint_selection import select_checkpoint
from metarl.components import (
    build_components,
    build_sine_components,
    check_evaluation,
    check_pretraining,
    initial_theta,
    resolve_device,
)
from metarl.config import AnyConfig
from metarl.distributed import Distributed
from metarl.inner_learner import Record
from metarl.meta_train import MetaTrainer
from metarl.pretrain import Pretrainer
from metarl.progress import Progress
from metarl.regression_pretrain import RegressionPretrainer
from metarl.run_dir import MetricsLog, RunDir, prepare_run_dir
from metarl.sine_config import SineExperimentConfig

if TYPE_CHECKING:
    from metarl.sb3_learner import SB3Learner

TRAINED = ("reptile", "fomaml", "pretrain")
DISTRIBUTED = ("reptile", "fomaml")  # the methods whose meta-batches are split over ranks


class Trainer(Protocol):
    """What :func:`train_method` drives: :class:`MetaTrainer` and :class:`Pretrainer`."""

    @property
    def iteration(self) -> int:
        """Meta-iterations done."""

    @property
    def theta(self) -> Params:
        """The current initialisation."""

    @property
    def done(self) -> bool:
        """Whether the budget is spent."""

    @property
    def record_fields(self) -> tuple[str, ...]:
        """The fields of :meth:`step`'s records."""

    @property
    def record_unit(self) -> str:
        """What the records' sample count counts (``steps``, ``points``)."""

    def step(self) -> Record:
        """One meta-iteration."""

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly."""

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output."""


class Interrupted(Exception):
    """Ctrl-C stopped training after a checkpoint was written."""


class TrainingDiverged(Exception):
    """A NaN or Inf stopped training; the message names the last good checkpoint."""


def trained_methods(config: AnyConfig) -> list[str]:
    """The methods ``metarl train`` trains for a config (Reptile always)."""
    return [m for m in TRAINED if m == "reptile" or m in config.eval.methods]


def make_trainer(method: str, config: AnyConfig, device: torch.device,
                 dist: Distributed | None = None) -> Trainer:
    """A fresh trainer of ``method`` from the run's initial theta (split over the ranks of
    ``dist`` for Reptile and first-order MAML)."""
    if dist is not None and method not in DISTRIBUTED:
        raise ValueError(f"{method} does not run over several processes; "
                         f"expected one of {', '.join(DISTRIBUTED)}")
    if isinstance(config, SineExperimentConfig):
        _, model, learner = build_sine_components(config)
        start = initial_theta(model, config.run.seed, device)
        if method == "pretrain":
            return RegressionPretrainer(learner, start, config.meta, config.run.seed,
                                        config.pretrain.learning_rate)
        return MetaTrainer(learner, start, config.meta, config.run.seed, algorithm=method,
                           fomaml=config.fomaml, dist=dist)
    _, policy, ppo = build_components(config)
    theta = initial_theta(policy, config.run.seed, device)
    if method == "pretrain":
        return Pretrainer(ppo, theta, config.meta, config.run.seed, config.pretrain)
    learner: PPO | SB3Learner = ppo
    if config.ppo.inner == "sb3":
        from metarl.sb3_learner import SB3Learner

        learner = SB3Learner(ppo)
    trainer: Trainer = MetaTrainer(learner, theta, config.meta, config.run.seed,
                                   algorithm=method, fomaml=config.fomaml, dist=dist)
    return trainer


def final_theta(run: RunDir, method: str) -> Params:
    """The theta of a trained method's newest checkpoint (on the CPU)."""
    return select_checkpoint(run, method, "last").theta


class _SigintFlag:
    """While active, the first Ctrl-C sets :attr:`raised`; a second one aborts at once."""

    def __init__(self) -> None:
        self.raised = False
        self._previous: Any = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.raised = True
        print("\nCtrl-C: finishing this meta-iteration, then writing a checkpoint "
              "(press again to abort without one)", file=sys.stderr)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def __enter__(self) -> _SigintFlag:
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGINT, self._previous)


def _newest_state(directory: Path) -> dict[str, Any] | None:
    latest = latest_checkpoint(directory)
    return None if latest is None else load_checkpoint(latest)


def train_method(run: RunDir, method: str, config: AnyConfig, device: torch.device,
                 quiet: bool = False, dist: Distributed | None = None) -> Params:
    """Train (or resume, or skip when finished) one method; returns its final theta.

    With ``dist``, every rank calls this; rank 0 reads the newest checkpoint and passes it on,
    and alone writes checkpoints, metrics and the progress bar.
    """
    trainer = make_trainer(method, config, device, dist)
    main = dist is None or dist.is_main
    directory = run.checkpoints(method)
    if dist is None:
        state = _newest_state(directory)
    else:
        state = dist.on_main(lambda: _newest_state(directory),
                             f"{method}: reading the newest checkpoint")
    elapsed = 0.0
    if state is not None:
        trainer.load_state_dict(state["trainer"])
        elapsed = float(state["wall_time_s"])
    if trainer.done:
        return trainer.theta

    def save() -> Path:
        state = {"method": method, "iteration": trainer.iteration, "theta": trainer.theta,
                 "trainer": trainer.state_dict(), "config": config.to_dict(),
                 "wall_time_s": elapsed}
        return save_checkpoint(state, checkpoint_path(directory, trainer.iteration))

    log = (MetricsLog(run, method, resume_from=trainer.iteration, fields=trainer.record_fields)
           if main else None)
    progress = None if quiet or not main else Progress(
        method, config.meta.meta_iterations, trainer.iteration, unit=trainer.record_unit)
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
                    log.append(record, elapsed)
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


def train_run(config: AnyConfig, out: Path, resume: bool = False, force: bool = False,
              evaluate: bool = True, quiet: bool = False,
              dist: Distributed | None = None) -> RunDir:
    """The whole job: train every method, then evaluate on the test tasks and plot.

    With ``dist`` (every rank of a ``torchrun`` job calls this), Reptile and first-order MAML
    run over all ranks; rank 0 alone prepares the run directory, trains the pretraining
    baseline, evaluates and plots.
    """
    device = resolve_device(config.run.device)
    torch.manual_seed(config.run.seed)  # nothing should draw from it; pinned all the same
    # built once before the run directory is written, so that a bad task range or Gymnasium id,
    # or settings the evaluation or pretraining cannot use, stop the command with their
    # one-line error and leave nothing behind
    if isinstance(config, SineExperimentConfig):
        build_sine_components(config)
    else:
        family = build_components(config).family
        check_pretraining(config, family)
        if evaluate:
            check_evaluation(config, family)
    if dist is None:
        run = prepare_run_dir(out, config, resume, force)
    else:
        device = dist.device(device)
        run = RunDir(dist.on_main(lambda: prepare_run_dir(out, config, resume, force).path,
                                  "preparing the run directory"))
    for method in trained_methods(config):
        if dist is None:
            train_method(run, method, config, device, quiet)
        elif method in DISTRIBUTED:
            train_method(run, method, config, device, quiet, dist)
        elif dist.is_main:
            train_method(run, method, config, device, quiet)
    if dist is not None and not dist.is_main:
        return run
    if evaluate:
        from metarl.plots import plot_run

        if resume and (run.eval / "curves.csv").exists():
            print(f"{run.eval / 'curves.csv'} exists: kept (metarl evaluate {run.path} --force "
                  "redoes it)")
        else:
            evaluate_any(run, config.eval, device=device, quiet=quiet)
        plot_run(run)
    return run


def evaluate_any(run: RunDir, settings: Any, device: torch.device | None = None,
                 force: bool = True, quiet: bool = False) -> list[dict[str, float | str | int]]:
    """Evaluate a run of either kind: returns after PPO updates, or errors after SGD steps."""
    if isinstance(run.load_config(), SineExperimentConfig):
        from metarl.regression_evaluate import evaluate_regression

        return evaluate_regression(run, settings, device=device, force=force, quiet=quiet)
    from metarl.evaluate import evaluate_run

    return evaluate_run(run, settings, device=device, force=force, quiet=quiet)
