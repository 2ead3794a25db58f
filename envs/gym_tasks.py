"""Task distributions over any registered Gymnasium env: a user's own, or a MuJoCo one.

``[env] family = "gym"`` with ``gym_id`` and ``ranges`` describes tasks of an env that metarl has
no batched dynamics for: each task parameter is drawn uniformly from its range (with the same
fixed ``val`` and ``test`` splits as metarl's families) and reaches the env either as a
``gym.make`` keyword argument (``task_via = "make"``) or through a ``set_task(**task)`` method of
the unwrapped env (``task_via = "set_task"``). Such tasks are adapted to by the stable-baselines3
inner learner (``[ppo] inner = "sb3"``), task by task.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

import gymnasium as gym
import torch

from metarl.envs.task_params import ParamSpec, TaskParams
from metarl.envs.task_sampler import TaskSampler

TASK_VIA = ("make", "set_task")


class GymTaskFamily:
    """Tasks of a Gymnasium env, sampled from ranges of its task parameters.

    :param gym_id: a registered Gymnasium id, or ``"module:id"`` to import the module that
        registers it first (as ``gym.make`` does).
    :param ranges: ``{parameter: (low, high)}``, one entry per task parameter (scalars).
    :param max_episode_steps: episode limit (``-1``: the id's registered limit).
    :param split_seed: seed of the fixed validation and test splits.
    :param task_via: ``"make"`` (keyword arguments of ``gym.make``) or ``"set_task"``.
    """

    def __init__(self, gym_id: str, ranges: dict[str, tuple[float, float]],
                 max_episode_steps: int | None = -1, split_seed: int = 0,
                 task_via: str = "make") -> None:
        module, _, env_id = gym_id.rpartition(":")
        if module:  # "package.module:Env-v0": import the module that registers the id
            try:
                importlib.import_module(module)
            except ImportError as err:
                raise ValueError(f"env.gym_id={gym_id!r}: cannot import {module}: {err}") from None
        if env_id not in gym.registry:
            raise ValueError(f"env.gym_id={gym_id!r} is not a registered Gymnasium id")
        if not ranges:
            raise ValueError("env.ranges must give [low, high] for at least one task parameter "
                             f"of {gym_id}")
        if task_via not in TASK_VIA:
            raise ValueError(f"env.task_via={task_via!r} must be one of {', '.join(TASK_VIA)}")
        specs = []
        for name, bounds in ranges.items():
            low, high = (float(b) for b in bounds)
            if not low <= high:
                raise ValueError(f"env.ranges.{name}={list(bounds)!r} needs low <= high")
            specs.append(ParamSpec(name, (), (low + high) / 2, low, high))
        params_type = dataclasses.make_dataclass(
            "GymTaskParams", [(s.name, torch.Tensor) for s in specs], bases=(TaskParams,),
            frozen=True, namespace={"SPECS": tuple(specs)})
        self.name = self.gym_id = gym_id
        self.task_via = task_via
        self.tasks = TaskSampler(params_type, split_seed)
        registered = gym.spec(env_id).max_episode_steps
        self.max_episode_steps = registered if max_episode_steps == -1 else max_episode_steps
        probe = gym.make(gym_id)
        self.observation_space, self.action_space = probe.observation_space, probe.action_space
        probe.close()
        self.description = f"tasks of the Gymnasium env {gym_id} (parameters {', '.join(ranges)})"

    def make_env(self, task: dict[str, Any]) -> gym.Env[Any, Any]:
        """One env of ``task`` (plain floats by parameter name)."""
        if self.task_via == "make":
            return gym.make(self.gym_id, max_episode_steps=self.max_episode_steps, **task)
        env = gym.make(self.gym_id, max_episode_steps=self.max_episode_steps)
        setter = getattr(env.unwrapped, "set_task", None)
        if setter is None:
            raise ValueError(f"env.task_via='set_task' but {self.gym_id} has no set_task method")
        setter(**task)
        return env


def make_task_env(family: Any, task: dict[str, Any]) -> gym.Env[Any, Any]:
    """One Gymnasium env of ``task``: a :class:`GymTaskFamily`'s, or a metarl family's through
    its registered id (``gym.make(family.gym_id, **task)``)."""
    if isinstance(family, GymTaskFamily):
        return family.make_env(task)
    if family.normalize_actions:
        task = {**task, "normalize_actions": True}
    if getattr(family, "obs_norm", False):
        task = {**task, "obs_norm": True}
    return gym.make(family.gym_id, max_episode_steps=family.max_episode_steps, **task)
