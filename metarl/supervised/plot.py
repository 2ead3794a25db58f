"""``plots/sine_fits.png``: what few-shot adaptation looks like, as in the Reptile paper's Figure 1.

For a few held-out tasks (rows) and each trained method (columns): the true curve, the support
points, and the network's prediction before adaptation and after 1, 10 and ``updates`` inner
steps on those points (evaluation seed ``eval.seeds[0]``'s points, as in ``curves.csv``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib
import torch

from metarl.agents.param_tree import Params
from metarl.figures import LABELS, new_figure, save_figure
from metarl.supervised.config import SineEvalConfig, SineExperimentConfig
from metarl.supervised.learner import build_sine_components

TASKS_SHOWN = 3


def plot_sine_fits(config: SineExperimentConfig, settings: SineEvalConfig,
                   theta_of: Callable[[str], Params], directory: Path,
                   tasks_shown: int = TASKS_SHOWN) -> Path:
    """Draw ``directory/sine_fits.png`` for the evaluation ``settings`` of a run with ``config``;
    ``theta_of(method)`` gives each trained method's last theta."""
    family, model, learner = build_sine_components(config)
    methods = [m for m in settings.methods if m != "scratch"]
    n = min(tasks_shown, settings.test_tasks)
    every = learner.sample_tasks(settings.test_tasks, split=settings.split)
    tasks = every.index(slice(0, n))
    gen = torch.Generator().manual_seed(settings.seeds[0])
    x, y = family.sample_points(every, settings.shots, gen)  # the evaluation's first seed's
    x, y = x[:n], y[:n]
    steps = sorted({0, *(k for k in (1, 10) if k < settings.updates), settings.updates})
    fig = new_figure(figsize=(3.6 * len(methods), 2.6 * n))
    axes = fig.subplots(n, len(methods), squeeze=False, sharex=True)
    grid_x, grid_y = family.grid(tasks, 200)
    for col, method in enumerate(methods):
        theta = theta_of(method)
        fits = {k: learner.learner.adapt(theta, x, y, k).params for k in steps}
        for row in range(n):
            ax = axes[row][col]
            ax.plot(grid_x[row, :, 0], grid_y[row, :, 0], color="black", lw=1.5, label="true")
            for i, k in enumerate(steps):
                pred = model.forward(fits[k], grid_x)[row, :, 0].detach()
                color = matplotlib.colormaps["viridis"](i / max(1, len(steps) - 1))
                ax.plot(grid_x[row, :, 0], pred, color=color, lw=1, ls="--" if k == 0 else "-",
                        label=f"after {k} step{'' if k == 1 else 's'}")
            ax.scatter(x[row, :, 0], y[row, :, 0], color="red", zorder=3, s=18,
                       label=f"{settings.shots} support points")
            if row == 0:
                ax.set_title(LABELS.get(method, method), fontsize=10)
            ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="upper right")
    fig.suptitle(f"Sine: {settings.shots}-shot adaptation on held-out tasks", fontsize=11)
    return save_figure(fig, directory / "sine_fits.png")
