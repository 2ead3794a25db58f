"""``metarl plot``: every plot a run's files allow, in ``RUN/plots/``.

``adaptation.png`` (from ``eval/``) and ``meta_training.png`` (from ``metrics.csv``) for every
problem (:mod:`metarl.report.plots`), in the problem's words; then the problem's own plots (a
sine run's ``sine_fits.png``), for the settings of its last evaluation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from metarl.problems import problem_of
from metarl.report.files import read_settings
from metarl.report.plots import plot_adaptation, plot_meta_training
from metarl.runs.run_dir import RunDir
from metarl.runs.selection import final_theta


def plot_run(run: RunDir) -> list[Path]:
    """Draw every plot the run's files allow; returns the paths written."""
    config = run.load_config()
    problem = problem_of(config)
    labels = problem.plot_labels(config)
    written = []
    if (run.eval / "summary.csv").exists():
        written.append(plot_adaptation(run.eval, run.plots / "adaptation.png", labels.family,
                                       labels.x, labels.y, labels.log))

        def settings() -> Any:  # the last evaluation's (metarl evaluate may have changed them)
            if (run.eval / "eval.toml").exists():
                return read_settings(run.eval, type(config.eval))
            return config.eval

        written += problem.extra_plots(config, settings, lambda m: final_theta(run, m),
                                       run.plots)
    if run.metrics.exists():
        written.append(plot_meta_training(run.metrics, run.plots / "meta_training.png",
                                          labels.family, labels.samples, labels.val,
                                          labels.log))
    for path in written:
        print(f"wrote {path}")
    return written
