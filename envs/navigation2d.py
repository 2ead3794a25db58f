"""Navigation2D: the 2D point-navigation task family of MAML (Finn et al. 2017, section 5.3).

A point agent starts at the origin and must reach a goal it cannot see; the goal is the task.

## Task parameters

| field | shape | default | sampling range |
|-------|-------|---------|----------------|
| goal  | (2,)  | (0.3, -0.2) | uniform in [-0.5, 0.5]^2 |

## Observation

The agent's position ``(x, y)``, float32, unbounded (the space's bounds are the largest float32).
Every episode starts at ``(0, 0)``.

## Action

A velocity command ``(vx, vy)``; each component is clipped to ``[-0.1, 0.1]`` and the position
becomes ``position + clipped action``. The action space is ``Box(-0.1, 0.1, (2,))``.

## Reward

Minus the Euclidean distance from the new position to the goal (the released MAML code uses the
plain distance; the paper's text says squared).

## Episode end

Terminated when both ``|x - goal_x| < 0.01`` and ``|y - goal_y| < 0.01`` after the move; truncated
after 100 steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch

from metarl.envs.family import FLOAT32_MAX, EnvFamily
from metarl.envs.render import navigation2d_frame
from metarl.envs.task_params import ParamSpec, TaskParams
from metarl.envs.task_streams import AnyGenerator

MAX_SPEED = 0.1
GOAL_TOLERANCE = 0.01


@dataclass(frozen=True)
class Navigation2DParams(TaskParams):
    """Navigation2D tasks: ``goal`` is ``[T, 2]``."""

    goal: torch.Tensor

    SPECS: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("goal", (2,), (0.3, -0.2), -0.5, 0.5, doc="goal position (x, y)"),
    )


class Navigation2D(EnvFamily[Navigation2DParams]):
    """Batched Navigation2D dynamics. See the module docstring for the task definition."""

    name = "Navigation2D"
    gym_id = "metarl/Navigation2D-v0"
    params_type = Navigation2DParams
    default_max_episode_steps = 100
    observation_space = gym.spaces.Box(-FLOAT32_MAX, FLOAT32_MAX, (2,), np.float32)
    action_space = gym.spaces.Box(-MAX_SPEED, MAX_SPEED, (2,), np.float32)
    description = "MAML's 2D point navigation to an unseen goal; task = goal (x, y)"

    def initial_state(
        self, params: Navigation2DParams, num_envs: int, generator: AnyGenerator
    ) -> torch.Tensor:
        """Every episode starts at the origin."""
        goal = params.goal
        return goal.new_zeros(goal.shape[0], num_envs, 2)

    def dynamics(
        self, x: torch.Tensor, action: torch.Tensor, params: Navigation2DParams
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Move by the clipped action; reward is minus the distance to the goal after the move."""
        x_next = x + action.to(x.dtype).clamp(-MAX_SPEED, MAX_SPEED)
        delta = x_next - params.goal.unsqueeze(1)
        reward = -torch.linalg.vector_norm(delta, dim=-1)
        terminated = (delta.abs() < GOAL_TOLERANCE).all(dim=-1)
        return x_next, reward, terminated

    def frame(self, x: np.ndarray, task: dict[str, Any]) -> np.ndarray:
        """Top view: goal (green), agent (blue), start (grey cross), goal square shaded."""
        return navigation2d_frame(x, np.asarray(task["goal"]))
