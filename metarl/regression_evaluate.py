"""Few-shot adaptation on held-out regression tasks: every method, the same tasks and points.

For each evaluation seed, ``shots`` support points are drawn for every test task (the same points
for every method), each method's initialisation takes ``updates`` steps of the inner optimizer on
them, all tasks at once, and the error is the mean squared error over ``query_points`` evenly
spaced inputs covering the interval, after every step k = 0..updates.

Outputs in ``RUN/eval/``: ``curves.csv`` (``method,seed,task,k,mse``), ``summary.csv`` and
``summary.md`` (mean and 95% confidence interval over tasks of the per-task mean over seeds), and
``eval.toml`` (the settings used).
"""

from __future__ import annotations

import time

import torch

from metarl.components import build_sine_components, initial_theta, resolve_device
from metarl.evaluate import ci_cells, summarize, write_csv, write_settings
from metarl.run_dir import RunDir
from metarl.sine_config import SineEvalConfig, SineExperimentConfig
from metarl.train import final_theta

CURVE_COLUMNS = ("method", "seed", "task", "k", "mse")
TABLE_KS = (0, 1, 5, 10)  # the MAML paper's columns, and the last step


def evaluate_regression(run: RunDir, settings: SineEvalConfig,
                        device: torch.device | None = None, force: bool = True,
                        quiet: bool = False) -> list[dict[str, float | str | int]]:
    """Evaluate a regression run's methods on its test tasks; writes ``eval/``.

    :param run: the run directory (its config gives the family, model and inner learner).
    :param settings: methods, test tasks, shots, steps, seeds, query points.
    :param device: where to adapt (default: the run's device).
    :param force: replace existing results in ``eval/``.
    :param quiet: print nothing.
    :returns: the summary rows.
    """
    config = run.load_config()
    assert isinstance(config, SineExperimentConfig)
    device = device or resolve_device(config.run.device)
    if (run.eval / "curves.csv").exists() and not force:
        raise FileExistsError(f"{run.eval / 'curves.csv'} exists; pass --force to replace it")
    _, model, learner = build_sine_components(config)
    tasks = learner.sample_tasks(settings.test_tasks, split=settings.split, device=device)
    trained = {m: {k: v.to(device) for k, v in final_theta(run, m).items()}
               for m in settings.methods if m != "scratch"}
    began = time.perf_counter()
    rows: list[dict[str, float | str | int]] = []
    for seed in settings.seeds:
        for method in settings.methods:
            theta = trained[method] if method != "scratch" else initial_theta(model, seed, device)
            gen = torch.Generator(device=device).manual_seed(seed)  # the same points for all
            out = learner.few_shot(theta, tasks, settings.updates, gen, settings.shots,
                                   settings.query_points)
            assert out.query_losses is not None
            errors = out.query_losses.cpu()
            rows += [{"method": method, "seed": seed, "task": task, "k": k,
                      "mse": errors[k, task].item()}
                     for k in range(settings.updates + 1) for task in range(settings.test_tasks)]
    run.eval.mkdir(parents=True, exist_ok=True)
    write_csv(run.eval / "curves.csv", CURVE_COLUMNS, rows)
    summary = summarize(rows, value_key="mse")
    write_csv(run.eval / "summary.csv", ("method", "k", "mean", "ci95", "tasks", "seeds"),
              summary)
    text = regression_markdown(summary, settings, config)
    (run.eval / "summary.md").write_text(text)
    (run.eval / "oracle.csv").unlink(missing_ok=True)
    write_settings(run.eval, settings)
    if not quiet:
        print(text)
        print(f"evaluated in {time.perf_counter() - began:.0f} s; wrote {run.eval}/")
    return summary


def regression_markdown(summary: list[dict[str, float | str | int]], settings: SineEvalConfig,
                        config: SineExperimentConfig) -> str:
    """The summary as a Markdown table: one row per method, columns k = 0, 1, 5, 10, K."""
    ks = sorted({k for k in (*TABLE_KS, settings.updates) if k <= settings.updates})
    cell = ci_cells(summary, digits=3)
    which = "held-out" if settings.split == "test" else "validation"
    inner = config.inner
    lines = [f"Sine: mean squared error after k inner steps ({inner.optimizer}, learning rate "
             f"{inner.learning_rate:g}) from {settings.shots} points, on {settings.test_tasks} "
             f"{which} tasks (seeds {list(settings.seeds)}; ± 95% CI over tasks)", "",
             "| method | " + " | ".join(f"k={k}" for k in ks) + " |",
             "| --- | " + " | ".join("---" for _ in ks) + " |"]
    for method in dict.fromkeys(r["method"] for r in summary):
        lines.append(f"| {method} | " + " | ".join(cell.get((str(method), k), "") for k in ks)
                     + " |")
    return "\n".join(lines) + "\n"
