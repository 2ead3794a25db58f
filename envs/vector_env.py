"""Gymnasium ``VectorEnv`` faces of the batched families, with one task per sub-environment.

Registered as the ids' ``vector_entry_point``, so
``gym.make_vec("metarl/CartPoleMass-v0", num_envs=64, vectorization_mode="vector_entry_point",
masspole=masses)`` steps 64 environments in one batched torch call. A task parameter given as one
value applies to every sub-environment; given as a sequence of ``num_envs`` values, one each.

Auto-reset follows one of Gymnasium 1.x's modes (``autoreset_mode``, in ``metadata`` too):

* ``SAME_STEP`` (the default): an environment whose episode ended returns the first observation
  of its next episode, and ``info["final_obs"][i]`` (where ``info["_final_obs"][i]``) holds the
  observation that ended it; ``info["episode"]`` holds the ended episodes' return and length.
  ``info["final_obs"]`` is a dense float array (Gymnasium's own vector envs use an object array
  with ``None`` elsewhere): read it through the mask.
* ``NEXT_STEP``: the step that ends an episode returns its last observation; the next step
  ignores that environment's action, restarts it and returns the first observation of its next
  episode with reward 0 and neither flag set. Gymnasium's stateful vector wrappers
  (``NormalizeObservation``, ``NormalizeReward``, ``RecordEpisodeStatistics``) need this mode.

``reset(seed=[s_0, ..., s_{n-1}])`` draws each sub-environment's start state from its own seed
(later restarts draw from one generator seeded ``s_0``); ``reset(seed=s)`` seeds them all at once.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from metarl.envs.autoreset import AutoResetEnv
from metarl.envs.cartpole_direction import CartPoleDirection
from metarl.envs.cartpole_mass import CartPoleMass
from metarl.envs.family import EnvFamily, check_actions
from metarl.envs.navigation2d import Navigation2D
from metarl.envs.render import check_render_mode


class TaskVectorEnv(gym.vector.VectorEnv[np.ndarray, np.ndarray, np.ndarray]):
    """``num_envs`` environments of a family, each with its own task, stepped as one batch.

    :param num_envs: number of sub-environments (one task each).
    :param max_episode_steps: step limit (``None``: the family's default).
    :param device: torch device that runs the dynamics; arrays in and out are numpy.
    :param render_mode: ``None`` or ``"rgb_array"`` (renders the first sub-environment).
    :param autoreset_mode: ``AutoresetMode.SAME_STEP`` or ``NEXT_STEP`` (or their names).
    :param normalize_actions: actions in ``[-1, 1]``, mapped to the family's bounds
        (:class:`~metarl.envs.family.EnvFamily`).
    :param task: task parameters: a single value for all or ``num_envs`` values.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["rgb_array"],
        "render_fps": 50,
        "autoreset_mode": AutoresetMode.SAME_STEP,
    }
    family_type: ClassVar[type[EnvFamily[Any]]]

    def __init__(
        self,
        num_envs: int = 1,
        max_episode_steps: int | None = None,
        device: str | torch.device = "cpu",
        render_mode: str | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.SAME_STEP,
        normalize_actions: bool = False,
        **task: Any,
    ) -> None:
        if not isinstance(num_envs, int) or num_envs <= 0:
            raise ValueError(f"num_envs={num_envs!r} must be a positive integer")
        modes = (AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP)
        mode = next((m for m in modes if autoreset_mode in (m, m.value, m.name)), None)
        if mode is None:
            raise ValueError(f"autoreset_mode={autoreset_mode!r} must be one of "
                             f"{', '.join(m.name for m in modes)}")
        self.autoreset_mode = mode
        self.metadata = {**self.metadata, "autoreset_mode": mode}
        self._pending = np.zeros(num_envs, dtype=bool)  # NEXT_STEP: ended, restart next step
        check_render_mode(render_mode, self.metadata["render_modes"])
        self.family = self.family_type(
            max_episode_steps=-1 if max_episode_steps is None else max_episode_steps,
            normalize_actions=normalize_actions,
        )
        self.num_envs = num_envs
        self.device = torch.device(device)
        self.render_mode = render_mode
        self.single_observation_space = self.family.observation_space
        self.single_action_space = self.family.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        params = self.family.make_params(num_envs, device=self.device, **task)
        self._generator = torch.Generator(device=self.device)
        self._generator.seed()
        self._env = AutoResetEnv(self.family, params, 1, self._generator)

    @property
    def tasks(self) -> list[dict[str, Any]]:
        """Each sub-environment's task parameters as plain Python values."""
        return self._env.params.to_list()

    def set_tasks(self, **task: Any) -> None:
        """Change the tasks (one value for all, or ``num_envs`` values) from the next step on.

        ``reset(options={"task": {...}})`` changes them at an episode boundary instead.
        """
        self._env.params = self.family.make_params(self.num_envs, device=self.device, **task)

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every sub-environment (``seed``: one for all, or one each; see the module
        docstring). ``options={"task": {...}}`` also changes the tasks."""
        seeds = None
        if isinstance(seed, list | tuple):
            if len(seed) != self.num_envs:
                raise ValueError(f"seed has {len(seed)} values for {self.num_envs} "
                                 "sub-environments: give one seed, or one each")
            seeds, seed = [int(s) for s in seed], seed[0]
        super().reset(seed=seed)
        if seed is not None:
            self._generator.manual_seed(int(seed))
        if options and "task" in options:
            self.set_tasks(**options["task"])
        self._pending[:] = False
        generators = None
        if seeds is not None:
            generators = [torch.Generator(device=self.device).manual_seed(s) for s in seeds]
        return self._numpy(self._env.reset(generators=generators)), {}

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step all sub-environments; ended episodes restart in the same call (``SAME_STEP``)."""
        actions = check_actions(self.single_action_space, actions,
                                (self.num_envs, *self.single_action_space.shape))
        a = torch.as_tensor(actions, device=self.device)
        a = a.reshape(self.num_envs, 1, *self.single_action_space.shape)
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            return self._step_next(a)
        tr = self._env.step(a)
        terminated = tr.terminated[:, 0].cpu().numpy()
        truncated = tr.truncated[:, 0].cpu().numpy()
        info: dict[str, Any] = {}
        done = terminated | truncated
        if done.any():
            info = {
                "final_obs": self._numpy(tr.final_obs),
                "_final_obs": done,
                "episode": {
                    "r": tr.episode_return[:, 0].cpu().numpy(),
                    "l": tr.episode_length[:, 0].cpu().numpy(),
                },
                "_episode": done,
            }
        reward = tr.reward[:, 0].to(torch.float64).cpu().numpy()
        return self._numpy(tr.obs), reward, terminated, truncated, info

    def _step_next(self, a: torch.Tensor
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """A ``NEXT_STEP`` step: the batched env restarts ended episodes at once, so a
        sub-environment that ended last step is held at its new start state (its action
        ignored) and reports it, and one that ends now reports its last observation."""
        before, running = self._env.state, self._env._return
        assert before is not None and running is not None
        tr = self._env.step(a)
        pending = torch.as_tensor(self._pending, device=self.device)
        after = self._env.state
        assert after is not None
        held = pending.view(-1, 1)
        self._env.state = type(after)(torch.where(held.unsqueeze(-1), before.x, after.x),
                                      torch.where(held, before.t, after.t))
        self._env._return = torch.where(held, running, self._env._return)
        start_obs = self.family.observe(before.x, self._env.params)
        obs = torch.where(held.unsqueeze(-1), start_obs, tr.final_obs)
        terminated = (tr.terminated[:, 0] & ~pending).cpu().numpy()
        truncated = (tr.truncated[:, 0] & ~pending).cpu().numpy()
        reward = torch.where(pending, 0.0, tr.reward[:, 0]).to(torch.float64).cpu().numpy()
        self._pending = terminated | truncated
        return self._numpy(obs), reward, terminated, truncated, {}

    def render(self) -> np.ndarray | None:
        """An RGB array of the first sub-environment when ``render_mode="rgb_array"``."""
        if self.render_mode is None or self._env.state is None:
            return None
        x = self._env.state.x[0, 0].detach().cpu().double().numpy()
        return self.family.frame(x, self.tasks[0])

    @staticmethod
    def _numpy(obs: torch.Tensor) -> np.ndarray:
        return obs[:, 0].detach().cpu().numpy().astype(np.float32)  # a copy, never a view


class Navigation2DVectorEnv(TaskVectorEnv):
    """Vectorised ``metarl/Navigation2D-v0``; ``goal`` is ``(x, y)`` or ``[num_envs, 2]``."""

    family_type = Navigation2D


class CartPoleMassVectorEnv(TaskVectorEnv):
    """Vectorised ``metarl/CartPoleMass-v0``; each physics field is a scalar or ``[num_envs]``."""

    family_type = CartPoleMass


class CartPoleDirectionVectorEnv(TaskVectorEnv):
    """Vectorised ``metarl/CartPoleDirection-v0``; each field is a scalar or ``[num_envs]``."""

    family_type = CartPoleDirection
