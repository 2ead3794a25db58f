"""The setup shared by the scripts that re-adapt a trained run: its inner learner and tasks.

``add_arguments`` adds the run directory, method, task split, task count, number of updates,
episodes per update and ``--set`` overrides to a parser; ``load`` builds the run's family, policy
and the evaluation's inner PPO (``[ppo]`` with any ``eval.ppo`` overrides, sized for that many
episodes per update, with the ``--set`` overrides applied to the run's config for this
measurement only) and samples the tasks. ``describe`` is the first line the
scripts print, and ``adaptations`` yields the policy after each k of a K-update adaptation.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import torch

from metarl.agents.actor_critic import ActorCritic
from metarl.agents.param_tree import Params
from metarl.agents.ppo import PPO, AdaptResult
from metarl.config import apply_override
from metarl.envs import EnvFamily, TaskParams
from metarl.problems import config_from_dict
from metarl.rl.components import build_components
from metarl.runs.run_dir import RunDir


class RunAdaptation(NamedTuple):
    """A trained run with its inner learner rebuilt for re-adaptation."""

    run: RunDir
    family: EnvFamily[Any]
    policy: ActorCritic
    ppo: PPO
    tasks: TaskParams


def add_arguments(parser: argparse.ArgumentParser, methods: str, episodes: int) -> None:
    """Add the run, --method, --split, --tasks, --updates, --episodes and --set to a parser.

    :param methods: the methods the script accepts, for ``--method``'s help.
    :param episodes: the default of ``--episodes`` (episodes per update).
    """
    parser.add_argument("run", type=Path, help="a run directory with a trained method")
    parser.add_argument("--method", default="reptile", help=methods)
    parser.add_argument("--split", default="val", choices=["val", "test"])
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--updates", type=int, default=3)
    parser.add_argument("--episodes", type=int, default=episodes, help="episodes per update")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="change a setting of the run's config (e.g. ppo.clip_coef=10, or "
                             "eval.ppo.clip_schedule=[20,2.5] for the evaluation's inner "
                             "learner alone) for this measurement; the run directory is not "
                             "touched")


def load(args: argparse.Namespace) -> RunAdaptation:
    """The run of ``args.run``, the evaluation's PPO with ``args.episodes`` envs per task, and
    its tasks."""
    run = RunDir(args.run)
    data = run.load_config().to_dict()
    for item in args.set:
        apply_override(data, item)
    config = config_from_dict(data)
    family, policy, _ = build_components(config)
    ppo = PPO(family, policy, config.eval.inner(config.ppo).replace(num_envs=args.episodes))
    tasks = family.tasks.sample(args.tasks, split=args.split)
    return RunAdaptation(run, family, policy, ppo, tasks)


def describe(args: argparse.Namespace, seeds: str) -> str:
    """What is measured: method, run, tasks, episodes per update, ``seeds`` and any ``--set``."""
    return (f"{args.method} of {args.run}, {args.tasks} {args.split} tasks, {args.episodes} "
            f"episodes per update, {seeds}{', ' + ' '.join(args.set) if args.set else ''}")


def adaptations(ppo: PPO, theta: Params, tasks: TaskParams, updates: int, seed: int
                ) -> Iterator[tuple[int, AdaptResult]]:
    """For k = 0..updates, ``(k, result)`` of the first k updates of an ``updates``-long
    adaptation from ``theta`` (annealed schedules as in evaluation), each seeded ``seed``; the
    result's last returns are the policy's after k updates."""
    for k in range(updates + 1):
        yield k, ppo.adapt(theta, tasks, k, torch.Generator().manual_seed(seed),
                           evaluate_final=True, schedule_iterations=updates)
