"""Fast adaptation on held-out tasks: every method, the same tasks, episodes and inner settings.

For each evaluation seed, each method's initialisation is adapted to every test task for k = 0..K
PPO updates, all tasks at once; the return recorded at k is the mean return of the episodes the
policy collected after k updates. Methods are evaluated with the same random generator seed
(common random numbers), so their differences are not sampling noise of the evaluation. The
oracle is PPO from scratch trained ``oracle_iterations`` iterations on each test task, with the
careful settings of ``[pretrain]`` (a long run needs small steps) and the evaluation's rollouts.

Outputs in ``RUN/eval/``: ``curves.csv`` (``method,seed,task,k,return,env_steps``),
``oracle.csv`` (``seed,task,iterations,return,env_steps``), ``summary.csv`` and ``summary.md``
(mean and 95% confidence interval over tasks of the per-task mean over seeds), ``eval.toml`` (the
evaluation settings used) and, when each trained method's checkpoint is chosen on the
validation tasks (``eval.checkpoint = "best_val"``, :mod:`metarl.checkpoint_selection`),
``selection.csv`` (``method,iteration,k,return``).
"""

from __future__ import annotations

import csv
import dataclasses
import math
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch

from metarl.agents.param_tree import Params
from metarl.agents.ppo import PPO
from metarl.checkpoint_selection import SELECTION_COLUMNS, Selection, select_checkpoint
from metarl.components import build_components, check_evaluation, initial_theta, resolve_device
from metarl.config import EvalConfig, read_toml, toml_value
from metarl.envs import FAMILIES, TaskParams
from metarl.run_dir import RunDir
from metarl.stats import mean_ci95

CURVE_COLUMNS = ("method", "seed", "task", "k", "return", "env_steps")
SettingsT = TypeVar("SettingsT")


def evaluate_run(run: RunDir, settings: EvalConfig, device: torch.device | None = None,
                 force: bool = True, quiet: bool = False) -> list[dict[str, float | str | int]]:
    """Evaluate a run's methods on its test tasks; writes ``eval/`` and returns the summary rows.

    :param run: the run directory (its config gives the family, policy and inner settings).
    :param settings: methods, test tasks, K, episodes per update, seeds, oracle iterations.
    :param device: where to adapt (default: the run's device).
    :param force: replace existing results in ``eval/``.
    :param quiet: print nothing.
    """
    config = run.load_config()
    device = device or resolve_device(config.run.device)
    if (run.eval / "curves.csv").exists() and not force:
        raise FileExistsError(f"{run.eval / 'curves.csv'} exists; pass --force to replace it")
    family, policy, _ = build_components(config)
    check_evaluation(config, family, settings)
    ppo_eval = PPO(family, policy, settings.inner(config.ppo))
    tasks = family.tasks.sample(settings.test_tasks, split=settings.split,  # type: ignore[arg-type]
                                device=device)
    began = time.perf_counter()
    selections = select_checkpoints(run, settings, ppo_eval, device)
    trained = {m: {k: v.to(device) for k, v in s.theta.items()} for m, s in selections.items()}
    rows: list[dict[str, float | str | int]] = []
    samples = ppo_eval.config.num_envs * ppo_eval.config.num_steps  # per task and update
    for seed in settings.seeds:
        for method in settings.methods:
            if method == "sb3":  # stable-baselines3 PPO from scratch, task by task
                from metarl.sb3_baseline import sb3_scratch_returns

                returns = sb3_scratch_returns(ppo_eval.config, config.policy, family, tasks,
                                              settings.updates, seed)
            else:
                theta = (trained[method] if method != "scratch"
                         else initial_theta(policy, seed, device))
                returns = adaptation_returns(ppo_eval, theta, tasks, settings.updates, seed)
            unscored = returns.isnan().any(dim=0)
            if unscored.any():  # episodes longer than any rollout (no step limit to check)
                raise ValueError(
                    f"{method}, seed {seed}: {int(unscored.sum())} of {len(unscored)} tasks "
                    f"completed no episode in a rollout of {ppo_eval.config.num_steps} steps, so "
                    "they have no return to score; give the evaluation longer rollouts "
                    "(eval.ppo.num_steps)")
            rows += curve_rows(method, seed, returns, samples)
    oracle_rows = []
    if settings.oracle_iterations:
        seed = settings.seeds[0]
        gen = torch.Generator(device=device).manual_seed(seed)
        # long PPO training: pretraining's careful settings
        oracle_ppo = PPO(family, policy, config.pretrain.apply(ppo_eval.config))
        out = oracle_ppo.adapt(initial_theta(policy, seed, device), tasks,
                               settings.oracle_iterations, gen, evaluate_final=True)
        oracle_rows = [{"seed": seed, "task": task, "iterations": settings.oracle_iterations,
                        "return": out.returns[-1, task].item(),
                        "env_steps": settings.oracle_iterations * out.env_steps}
                       for task in range(settings.test_tasks)]
    summary, text = write_results(run.eval, rows, oracle_rows, family.name, settings,
                                  [s.describe() for s in selections.values()])
    if not quiet:
        print(text)
        print(f"evaluated in {time.perf_counter() - began:.0f} s; wrote {run.eval}/")
    return summary


