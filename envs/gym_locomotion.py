"""Single-environment Gymnasium faces of the locomotion families (``gym.make`` ids).

``gym.make("metarl/HalfCheetahVel-v0", goal_velocity=1.5)`` builds one of these: Gymnasium's own
``HalfCheetah-v5`` (or ``Ant-v5``; the ``mujoco`` package) whose reward is the task's, computed by
the family's :meth:`~metarl.envs.locomotion.LocomotionFamily.task_reward` from Gymnasium's infos,
exactly as the batched envpool environments compute it from envpool's. With the MuJoCo release
envpool is built with (``mujoco==3.6.0``, pinned by the extra) the two engines agree to float
rounding (tests/test_locomotion.py); under MuJoCo 4.0 the Ant's contacts differ by up to 5e-4 in
the state per step. The step limit is left to the ``TimeLimit``
wrapper that ``gym.make`` adds (200 steps). These faces are what stable-baselines3 trains on.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch

from metarl.envs.ant_direction import AntDir
from metarl.envs.family import check_actions
from metarl.envs.half_cheetah import HalfCheetahDir, HalfCheetahVel
from metarl.envs.locomotion import LocomotionFamily
from metarl.envs.render import check_render_mode
from metarl.envs.task_params import TaskParams

GYM_MUJOCO_MISSING = ("{name}'s Gymnasium face needs Gymnasium's MuJoCo envs: "
                      "pip install -e \".[mujoco]\" ({error})")


class LocomotionTaskEnv(gym.Env[np.ndarray, np.ndarray]):
    """One environment of a locomotion family, for one task set by keyword arguments.

    :param render_mode: ``None`` or ``"rgb_array"`` (Gymnasium's MuJoCo renderer).
    :param normalize_actions: as the family's (the bounds are already ``[-1, 1]``).
    :param obs_norm: the family's fixed observation normalisation.
    :param task: task parameters by field name; unspecified ones take the family defaults.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 20}
    family_type: ClassVar[type[LocomotionFamily[Any]]]

    def __init__(self, render_mode: str | None = None, normalize_actions: bool = False,
                 obs_norm: bool = False, **task: Any) -> None:
        check_render_mode(render_mode, self.metadata["render_modes"])
        self.family = self.family_type(normalize_actions=normalize_actions, obs_norm=obs_norm)
        self.observation_space = self.family.observation_space
        self.action_space = self.family.action_space
        self.render_mode = render_mode
        self.params: TaskParams = self.family.make_params(1, dtype=torch.float64, **task)
        try:
            self.robot = gym.make(self.family.engine_id, render_mode=render_mode,
                                  **self.family.engine_kwargs).unwrapped
        except (ImportError, gym.error.DependencyNotInstalled) as err:
            raise ValueError(GYM_MUJOCO_MISSING.format(name=self.family.name, error=err)) from None
        self._started = False

    @property
    def task(self) -> dict[str, Any]:
        """The current task's parameters as plain Python values."""
        return self.params.to_list()[0]

    def set_task(self, **task: Any) -> None:
        """Change the task (takes effect immediately; unspecified fields take their defaults)."""
        self.params = self.family.make_params(1, dtype=torch.float64, **task)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode. ``options={"task": {...}}`` also changes the task."""
        super().reset(seed=seed)
        if options and "task" in options:
            self.set_task(**options["task"])
        obs, info = self.robot.reset(seed=int(self.np_random.integers(2**31 - 1)))
        self._started = True
        return self._obs(obs), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply ``action``; the reward is the task's (the robot's own is in
        ``info["robot_reward"]``)."""
        if not self._started:
            raise RuntimeError("step() called before reset()")
        action = check_actions(self.action_space, action, self.action_space.shape)
        applied = self.family.env_action(torch.as_tensor(action, dtype=torch.float64))
        obs, robot_reward, terminated, _, info = self.robot.step(applied.numpy())
        infos = {key: torch.tensor([[float(info[key])]], dtype=torch.float64)
                 for key in self.family.info_keys}
        reward = self.family.task_reward(infos, applied.reshape(1, 1, -1), self.params)
        info = {**info, "robot_reward": float(robot_reward)}
        return self._obs(obs), float(reward[0, 0]), bool(terminated), False, info

    def render(self) -> Any:
        """An RGB array of the robot when ``render_mode="rgb_array"``."""
        if self.render_mode is None:
            gym.logger.warn("render() called with render_mode=None; pass render_mode='rgb_array'")
            return None
        return self.robot.render()

    def close(self) -> None:
        """Close the robot's renderer."""
        self.robot.close()

    def _obs(self, obs: np.ndarray) -> np.ndarray:
        return self.family.observe_engine(np.asarray(obs, np.float64)).astype(np.float32)


class HalfCheetahVelEnv(LocomotionTaskEnv):
    """``metarl/HalfCheetahVel-v0``: HalfCheetah-v5 holding ``goal_velocity`` (``HalfCheetahVel``).

    :param goal_velocity: forward velocity to hold (m/s), in ``[0, 3]``.
    :param render_mode: ``None`` or ``"rgb_array"``.
    :param normalize_actions: actions in ``[-1, 1]`` (already the robot's bounds).
    :param obs_norm: the family's fixed observation normalisation.
    """

    family_type = HalfCheetahVel

    def __init__(self, goal_velocity: float = 1.0, render_mode: str | None = None,
                 normalize_actions: bool = False, obs_norm: bool = False) -> None:
        super().__init__(render_mode, normalize_actions, obs_norm, goal_velocity=goal_velocity)


class HalfCheetahDirEnv(LocomotionTaskEnv):
    """``metarl/HalfCheetahDir-v0``: HalfCheetah-v5 running in ``direction`` (``HalfCheetahDir``).

    :param direction: +1 (forward) or -1 (backward).
    :param render_mode: ``None`` or ``"rgb_array"``.
    :param normalize_actions: actions in ``[-1, 1]`` (already the robot's bounds).
    :param obs_norm: the family's fixed observation normalisation.
    """

    family_type = HalfCheetahDir

    def __init__(self, direction: float = 1.0, render_mode: str | None = None,
                 normalize_actions: bool = False, obs_norm: bool = False) -> None:
        super().__init__(render_mode, normalize_actions, obs_norm, direction=direction)


class AntDirEnv(LocomotionTaskEnv):
    """``metarl/AntDir-v0``: Ant-v5 walking in ``direction`` (``AntDir``).

    :param direction: +1 (forward) or -1 (backward).
    :param render_mode: ``None`` or ``"rgb_array"``.
    :param normalize_actions: actions in ``[-1, 1]`` (already the robot's bounds).
    :param obs_norm: the family's fixed observation normalisation.
    """

    family_type = AntDir

    def __init__(self, direction: float = 1.0, render_mode: str | None = None,
                 normalize_actions: bool = False, obs_norm: bool = False) -> None:
        super().__init__(render_mode, normalize_actions, obs_norm, direction=direction)
