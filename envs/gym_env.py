"""Single-environment Gymnasium faces of the batched families (``gym.make`` ids).

``gym.make("metarl/CartPoleMass-v0", masspole=0.5, length=1.0)`` and
``gym.make("metarl/Navigation2D-v0", goal=(0.3, -0.2))`` build these. They run the same dynamics as
the batched families, with one task and one environment, in float64 (as Gymnasium's CartPole does),
and leave the step limit to the ``TimeLimit`` wrapper that ``gym.make`` adds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch

from metarl.envs.cartpole_direction import CartPoleDirection
from metarl.envs.cartpole_mass import CartPoleMass
from metarl.envs.family import EnvFamily, EnvState, check_actions
from metarl.envs.navigation2d import Navigation2D
from metarl.envs.render import check_render_mode
from metarl.envs.task_params import TaskParams


class TaskEnv(gym.Env[np.ndarray, Any]):
    """One environment of a family, for one task set by keyword arguments.

    :param render_mode: ``None`` or ``"rgb_array"``.
    :param normalize_actions: actions in ``[-1, 1]``, mapped to the family's bounds
        (:class:`~metarl.envs.family.EnvFamily`).
    :param task: task parameters by field name; unspecified ones take the family defaults.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 50}
    family_type: ClassVar[type[EnvFamily[Any]]]

    def __init__(self, render_mode: str | None = None, normalize_actions: bool = False,
                 **task: Any) -> None:
        check_render_mode(render_mode, self.metadata["render_modes"])
        self.family = self.family_type(max_episode_steps=None, normalize_actions=normalize_actions)
        self.observation_space = self.family.observation_space
        self.action_space = self.family.action_space
        self.render_mode = render_mode
        self.params: TaskParams = self.family.make_params(1, dtype=torch.float64, **task)
        self._state: EnvState | None = None

    @property
    def task(self) -> dict[str, Any]:
        """The current task's parameters as plain Python values."""
        return self.params.to_list()[0]

    def set_task(self, **task: Any) -> None:
        """Change the task (takes effect immediately; unspecified fields take their defaults)."""
        self.params = self.family.make_params(1, dtype=torch.float64, **task)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode. ``options={"task": {...}}`` also changes the task."""
        super().reset(seed=seed)
        if options and "task" in options:
            self.set_task(**options["task"])
        gen = torch.Generator().manual_seed(int(self.np_random.integers(2**62)))
        self._state, obs = self.family.reset(self.params, 1, gen)
        return self._obs(obs), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply ``action``; truncation is left to the ``TimeLimit`` wrapper."""
        if self._state is None:
            raise RuntimeError("step() called before reset()")
        action = check_actions(self.action_space, action, self.action_space.shape)
        a = torch.as_tensor(action).reshape(1, 1, *self.action_space.shape)
        res = self.family.step(self._state, a, self.params)
        self._state = res.state
        return (
            self._obs(res.obs),
            float(res.reward[0, 0]),
            bool(res.terminated[0, 0]),
            False,
            {},
        )

    def render(self) -> np.ndarray | None:
        """An RGB array of the current state when ``render_mode="rgb_array"``."""
        if self.render_mode is None:
            gym.logger.warn("render() called with render_mode=None; pass render_mode='rgb_array'")
            return None
        if self._state is None:
            raise RuntimeError("render() called before reset()")
        return self.family.frame(self._state.x[0, 0].numpy(), self.task)

    @staticmethod
    def _obs(obs: torch.Tensor) -> np.ndarray:
        return obs[0, 0].numpy().astype(np.float32)


class Navigation2DEnv(TaskEnv):
    """``metarl/Navigation2D-v0``: MAML's 2D navigation to ``goal`` (see ``Navigation2D``).

    :param goal: goal position ``(x, y)``.
    :param render_mode: ``None`` or ``"rgb_array"``.
    :param normalize_actions: actions in ``[-1, 1]``, scaled to the speed limit 0.1.
    """

    family_type = Navigation2D

    def __init__(self, goal: Sequence[float] = (0.3, -0.2), render_mode: str | None = None,
                 normalize_actions: bool = False) -> None:
        super().__init__(render_mode=render_mode, normalize_actions=normalize_actions, goal=goal)


class CartPoleMassEnv(TaskEnv):
    """``metarl/CartPoleMass-v0``: CartPole-v1 with the given physics (see ``CartPoleMass``).

    :param masscart: cart mass (kg).
    :param masspole: pole mass (kg).
    :param length: half the pole's length (m).
    :param force_mag: force of one push (N).
    :param render_mode: ``None`` or ``"rgb_array"``.
    """

    family_type = CartPoleMass

    def __init__(
        self,
        masscart: float = 1.0,
        masspole: float = 0.1,
        length: float = 0.5,
        force_mag: float = 10.0,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(render_mode=render_mode, masscart=masscart, masspole=masspole,
                         length=length, force_mag=force_mag)


class CartPoleDirectionEnv(TaskEnv):
    """``metarl/CartPoleDirection-v0``: CartPoleMass with a push direction (``CartPoleDirection``).

    :param masscart: cart mass (kg).
    :param masspole: pole mass (kg).
    :param length: half the pole's length (m).
    :param force_mag: force of one push (N).
    :param direction: +1 (action 1 pushes right, as in CartPole-v1) or -1 (action 1 pushes left).
    :param render_mode: ``None`` or ``"rgb_array"``.
    """

    family_type = CartPoleDirection

    def __init__(
        self,
        masscart: float = 1.0,
        masspole: float = 0.1,
        length: float = 0.5,
        force_mag: float = 10.0,
        direction: float = 1.0,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(render_mode=render_mode, masscart=masscart, masspole=masspole,
                         length=length, force_mag=force_mag, direction=direction)
