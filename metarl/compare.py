"""``metarl compare``: methods and runs compared over training seeds x tasks, as rliable reports.

Each source is an evaluated run directory, or a sweep (``metarl train CONFIG --seeds ...``: its
``seed_<s>`` run directories). A run's score on a task is its mean over the run's evaluation
seeds, so the scores of one method at one k form a matrix ``[runs, tasks]``; every statistic of
:mod:`metarl.report.aggregate` is computed over it: the mean and the IQM with stratified-bootstrap
95% CIs, the probability that the first entry scores above each other one, and the difference of
their means (paired by run and task when both come from the same runs). The sources must be
evaluations of the same tasks (family, task ranges, split and number of tasks).

Outputs in ``--out`` (default ``runs/compare``): ``compare.md``, ``compare.csv``
(``entry,k,statistic,value,low,high``) and ``compare.png`` (the mean with its CI band).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from metarl.report.aggregate import Estimate, aggregate, difference, probability_of_improvement
from metarl.report.files import read_csv, read_settings, write_csv
from metarl.report.plots import plot_comparison
from metarl.report.summary import task_means
from metarl.runs.run_dir import RunDir

COMPARED = ("env", "eval.split", "eval.test_tasks")  # what the sources must share


class Source(NamedTuple):
    """One argument of ``metarl compare``: its label and its run directories."""

    label: str
    runs: list[RunDir]


def source(path: Path) -> Source:
    """A sweep (its ``seed_<s>`` runs, by seed) or one evaluated run directory."""
    seeds = sorted((p for p in path.glob("seed_*") if (p / "config.toml").is_file()),
                   key=lambda p: int(p.name[5:]) if p.name[5:].isdigit() else -1)
    runs = [RunDir(p) for p in seeds] or [RunDir(path)]
    for run in runs:
        if not (run.eval / "curves.csv").is_file():
            raise ValueError(f"{run.path} has no eval/curves.csv: evaluate it first (metarl "
                             "evaluate), or pass a sweep directory holding seed_<s> runs")
    return Source(path.name or str(path), runs)


def _setting(run: RunDir, key: str) -> object:
    """A setting of the run's config; an ``eval`` one as its last evaluation used it."""
    config = run.load_config()
    section, _, name = key.partition(".")
    if section == "eval" and (run.eval / "eval.toml").is_file():
        return getattr(read_settings(run.eval, type(config.eval)), name)
    data = config.to_dict()
    return data[section] if not name else data[section][name]


def check_same_tasks(sources: Sequence[Source]) -> None:
    """A one-line ``ValueError`` naming the first setting in which two runs' tasks differ."""
    first = sources[0].runs[0]
    for src in sources:
        for run in src.runs:
            for key in COMPARED:
                a, b = _setting(first, key), _setting(run, key)
                if a != b:
                    raise ValueError(f"{run.path} and {first.path} evaluate different tasks: "
                                     f"{key} is {b!r} there, {a!r} here; compare runs of the "
                                     "same tasks")


def run_scores(run: RunDir) -> tuple[str, dict[tuple[str, int], dict[int, float]]]:
    """The score's name and ``{(method, k): {task: mean over evaluation seeds}}`` of a run
    (:func:`~metarl.report.summary.task_means`, as its summary averages them)."""
    rows = read_csv(run.eval / "curves.csv")
    columns = list(rows[0]) if rows else []
    if len(columns) < 5 or columns[:4] != ["method", "seed", "task", "k"]:
        raise ValueError(f"{run.eval / 'curves.csv'} is not a curves.csv metarl wrote")
    return columns[4], task_means(rows, value_key=columns[4])


