"""Environment families: batched torch dynamics, task samplers and Gymnasium faces.

Importing this package registers the Gymnasium ids ``metarl/Navigation2D-v0``,
``metarl/CartPoleMass-v0`` and ``metarl/CartPoleDirection-v0`` (single env through ``gym.make``,
batched through ``gym.make_vec`` with ``vectorization_mode="vector_entry_point"``), and the MuJoCo
locomotion ids ``metarl/HalfCheetahVel-v0``, ``metarl/HalfCheetahDir-v0`` and ``metarl/AntDir-v0``
(Gymnasium's robots with the task's reward; the ``[mujoco]`` extra).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from metarl.envs.ant_direction import AntDir, AntDirParams
from metarl.envs.autoreset import AutoResetEnv, Transition
from metarl.envs.batch_env import BatchEnv, make_batch_env
from metarl.envs.cartpole_direction import CartPoleDirection, CartPoleDirectionParams
from metarl.envs.cartpole_mass import CartPoleMass, CartPoleMassParams
from metarl.envs.envpool_env import EnvPoolEnv
from metarl.envs.family import EnvFamily, EnvState, StepResult
from metarl.envs.half_cheetah import (
    HalfCheetahDir,
    HalfCheetahDirParams,
    HalfCheetahVel,
    HalfCheetahVelParams,
)
from metarl.envs.locomotion import LocomotionFamily, engine_available
from metarl.envs.navigation2d import Navigation2D, Navigation2DParams
from metarl.envs.task_params import ParamSpec, TaskParams
from metarl.envs.task_sampler import TaskSampler

FAMILIES: dict[str, type[EnvFamily[Any]]] = {
    Navigation2D.name: Navigation2D,
    CartPoleMass.name: CartPoleMass,
    CartPoleDirection.name: CartPoleDirection,
    HalfCheetahVel.name: HalfCheetahVel,
    HalfCheetahDir.name: HalfCheetahDir,
    AntDir.name: AntDir,
}

LOCOMOTION_FAMILIES = tuple(name for name, family in FAMILIES.items()
                            if issubclass(family, LocomotionFamily))


def make_family(name: str, **kwargs: Any) -> EnvFamily[Any]:
    """Build the family registered as ``name`` (e.g. ``"Navigation2D"``).

    :param name: family name, see :data:`FAMILIES`.
    :param kwargs: ``max_episode_steps``, ``split_seed``, ``ranges``, ``normalize_actions``;
        ``obs_norm`` for a locomotion family.
    """
    if name not in FAMILIES:
        raise ValueError(
            f"env family {name!r} is not registered; expected one of {', '.join(FAMILIES)}"
        )
    return FAMILIES[name](**kwargs)


def _register() -> None:
    for family in FAMILIES.values():
        if family.gym_id in gym.registry:
            continue
        if issubclass(family, LocomotionFamily):  # Gymnasium's MuJoCo robot, task reward
            gym.register(id=family.gym_id,
                         entry_point=f"metarl.envs.gym_locomotion:{family.name}Env",
                         max_episode_steps=family.default_max_episode_steps)
            continue
        gym.register(
            id=family.gym_id,
            entry_point=f"metarl.envs.gym_env:{family.name}Env",
            vector_entry_point=f"metarl.envs.vector_env:{family.name}VectorEnv",
            max_episode_steps=family.default_max_episode_steps,
            reward_threshold=family.reward_threshold,
        )


_register()

__all__ = [
    "FAMILIES",
    "LOCOMOTION_FAMILIES",
    "AntDir",
    "AntDirParams",
    "AutoResetEnv",
    "BatchEnv",
    "CartPoleDirection",
    "CartPoleDirectionParams",
    "CartPoleMass",
    "CartPoleMassParams",
    "EnvFamily",
    "EnvPoolEnv",
    "EnvState",
    "HalfCheetahDir",
    "HalfCheetahDirParams",
    "HalfCheetahVel",
    "HalfCheetahVelParams",
    "LocomotionFamily",
    "Navigation2D",
    "Navigation2DParams",
    "ParamSpec",
    "StepResult",
    "TaskParams",
    "TaskSampler",
    "Transition",
    "engine_available",
    "make_batch_env",
    "make_family",
]
