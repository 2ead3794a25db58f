"""CartPoleDirection: CartPoleMass whose push direction is a task parameter.

On half of the tasks the cart's motor is wired the other way round: action 1 pushes the cart left
and action 0 pushes it right. Nothing in the observation says which way a task's pushes go; a
policy sees it only in how the state answers its pushes. On CartPoleMass one robust policy solves
every task; here the policy that multi-task pretraining finds still balances many poles under
both directions (its action switches twice along the cart's velocity, so one switch or the other
holds the velocity whichever way the pushes go), but fails on many others, and Reptile's
initialisation is the one that reaches CartPole-v1's threshold within 10 updates (after 8,
three training seeds pooled; experiments/results/RESULTS.md, "CartPoleDirection").

## Task parameters

CartPoleMass's four (cart mass, pole mass, pole half-length, push force; same defaults and ranges)
and

| field     | default | sampling                 | meaning |
|-----------|---------|--------------------------|---------|
| direction | 1.0     | -1 or +1, equally likely | +1: action 1 pushes right; -1: it pushes left |

The four physics fields are drawn before ``direction`` from the same stream, so the validation and
test tasks have CartPoleMass's physics, each with its drawn direction. ``ranges = {direction = [1,
1]}`` keeps the +1 tasks only, which is CartPoleMass.

## Observation, action, reward, episode end

CartPoleMass's (CartPole-v1's): ``(x, x_dot, theta, theta_dot)``, ``Discrete(2)``, +1 per step,
terminated when ``|x| > 2.4`` or ``|theta| > 12`` degrees, truncated after 500 steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from metarl.envs.cartpole_mass import CartPoleMass, CartPoleMassParams
from metarl.envs.task_params import ParamSpec


@dataclass(frozen=True)
class CartPoleDirectionParams(CartPoleMassParams):
    """CartPoleDirection tasks: CartPoleMass's fields and ``direction``, every field ``[T]``."""

    direction: torch.Tensor

    SPECS: ClassVar[tuple[ParamSpec, ...]] = (
        *CartPoleMassParams.SPECS,
        ParamSpec("direction", (), 1.0, -1.0, 1.0, choices=(-1.0, 1.0),
                  doc="+1: action 1 pushes right; -1: action 1 pushes left"),
    )


class CartPoleDirection(CartPoleMass):
    """CartPoleMass with a per-task push direction. See the module docstring."""

    name = "CartPoleDirection"
    gym_id = "metarl/CartPoleDirection-v0"
    params_type = CartPoleDirectionParams
    description = ("CartPole-v1 with per-task physics and push direction (on half the tasks "
                   "action 1 pushes left)")

    def push_force(self, params: CartPoleDirectionParams) -> torch.Tensor:  # type: ignore[override]
        """The push force signed by the task's direction, ``[T]``."""
        return params.force_mag * params.direction
