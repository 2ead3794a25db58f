"""HalfCheetahVel and HalfCheetahDir: MAML's running tasks for Gymnasium's HalfCheetah-v5.

The robot, its dynamics, observation (17 numbers: joint angles without the root's x, then
velocities) and action (6 torques in ``[-1, 1]``) are Gymnasium's ``HalfCheetah-v5``, stepped by
envpool (:mod:`metarl.envs.locomotion`). Episodes last 200 steps, as in MAML's experiments, and
never terminate. Only the reward depends on the task.

## HalfCheetahVel: run at a goal velocity

| field         | default | sampling  | valid   | meaning |
|---------------|---------|-----------|---------|---------|
| goal_velocity | 1.0     | U[0, 2]   | [0, 3]  | forward velocity to hold (m/s) |

Reward per step: ``-|v_x - goal_velocity| - 0.05 * |clip(a, -1, 1)|^2``. Source: MAML's
``rllab/envs/mujoco/half_cheetah_env_rand.py`` (``run_cost = |comvel_x - goal_vel|``, ``ctrl_cost
= 1e-1 * 0.5 * sum(a^2)`` with ``a`` clipped to the bounds; goals ``U[0, 2]``). ProMP's
``HalfCheetahRandVelEnv`` and garage's ``HalfCheetahVelEnv`` use the same weights with the
position's finite difference for the velocity, as here (``x_velocity``; rllab read the torso's
centre-of-mass velocity).

## HalfCheetahDir: run forward or backward

| field     | default | sampling              | meaning |
|-----------|---------|-----------------------|---------|
| direction | 1.0     | -1 or +1, equally     | +1: run forward; -1: run backward |

Reward per step: ``direction * v_x - 0.05 * |clip(a, -1, 1)|^2``. Source: MAML's
``rllab/envs/mujoco/half_cheetah_env_rand_direc.py`` (``run_cost = -direction * comvel_x``, the
same control cost; the direction drawn as ``-1 if U[0, 2] < 1 else +1``). ProMP's
``HalfCheetahRandDirecEnv`` and garage's ``HalfCheetahDirEnv`` agree, with ``x_velocity``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from metarl.envs.locomotion import LocomotionFamily, box, control_cost, torques
from metarl.envs.task_params import ParamSpec, TaskParams

CONTROL_WEIGHT = 0.05  # MAML's 1e-1 * 0.5
HALF_CHEETAH_OBS = 17


@dataclass(frozen=True)
class HalfCheetahVelParams(TaskParams):
    """HalfCheetahVel tasks: ``goal_velocity`` ``[T]``."""

    goal_velocity: torch.Tensor

    SPECS: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("goal_velocity", (), 1.0, 0.0, 2.0, limits=(0.0, 3.0),
                  doc="forward velocity to hold (m/s)"),
    )


@dataclass(frozen=True)
class HalfCheetahDirParams(TaskParams):
    """HalfCheetahDir tasks: ``direction`` ``[T]``."""

    direction: torch.Tensor

    SPECS: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("direction", (), 1.0, -1.0, 1.0, choices=(-1.0, 1.0),
                  doc="+1: run forward; -1: run backward"),
    )


class HalfCheetahVel(LocomotionFamily[HalfCheetahVelParams]):
    """HalfCheetah-v5 rewarded for holding a goal velocity. See the module docstring."""

    name = "HalfCheetahVel"
    gym_id = "metarl/HalfCheetahVel-v0"
    params_type = HalfCheetahVelParams
    engine_id = "HalfCheetah-v5"
    info_keys = ("x_velocity",)
    observation_space = box(HALF_CHEETAH_OBS)
    action_space = torques(6)
    description = "MuJoCo HalfCheetah-v5 running at a goal velocity in [0, 2] m/s (MAML)"

    def task_reward(self, info: dict[str, torch.Tensor], action: torch.Tensor,
                    params: HalfCheetahVelParams) -> torch.Tensor:
        """``-|v_x - goal_velocity| - 0.05 |a|^2``."""
        goal = params.goal_velocity[:, None]
        return -(info["x_velocity"] - goal).abs() - control_cost(action, CONTROL_WEIGHT)


class HalfCheetahDir(LocomotionFamily[HalfCheetahDirParams]):
    """HalfCheetah-v5 rewarded for running forward or backward. See the module docstring."""

    name = "HalfCheetahDir"
    gym_id = "metarl/HalfCheetahDir-v0"
    params_type = HalfCheetahDirParams
    engine_id = "HalfCheetah-v5"
    info_keys = ("x_velocity",)
    observation_space = box(HALF_CHEETAH_OBS)
    action_space = torques(6)
    description = "MuJoCo HalfCheetah-v5 running forward or backward (MAML)"

    def task_reward(self, info: dict[str, torch.Tensor], action: torch.Tensor,
                    params: HalfCheetahDirParams) -> torch.Tensor:
        """``direction * v_x - 0.05 |a|^2``."""
        return (params.direction[:, None] * info["x_velocity"]
                - control_cost(action, CONTROL_WEIGHT))
