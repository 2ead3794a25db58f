"""CartPoleMass: Gymnasium's CartPole-v1 with per-task cart mass, pole mass, pole length and force.

At the default parameters the dynamics equal ``gymnasium.envs.classic_control.CartPoleEnv``
(Euler integration, ``tau = 0.02``, gravity 9.8), checked step by step in the tests.

## Task parameters

| field     | default | sampling range (log-uniform) | meaning |
|-----------|---------|------------------------------|---------|
| masscart  | 1.0     | [0.5, 5.0]                   | cart mass (kg) |
| masspole  | 0.1     | [0.05, 1.0]                  | pole mass (kg) |
| length    | 0.5     | [0.2, 2.0]                   | half the pole's length (m) |
| force_mag | 10.0    | [10.0, 10.0]                 | force of one push (N) |

``total_mass`` and ``polemass_length`` are derived from these inside every step. The ranges are
wide enough that a policy trained at the defaults fails on a measurable share of sampled tasks
(``experiments/diagnostics/cartpole_mass_ranges.py`` measures it;
``experiments/results/RESULTS.md`` reports the figure).

## Observation

``(x, x_dot, theta, theta_dot)``, float32, with CartPole-v1's bounds (the largest float32 in
place of infinity for the velocities, so that ``check_env`` has nothing to warn about).

## Action

``Discrete(2)``: 0 pushes the cart left, 1 pushes it right.

## Reward

+1 for every step, including the terminating one.

## Episode end

Terminated when ``|x| > 2.4`` or ``|theta| > 12`` degrees; truncated after 500 steps. Every episode
starts from a state drawn uniformly from ``[-0.05, 0.05]^4``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch

from metarl.envs.family import FLOAT32_MAX, EnvFamily
from metarl.envs.render import cartpole_frame
from metarl.envs.task_params import ParamSpec, TaskParams
from metarl.envs.task_streams import AnyGenerator, draw

GRAVITY = 9.8
TAU = 0.02
THETA_THRESHOLD = 12 * 2 * math.pi / 360
X_THRESHOLD = 2.4
RESET_BOUND = 0.05


@dataclass(frozen=True)
class CartPoleMassParams(TaskParams):
    """CartPoleMass tasks: every field is ``[T]``."""

    masscart: torch.Tensor
    masspole: torch.Tensor
    length: torch.Tensor
    force_mag: torch.Tensor

    SPECS: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("masscart", (), 1.0, 0.5, 5.0, log_uniform=True, positive=True,
                  doc="cart mass (kg)"),
        ParamSpec("masspole", (), 0.1, 0.05, 1.0, log_uniform=True, positive=True,
                  doc="pole mass (kg)"),
        ParamSpec("length", (), 0.5, 0.2, 2.0, log_uniform=True, positive=True,
                  doc="half the pole's length (m)"),
        ParamSpec("force_mag", (), 10.0, 10.0, 10.0, log_uniform=True, positive=True,
                  doc="force of one push (N)"),
    )


class CartPoleMass(EnvFamily[CartPoleMassParams]):
    """Batched CartPole dynamics with per-task physics. See the module docstring."""

    name = "CartPoleMass"
    gym_id = "metarl/CartPoleMass-v0"
    params_type = CartPoleMassParams
    default_max_episode_steps = 500
    reward_threshold = 475.0  # CartPole-v1's
    # CartPole-v1's bounds, with the largest float32 standing in for its unbounded velocities
    _high = np.array([X_THRESHOLD * 2, FLOAT32_MAX, THETA_THRESHOLD * 2, FLOAT32_MAX], np.float32)
    observation_space = gym.spaces.Box(-_high, _high, dtype=np.float32)
    action_space = gym.spaces.Discrete(2)
    description = "CartPole-v1 with per-task cart mass, pole mass, pole length and push force"

    def initial_state(
        self, params: CartPoleMassParams, num_envs: int, generator: AnyGenerator
    ) -> torch.Tensor:
        """State drawn uniformly from ``[-0.05, 0.05]^4``."""
        m = params.masscart
        return draw(generator, (m.shape[0], num_envs, 4), lambda shape, gen: torch.empty(
            shape, device=m.device, dtype=m.dtype).uniform_(-RESET_BOUND, RESET_BOUND,
                                                            generator=gen))

    def push_force(self, params: CartPoleMassParams) -> torch.Tensor:
        """Force of action 1 per task, ``[T]`` (rightwards if positive); action 0 pushes back."""
        return params.force_mag

    def dynamics(
        self, x: torch.Tensor, action: torch.Tensor, params: CartPoleMassParams
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Gymnasium's CartPole equations (Florian 2005), Euler-integrated, per-task physics.

        With ``c = polemass_length / total_mass`` the equations of ``CartPoleEnv.step`` read

            temp     = force / total_mass + c * theta_dot^2 * sin(theta)
            thetaacc = (g sin(theta) - cos(theta) temp) / (length (4/3 - masspole cos^2 / total))
            xacc     = temp - c * thetaacc * cos(theta)

        The per-task factors are computed once per step on ``[T, 1]`` tensors, so the ``[T, E]``
        work is a few fused multiply-adds (the tests compare it with Gymnasium step by step).
        """
        masspole = params.masspole.unsqueeze(1)
        length = params.length.unsqueeze(1)
        total_mass = masspole + params.masscart.unsqueeze(1)
        c = masspole * length / total_mass  # polemass_length / total_mass
        push = self.push_force(params).unsqueeze(1) / total_mass
        pole = length * (masspole / total_mass)

        _, pos_dot, theta, theta_dot = x.unbind(-1)
        costheta = torch.cos(theta)
        sintheta = torch.sin(theta)
        # action 1 pushes with the push force, 0 against it: force / total_mass = push * (2a - 1)
        temp = torch.addcmul(push * (2 * action - 1), c * theta_dot.square(), sintheta)
        denominator = torch.addcmul(length * (4.0 / 3.0), pole, costheta.square(), value=-1.0)
        thetaacc = (GRAVITY * sintheta - costheta * temp) / denominator
        xacc = torch.addcmul(temp, c * thetaacc, costheta, value=-1.0)
        # Euler: every component moves by tau times its derivative, as in CartPole-v1
        x_next = torch.stack((pos_dot, xacc, theta_dot, thetaacc), dim=-1).mul_(TAU).add_(x)
        terminated = (x_next[..., 0].abs() > X_THRESHOLD) | (x_next[..., 2].abs() > THETA_THRESHOLD)
        return x_next, torch.ones_like(costheta), terminated

    def frame(self, x: np.ndarray, task: dict[str, Any]) -> np.ndarray:
        """Side view of the cart and a pole drawn at the task's length."""
        return cartpole_frame(x, float(task["length"]), x_threshold=X_THRESHOLD)
