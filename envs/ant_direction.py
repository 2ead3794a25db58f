"""AntDir: MAML's forward/backward task for Gymnasium's Ant-v5.

The robot, its dynamics, observation (105 numbers: joint positions without the root's x and y,
velocities, and the clipped external contact forces) and action (8 torques in ``[-1, 1]``) are
Gymnasium's ``Ant-v5``, stepped by envpool (:mod:`metarl.envs.locomotion`). Episodes last 200
steps, as in MAML's experiments, and terminate when the torso leaves ``0.2 <= z <= 1.0`` or the
state is not finite (Ant-v5's and rllab's rule).

| field     | default | sampling              | meaning |
|-----------|---------|-----------------------|---------|
| direction | 1.0     | -1 or +1, equally     | +1: walk forward (+x); -1: walk backward |

Reward per step::

    direction * v_x - 0.005 |clip(a, -1, 1)|^2 - 0.0005 |clip(f_contact, -1, 1)|^2 + 0.05 * healthy

Source: MAML's ``rllab/envs/mujoco/ant_env_rand_direc.py``: ``forward_reward = direction *
comvel_x``, ``ctrl_cost = 0.5 * 1e-2 * sum(a^2)``, ``contact_cost = 0.5 * 1e-3 *
sum(clip(cfrc_ext, -1, 1)^2)``, ``survive_reward = 0.05``; the direction drawn as ``-1 if U[0, 3]
< 1.5 else +1``. The contact term is Ant-v5's ``reward_contact`` (weight 5e-4, forces clipped to
``[-1, 1]``: MAML's), and ``healthy`` is Ant-v5's ``reward_survive`` over its healthy reward of 1
(1 on every step of a live episode, as rllab paid its bonus). ProMP's ``AntRandDirecEnv`` pays a
survive bonus of 1.0 and a control cost of ``0.5 |a|^2``; garage follows MAML.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from metarl.envs.locomotion import LocomotionFamily, box, control_cost, torques
from metarl.envs.task_params import ParamSpec, TaskParams

CONTROL_WEIGHT = 0.005  # MAML's 0.5 * 1e-2
SURVIVE_BONUS = 0.05
ANT_OBS = 105


@dataclass(frozen=True)
class AntDirParams(TaskParams):
    """AntDir tasks: ``direction`` ``[T]``."""

    direction: torch.Tensor

    SPECS: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("direction", (), 1.0, -1.0, 1.0, choices=(-1.0, 1.0),
                  doc="+1: walk forward; -1: walk backward"),
    )


class AntDir(LocomotionFamily[AntDirParams]):
    """Ant-v5 rewarded for walking forward or backward. See the module docstring."""

    name = "AntDir"
    gym_id = "metarl/AntDir-v0"
    params_type = AntDirParams
    engine_id = "Ant-v5"
    info_keys = ("x_velocity", "reward_contact", "reward_survive")
    observation_space = box(ANT_OBS)
    action_space = torques(8)
    description = "MuJoCo Ant-v5 walking forward or backward (MAML)"

    def task_reward(self, info: dict[str, torch.Tensor], action: torch.Tensor,
                    params: AntDirParams) -> torch.Tensor:
        """``direction * v_x - 0.005 |a|^2 + reward_contact + 0.05 * healthy``."""
        return (params.direction[:, None] * info["x_velocity"]
                - control_cost(action, CONTROL_WEIGHT)
                + info["reward_contact"] + SURVIVE_BONUS * info["reward_survive"])
