"""Environment families: batched torch dynamics, task samplers and Gymnasium faces.

Importing this package registers the Gymnasium ids ``metarl/Navigation2D-v0``,
``metarl/CartPoleMass-v0`` and ``metarl/CartPoleDirection-v0`` (single env through ``gym.make``,
batched through ``gym.make_vec`` with ``vectorization_mode="vector_entry_point"``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from metarl.envs.autoreset import AutoResetEnv, Transition
from metarl.envs.cartpole_direction import CartPoleDirection, CartPoleDirectionParams
from metarl.envs.cartpole_mass import CartPoleMass, CartPoleMassParams
from metarl.envs.family import EnvFamily, EnvState, StepResult
from metarl.envs.navigation2d import Navigation2D, Navigation2DParams
from metarl.envs.task_params import ParamSpec, TaskParams
from metarl.envs.task_sampler import TaskSampler

FAMILIES: dict[str, type[EnvFamily[Any]]] = {
    Navigation2D.name: Navigation2D,
    CartPoleMass.name: CartPoleMass,
    CartPoleDirection.name: CartPoleDirection,
}


def make_family(name: str, **kwargs: Any) -> EnvFamily[Any]:
    """Build the family registered as ``name`` (e.g. ``"Navigation2D"``).

    :param name: family name, see :data:`FAMILIES`.
    :param kwargs: ``max_episode_steps``, ``split_seed``, ``ranges``, ``normalize_actions``.
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
    "AutoResetEnv",
    "CartPoleDirection",
    "CartPoleDirectionParams",
    "CartPoleMass",
    "CartPoleMassParams",
    "EnvFamily",
    "EnvState",
    "Navigation2D",
    "Navigation2DParams",
    "ParamSpec",
    "StepResult",
    "TaskParams",
    "TaskSampler",
    "Transition",
    "make_family",
]
