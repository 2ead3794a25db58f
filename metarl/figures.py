"""What every plot of metarl shares: each method's label and colour, and how a figure is made
and saved. Figures are ``matplotlib.figure.Figure`` objects drawn without pyplot, so plotting
neither needs nor changes the backend of a notebook or script that imports metarl."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

LABELS = {
    "reptile": "Reptile",
    "fomaml": "first-order MAML",
    "maml": "MAML, adapted by PPO",
    "maml-vpg": "MAML, its own VPG steps",
    "pretrain": "multi-task pretraining",
    "scratch": "scratch (random init)",
    "sb3": "stable-baselines3 PPO from scratch",
}
COLORS = {"reptile": "C0", "fomaml": "C1", "pretrain": "C2", "scratch": "C7", "sb3": "C4",
          "maml": "C3", "maml-vpg": "C5"}


def new_figure(**kwargs: Any) -> Figure:
    """A figure outside pyplot (``figsize`` and the other ``Figure`` arguments)."""
    return Figure(**kwargs)


def save_figure(fig: Figure, path: Path, dpi: int = 110) -> Path:
    """Lay out ``fig`` and write it to ``path`` (creating its directory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    return path
