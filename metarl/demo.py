"""``metarl demo``: a random policy on every family's held-out tasks, with a trajectory plot."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import torch
from matplotlib.patches import Rectangle

from metarl.envs import FAMILIES, LocomotionFamily, Navigation2D, engine_available
from metarl.figures import new_figure, save_figure
from metarl.report.stats import mean_ci95
from metarl.rl.random_policy import random_rollout


def run_demo(out: Path, seed: int = 0, num_envs: int = 20,
             device: torch.device | None = None, force: bool = False
             ) -> dict[str, tuple[float, float]]:
    """Random-policy returns (mean, 95% CI over tasks) on each family's test split.

    Writes ``out/plots/random_navigation2d.png``, refusing to replace an existing one unless
    ``force``. Returns ``{family: (mean, ci)}``.
    """
    plot_path = out / "plots" / "random_navigation2d.png"
    if plot_path.exists() and not force:
        raise FileExistsError(
            f"{plot_path} exists; pass --force to overwrite it or --out to write elsewhere"
        )
    device = device or torch.device("cpu")
    results: dict[str, tuple[float, float]] = {}
    print(f"Random policy on the held-out test tasks ({num_envs} envs per task, seed {seed}).")
    print("A random policy: the floor every method starts above (metarl train does the real job).")
    for name, family_type in FAMILIES.items():
        if issubclass(family_type, LocomotionFamily) and not engine_available():
            print(f"  {name:<14} skipped: needs the [mujoco] extra (pip install -e \".[mujoco]\")")
            continue
        family = family_type()
        n_test = family.default_split_sizes["test"]
        tasks = family.tasks.sample(n_test, split="test", device=device)
        gen = torch.Generator(device=device).manual_seed(seed)
        roll = random_rollout(family, tasks, num_envs, gen)
        mean, ci = mean_ci95(roll.mean_return.cpu().tolist())
        results[name] = (mean, ci)
        print(f"  {name:<14} {n_test} test tasks: mean return {mean:8.2f} +- {ci:.2f} (95% CI)")
        if name == Navigation2D.name:
            plot_navigation(roll.observations[:, :8, 0].cpu(), tasks.goal[:8].cpu(), plot_path)
            print(f"  wrote {plot_path}")
    return results


def plot_navigation(positions: torch.Tensor, goals: torch.Tensor, path: Path) -> None:
    """Plot trajectories ``[H + 1, N, 2]`` of ``N`` tasks and their goals ``[N, 2]`` to ``path``."""
    fig = new_figure(figsize=(5, 5))
    ax = fig.subplots()
    colors = matplotlib.colormaps["tab10"]
    for i in range(goals.shape[0]):
        ax.plot(positions[:, i, 0], positions[:, i, 1], lw=1, color=colors(i), alpha=0.8)
        ax.plot(*goals[i].tolist(), marker="*", ms=12, color=colors(i), mec="black")
    ax.plot(0, 0, marker="o", color="black")
    ax.add_patch(Rectangle((-0.5, -0.5), 1, 1, fill=False, ls="--", color="grey"))
    ax.set_title("Navigation2D: random policy on 8 held-out goals (stars)")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_aspect("equal")
    save_figure(fig, path, dpi=100)
