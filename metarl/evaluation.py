"""``metarl evaluate``: fast adaptation on held-out tasks, every method the same way, any problem.

Each method's initialisation is adapted to every test task for k = 0..K inner updates, for each
evaluation seed, by the problem's evaluation learner (:class:`~metarl.problem.Evaluator`): a
batched learner adapts every method x seed x task at once (in chunks of at most the evaluator's
``max_tasks``), each adaptation drawing the random numbers it would draw alone
(:class:`~metarl.envs.task_streams.TaskBlocks`). Its score after each k is recorded: the mean
return of the episodes collected after k PPO updates, or the mean squared error after k SGD
steps. Trained methods start from their evaluated checkpoint (the last, or the best on the
validation tasks: :mod:`metarl.runs.selection`), ``scratch`` from a random initialisation per
seed, and other baselines (``sb3``) as the problem runs them. Methods are evaluated with the same
generator seed (common random numbers), so their differences are not sampling noise of the
evaluation. A method trained for another adaptation rule is also scored by its own (second-order
MAML by its VPG steps: ``maml-vpg``), each labelled. With ``run.jobs`` above 1, the oracle trains
in a process of its own beside the adaptations.

Outputs in ``RUN/eval/``: ``curves.csv`` (``method,seed,task,k,<score>[,env_steps]``),
``oracle.csv`` (``seed,task,iterations,return,env_steps``, when the problem has an oracle),
``summary.csv`` and ``summary.md`` (mean and 95% confidence interval over tasks of the per-task
mean over seeds), ``eval.toml`` (the evaluation settings used) and, when each trained method's
checkpoint is chosen on the validation tasks, ``selection.csv`` (``method,iteration,k,return``).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch

from metarl.agents.param_tree import Params
from metarl.config import TRAINED, resolve_device
from metarl.machine import use_threads
from metarl.memory import check_memory
from metarl.problem import Evaluator
from metarl.problems import problem_of
from metarl.report.files import write_csv, write_settings
from metarl.report.summary import SUMMARY_COLUMNS, curve_columns, curve_rows, summarize
from metarl.report.summary import summary_markdown as markdown
from metarl.runs.run_dir import RunDir
from metarl.runs.selection import SELECTION_COLUMNS, Selection, select_checkpoint

Row = dict[str, float | str | int]


def evaluate_run(run: RunDir, settings: Any, device: torch.device | None = None,
                 force: bool = True, quiet: bool = False, memory_limit: float | None = None,
                 check_size: bool = True, timings: dict[str, float] | None = None,
                 jobs: int = 1) -> list[Row]:
    """Evaluate a run's methods on its test tasks; writes ``eval/`` and returns the summary rows.

    :param run: the run directory (its config gives the problem, network and inner settings).
    :param settings: the evaluation settings (the config's ``eval`` section, or changed ones).
    :param device: where to adapt (default: the run's device).
    :param force: replace existing results in ``eval/``.
    :param quiet: print nothing.
    :param memory_limit: GB the evaluation may use (default: the run's ``run.memory_limit``).
    :param check_size: refuse, before any work, an evaluation whose estimated memory does not
        fit (``metarl train`` checked it before training).
    :param timings: filled with the seconds of each part: ``select`` (the checkpoints),
        ``adapt`` (every method x seed), ``oracle`` (the wait for it, with ``jobs`` > 1).
    :param jobs: with 2 or more, the oracle trains in a process of its own (``run.threads``
        threads) while this one adapts every method (the same numbers).
    """
    config = run.load_config()
    device = device or resolve_device(config.run.device)
    if (run.eval / "curves.csv").exists() and not force:
        raise FileExistsError(f"{run.eval / 'curves.csv'} exists; pass --force to replace it")
    problem = problem_of(config)
    limit = config.run.memory_limit if memory_limit is None else memory_limit
    if check_size:
        check_memory(problem.memory_needs(config, False, settings), limit, device)
    evaluator = problem.evaluator(config, settings)
    learner = evaluator.learner
    tasks = learner.sample_tasks(settings.test_tasks, split=settings.split, device=device)
    began = time.perf_counter()
    clock = {"select": began}
    selections = select_checkpoints(run, settings, evaluator, device, limit)
    clock["adapt"] = time.perf_counter()
    oracle_pool = (ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
                   if jobs > 1 and evaluator.has_oracle else None)
    with oracle_pool or contextlib.nullcontext():
        oracle_rows = (oracle_pool.submit(_oracle_in_child, config, settings, str(device), tasks)
                       if oracle_pool is not None else None)
        rows = adapt_all(evaluator, settings, selections, tasks, device, limit)
        clock["oracle"] = time.perf_counter()
        oracle = (oracle_rows.result() if oracle_rows is not None
                  else evaluator.oracle(tasks, device))
    clock["end"] = time.perf_counter()
    if timings is not None:
        times = list(clock.values())
        timings.update({part: end - start for part, start, end
                        in zip(clock, times, times[1:], strict=False)})
    summary, text = write_results(run.eval, rows, oracle, evaluator,
                                  [s.describe() for s in selections.values()])
    if not quiet:
        print(text)
        print(f"evaluated in {time.perf_counter() - began:.0f} s; wrote {run.eval}/")
    return summary


def _oracle_in_child(config: Any, settings: Any, device: str, tasks: Any) -> list[Row]:
    """The evaluator's oracle rows, computed in a process of its own."""
    use_threads(config.run.threads)
    return problem_of(config).evaluator(config, settings).oracle(tasks, torch.device(device))


def adapt_all(evaluator: Evaluator, settings: Any, selections: dict[str, Selection], tasks: Any,
              device: torch.device, memory_limit: float = 0.0) -> list[Row]:
    """``curves.csv`` rows of every method and seed: the trained methods (from their selected
    checkpoints) and scratch adapted together (:meth:`~metarl.meta.learner.InnerLearner.
    evaluation_curves`), the methods' own rules and the other baselines one by one."""
    learner = evaluator.learner
    trained = {m: {k: v.to(device) for k, v in s.theta.items()} for m, s in selections.items()}
    rows: list[Row] = []
    samples = evaluator.samples_per_update
    adapted = [(method, seed) for seed in settings.seeds for method in settings.methods
               if method in trained or method == "scratch"]
    starts = [(trained[method] if method != "scratch" else evaluator.initial_theta(seed, device),
               seed) for method, seed in adapted]
    start_of = dict(zip(adapted, starts, strict=True))
    at_once = evaluator.max_tasks(device, memory_limit)
    batched = dict(zip(adapted, learner.evaluation_curves(starts, tasks, settings.updates,
                                                          at_once), strict=True))
    for seed in settings.seeds:
        for method in settings.methods:
            if (method, seed) in batched:
                curves = {method: batched[method, seed]}
                own = evaluator.own_rule(method)
                if own is not None:
                    curves[own] = evaluator.own_rule_curve(method, start_of[method, seed][0],
                                                           tasks, settings.updates, seed)
            else:
                curves = {method: evaluator.baseline_curve(method, tasks, settings.updates, seed)}
            for label, curve in curves.items():
                evaluator.check_curve(label, seed, curve)
                rows += curve_rows(label, seed, curve, evaluator.score, samples)
    return rows


def select_checkpoints(run: RunDir, settings: Any, evaluator: Evaluator, device: torch.device,
                       memory_limit: float = 0.0) -> dict[str, Selection]:
    """The checkpoint of every trained method in ``settings.methods`` under the evaluator's
    rule; with ``best_val``, scored on the first ``test_tasks`` validation tasks with the
    evaluation's learner (or the method's own rule, where it has one) and first seed, all of
    a method's checkpoints in one batch (within ``memory_limit`` GB, 0: the device's free
    memory), and written to ``eval/selection.csv``."""
    trained = [m for m in settings.methods if m in TRAINED]
    rule = evaluator.checkpoint_rule
    template = evaluator.initial_theta(0, torch.device("cpu"))  # the run's network's shapes
    if rule == "last":
        (run.eval / "selection.csv").unlink(missing_ok=True)  # an earlier best_val's scores
        return {m: select_checkpoint(run, m, "last", template=template) for m in trained}
    learner = evaluator.learner
    val = learner.sample_tasks(settings.test_tasks, split="val", device=device)

    def curves_of(method: str) -> Callable[[list[Params]], torch.Tensor]:
        def curves(thetas: list[Params]) -> torch.Tensor:
            on_device = [{k: v.to(device) for k, v in theta.items()} for theta in thetas]
            seed = settings.seeds[0]
            if evaluator.own_rule(method) is not None:
                return torch.stack([evaluator.own_rule_curve(method, theta, val, settings.updates,
                                                             seed) for theta in on_device])
            return learner.evaluation_curves([(theta, seed) for theta in on_device], val,
                                             settings.updates,
                                             evaluator.max_tasks(device, memory_limit))
        return curves

    selections = {m: select_checkpoint(run, m, rule, curves_of(m), template,
                                       evaluator.own_rule(m)) for m in trained}
    run.eval.mkdir(parents=True, exist_ok=True)
    write_csv(run.eval / "selection.csv", SELECTION_COLUMNS,
              [row for s in selections.values() for row in s.rows()])
    return selections


def write_results(directory: Path, curves: list[Row], oracle: list[Row], evaluator: Evaluator,
                  checkpoints: Sequence[str] = ()) -> tuple[list[Row], str]:
    """Write ``curves.csv``, ``oracle.csv``, ``summary.csv``, ``summary.md`` and ``eval.toml``.

    :param checkpoints: one line per trained method: which checkpoint was evaluated.
    Returns the summary rows and the Markdown table.
    """
    directory.mkdir(parents=True, exist_ok=True)
    score = evaluator.score
    write_csv(directory / "curves.csv",
              curve_columns(score, evaluator.samples_per_update is not None), curves)
    if oracle:
        write_csv(directory / "oracle.csv", tuple(oracle[0]), oracle)
    else:
        (directory / "oracle.csv").unlink(missing_ok=True)
    summary = summarize(curves, value_key=score)
    write_csv(directory / "summary.csv", SUMMARY_COLUMNS, summary)
    style = evaluator.summary_style()
    text = markdown(summary, style.title, style.ks, style.digits, oracle, style.threshold)
    if checkpoints:
        text += "\ncheckpoints evaluated:\n" + "".join(f"- {c}\n" for c in checkpoints)
    (directory / "summary.md").write_text(text)
    write_settings(directory, evaluator.settings)
    return summary, text