def compare(paths: Sequence[Path], methods: Sequence[str] = (), ks: Sequence[int] = (),
            out: Path = Path("runs/compare"), seed: int = 0) -> str:
    """Compare ``paths`` (see the module docstring); writes ``out`` and returns the table."""
    if not paths:
        raise ValueError("metarl compare needs at least one run or sweep directory")
    sources = [source(Path(p)) for p in paths]
    check_same_tasks(sources)
    scores: dict[tuple[str, str], dict[int, np.ndarray]] = {}
    score_name = ""
    for src in sources:
        per_run = [run_scores(run) for run in src.runs]
        score_name = per_run[0][0]
        shared = set.intersection(*({m for m, _ in s} for _, s in per_run))
        in_order = [m for m in dict.fromkeys(m for m, _ in per_run[0][1]) if m in shared]
        chosen = [m for m in (methods or in_order) if m in shared]
        missing = [m for m in methods if m not in shared]
        if missing:
            raise ValueError(f"method {missing[0]!r} is not evaluated in every run of "
                             f"{src.label}; it holds {', '.join(sorted(shared))}")
        for method in chosen:
            label = method if len(sources) == 1 else f"{src.label}:{method}"
            common_k = set.intersection(*({k for m, k in s if m == method} for _, s in per_run))
            for run, (_, s) in zip(src.runs, per_run, strict=True):
                if any(set(s[(method, k)]) != set(per_run[0][1][(method, k)])
                       for k in common_k):
                    raise ValueError(f"{run.path}: {method} was evaluated on other tasks than in "
                                     f"{src.runs[0].path}; evaluate every run on the same tasks")
            scores[(label, src.label)] = {
                k: np.array([[s[(method, k)][t] for t in sorted(s[(method, k)])]
                             for _, s in per_run]) for k in sorted(common_k)}
    every_k = sorted(set.intersection(*(set(v) for v in scores.values())))
    ks = [k for k in (ks or every_k) if k in every_k]
    if not ks:
        raise ValueError(f"no k shared by every entry ({every_k or 'none'}); pick --k from them")
    rows, lines = [], []
    entries = list(scores)
    lines += [f"{score_name}: mean and IQM over runs x tasks, 95% stratified-bootstrap CIs "
              f"({', '.join(f'{s.label}: {len(s.runs)} run(s)' for s in sources)})", "",
              "| entry | k | mean | IQM |", "| --- | --- | --- | --- |"]
    if any(len(s.runs) == 1 for s in sources):
        lines[1:1] = ["", "(a source of one run has intervals of zero width: they are over "
                          "training seeds; train several with metarl train CONFIG --seeds ...)"]
    for label, src in entries:
        for k in ks:
            matrix = scores[(label, src)][k]
            mean, mid = aggregate(matrix, "mean", seed), aggregate(matrix, "iqm", seed)
            rows += [_row(label, k, "mean", mean), _row(label, k, "iqm", mid)]
            lines.append(f"| {label} | {k} | {_cell(mean)} | {_cell(mid)} |")
    if len(entries) > 1:
        (first, first_src), others = entries[0], entries[1:]
        lines += ["", f"{first} against each other entry: P({first} > other), and the difference "
                      "of means (paired by run and task within one source)", "",
                  "| other | k | P(first > other) | mean difference |", "| --- | --- | --- | --- |"]
        for label, src in others:
            for k in ks:
                x, y = scores[(first, first_src)][k], scores[(label, src)][k]
                p = probability_of_improvement(x, y, seed)
                d = difference(x, y, paired=src == first_src and x.shape == y.shape, seed=seed)
                rows += [_row(f"{first} > {label}", k, "probability_of_improvement", p),
                         _row(f"{first} - {label}", k, "mean_difference", d)]
                lines.append(f"| {label} | {k} | {_cell(p)} | {_cell(d)} |")
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "compare.csv", ("entry", "k", "statistic", "value", "low", "high"), rows)
    text = "\n".join(lines) + "\n"
    (out / "compare.md").write_text(text)
    plot_comparison([r for r in rows if r["statistic"] == "mean"], out / "compare.png",
                    f"mean {score_name} after k updates", log=score_name == "mse")
    return text


def _row(entry: str, k: int, statistic: str, e: Estimate) -> dict[str, float | str | int]:
    return {"entry": entry, "k": k, "statistic": statistic, "value": round(e.value, 4),
            "low": round(e.low, 4), "high": round(e.high, 4)}


def _cell(e: Estimate) -> str:
    return f"{e.value:.2f} [{e.low:.2f}, {e.high:.2f}]"