def select_checkpoints(run: RunDir, settings: EvalConfig, ppo: PPO, device: torch.device
                       ) -> dict[str, Selection]:
    """The checkpoint of every trained method in ``settings.methods`` under
    ``settings.checkpoint``; with ``best_val``, scored on the first ``test_tasks`` validation tasks
    with the evaluation's inner learner and first seed, and written to ``eval/selection.csv``."""
    trained = [m for m in settings.methods if m not in ("scratch", "sb3")]
    if settings.checkpoint == "last":
        (run.eval / "selection.csv").unlink(missing_ok=True)  # an earlier best_val's scores
        return {m: select_checkpoint(run, m, "last") for m in trained}
    val = ppo.family.tasks.sample(settings.test_tasks, split="val", device=device)

    def returns_of(theta: Params) -> torch.Tensor:
        on_device = {k: v.to(device) for k, v in theta.items()}
        return adaptation_returns(ppo, on_device, val, settings.updates, settings.seeds[0])

    selections = {m: select_checkpoint(run, m, "best_val", returns_of) for m in trained}
    run.eval.mkdir(parents=True, exist_ok=True)
    write_csv(run.eval / "selection.csv", SELECTION_COLUMNS,
              [row for s in selections.values() for row in s.rows()])
    return selections


def adaptation_returns(ppo: PPO, theta: Params, tasks: TaskParams, updates: int, seed: int
                       ) -> torch.Tensor:
    """``[updates + 1, T]`` mean returns after k = 0..updates updates from ``theta``, with the
    inner learner the run was meta-trained with (``ppo.inner``: batched, or SB3 task by task)."""
    if ppo.config.inner == "sb3":
        from metarl.sb3_learner import SB3Learner

        return SB3Learner(ppo).evaluation_returns(theta, tasks, updates, seed)
    gen = torch.Generator(device=tasks.device).manual_seed(seed)
    return ppo.adapt(theta, tasks, updates, gen, evaluate_final=True).returns.cpu()


def curve_rows(method: str, seed: int, returns: torch.Tensor, samples: int
               ) -> list[dict[str, float | str | int]]:
    """``curves.csv`` rows of one method and seed from returns ``[K + 1, T]``.

    :param samples: env steps per task and update.
    """
    return [{"method": method, "seed": seed, "task": task, "k": k,
             "return": returns[k, task].item(), "env_steps": k * samples}
            for k in range(returns.shape[0]) for task in range(returns.shape[1])]


def write_results(directory: Path, curves: list[dict[str, float | str | int]],
                  oracle: list[dict[str, float | str | int]], family: str, settings: EvalConfig,
                  checkpoints: Sequence[str] = ()
                  ) -> tuple[list[dict[str, float | str | int]], str]:
    """Write ``curves.csv``, ``oracle.csv``, ``summary.csv``, ``summary.md`` and ``eval.toml``.

    :param checkpoints: one line per trained method: which checkpoint was evaluated.
    Returns the summary rows and the Markdown table.
    """
    directory.mkdir(parents=True, exist_ok=True)
    write_csv(directory / "curves.csv", CURVE_COLUMNS, curves)
    if oracle:
        write_csv(directory / "oracle.csv", tuple(oracle[0]), oracle)
    else:
        (directory / "oracle.csv").unlink(missing_ok=True)
    summary = summarize(curves)
    write_csv(directory / "summary.csv", ("method", "k", "mean", "ci95", "tasks", "seeds"),
              summary)
    text = summary_markdown(summary, oracle, family, settings)
    if checkpoints:
        text += "\ncheckpoints evaluated:\n" + "".join(f"- {c}\n" for c in checkpoints)
    (directory / "summary.md").write_text(text)
    write_settings(directory, settings)
    return summary, text


def write_settings(directory: Path, settings: Any) -> None:
    """Write the evaluation settings used (a dataclass) to ``eval.toml``."""
    (directory / "eval.toml").write_text("[eval]\n" + "".join(
        f"{k} = {toml_value(list(v) if isinstance(v, tuple) else v)}\n"
        for k, v in dataclasses.asdict(settings).items()))


