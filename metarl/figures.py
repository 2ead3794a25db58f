"""What every plot of metarl shares: each method's label and colour, and how a figure is saved."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

LABELS = {
    "reptile": "Reptile",
    "fomaml": "first-order MAML",
    "pretrain": "multi-task pretraining",
    "scratch": "scratch (random init)",
    "sb3": "stable-baselines3 PPO from scratch",
}
COLORS = {"reptile": "C0", "fomaml": "C1", "pretrain": "C2", "scratch": "C7", "sb3": "C4"}


def save_figure(fig: plt.Figure, path: Path) -> Path:
    """Write ``fig`` to ``path`` (creating its directory) and close it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