def read_settings(directory: Path, kind: type[SettingsT]) -> SettingsT:
    """The evaluation settings :func:`write_settings` recorded in ``directory/eval.toml``, as a
    ``kind`` dataclass (``EvalConfig``, ``SineEvalConfig``)."""
    path = directory / "eval.toml"
    if not path.is_file():
        raise ValueError(f"{path} does not exist: evaluate the run first")
    values = read_toml(path)["eval"]
    return kind(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def task_means(rows: list[dict[str, float | str | int]], value_key: str = "return"
               ) -> dict[tuple[str, int], dict[int, float]]:
    """``{(method, k): {task: mean over seeds}}`` of curve rows; NaN values are left out.

    :param value_key: the column averaged (``return``, ``mse``).
    """
    per_task: dict[tuple[str, int], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        value = float(r[value_key])
        if not math.isnan(value):
            per_task[(str(r["method"]), int(r["k"]))][int(r["task"])].append(value)
    return {key: {task: sum(v) / len(v) for task, v in tasks.items()}
            for key, tasks in per_task.items()}


def summarize(rows: list[dict[str, float | str | int]], value_key: str = "return"
              ) -> list[dict[str, float | str | int]]:
    """Mean and 95% CI over tasks of the per-task mean over seeds, per method and k.

    :param value_key: the column averaged (``return``, ``mse``).
    """
    seeds: dict[tuple[str, int], set[int]] = defaultdict(set)
    for r in rows:
        seeds[(str(r["method"]), int(r["k"]))].add(int(r["seed"]))
    out: list[dict[str, float | str | int]] = []
    for (method, k), tasks in task_means(rows, value_key).items():
        means = list(tasks.values())
        mean, ci = mean_ci95(means)
        out.append({"method": method, "k": k, "mean": round(mean, 4), "ci95": round(ci, 4),
                    "tasks": len(means), "seeds": len(seeds[(method, k)])})
    return out


def ci_cells(summary: list[dict[str, float | str | int]], digits: int = 2
             ) -> dict[tuple[str, int], str]:
    """``{(method, k): "mean ± ci95"}`` of :func:`summarize` rows, to ``digits`` decimals."""
    return {(str(r["method"]), int(r["k"])): f"{float(r['mean']):.{digits}f} ± "
                                             f"{float(r['ci95']):.{digits}f}" for r in summary}


def summary_markdown(summary: list[dict[str, float | str | int]],
                     oracle: list[dict[str, float | str | int]], family: str,
                     settings: EvalConfig) -> str:
    """The summary as a Markdown table: one row per method, one column per k; for a family with a
    reward threshold, followed by the inner updates each method needs to reach it."""
    ks = sorted({int(r["k"]) for r in summary})
    cell = ci_cells(summary)
    which = "held-out" if settings.split == "test" else "validation"
    lines = [f"{family}: mean return after k inner PPO updates on {settings.test_tasks} {which} "
             f"tasks ({settings.episodes} episodes per update, seeds {list(settings.seeds)}; "
             "± 95% CI over tasks)", "",
             "| method | " + " | ".join(f"k={k}" for k in ks) + " |",
             "| --- | " + " | ".join("---" for _ in ks) + " |"]
    for method in dict.fromkeys(r["method"] for r in summary):
        lines.append(f"| {method} | " + " | ".join(cell.get((str(method), k), "") for k in ks)
                     + " |")
    if oracle:
        mean, ci = mean_ci95([float(r["return"]) for r in oracle])
        lines += ["", f"oracle (PPO from scratch, {oracle[0]['iterations']} iterations per "
                      f"task): {mean:.2f} ± {ci:.2f}"]
    threshold = getattr(FAMILIES.get(family), "reward_threshold", None)
    if threshold is not None:
        reached = updates_to_threshold(summary, threshold)
        lines += ["", f"inner updates to a mean return >= {threshold:g}: " + "; ".join(
            f"{m} {k if k is not None else f'not within {max(ks)}'}" for m, k in reached.items())]
    return "\n".join(lines) + "\n"


def updates_to_threshold(summary: list[dict[str, float | str | int]], threshold: float
                         ) -> dict[str, int | None]:
    """Per method, the first k whose mean return over tasks is ``>= threshold`` (``None``: never).

    :param summary: rows of :func:`summarize`.
    """
    first: dict[str, int | None] = {}
    for r in sorted(summary, key=lambda r: int(r["k"])):
        method = str(r["method"])
        first.setdefault(method, None)
        if first[method] is None and float(r["mean"]) >= threshold:
            first[method] = int(r["k"])
    return first


def read_csv(path: Path) -> list[dict[str, str]]:
    """The rows of one of the evaluation CSV files."""
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, float | str | int]]
              ) -> None:
    """Write rows to ``path`` through a temporary file (a reader never sees half a file)."""
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)

