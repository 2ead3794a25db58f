"""The environment-family interface: batched, pure torch dynamics over leading dims ``[T, E]``.

A family is written once as two pure functions over tensors whose leading dimensions are the task
batch ``T`` and the environments per task ``E``:

* :meth:`EnvFamily.reset` ``(params, num_envs, generator) -> state, obs``
* :meth:`EnvFamily.step` ``(state, action, params) -> state, obs, reward, terminated, truncated``

Task parameters have shape ``[T, ...]`` and broadcast over ``E``. Nothing in ``step`` reads a tensor
back to the host, so the same code runs on a GPU without synchronisation. Derived physical
quantities are computed from the parameters inside ``step``, never cached.

Actions are not checked here: a check would synchronise a GPU. A NaN action in this batched path
gives that environment a NaN state (Navigation2D: NaN observations and rewards until its episode
ends and it restarts); a policy only emits one when its parameters are NaN, which meta-training
catches after every adaptation (a ``FloatingPointError`` naming the task). The Gymnasium faces
check every action (:func:`check_actions`) and refuse a NaN, Inf or out-of-range one.

Auto-reset lives in :class:`metarl.envs.autoreset.AutoResetEnv`; the Gymnasium faces live in
:mod:`metarl.envs.gym_env` and :mod:`metarl.envs.vector_env`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Generic, NamedTuple, TypeVar

import gymnasium as gym
import numpy as np
import torch

from metarl.envs.task_params import TaskParams
from metarl.envs.task_sampler import TaskSampler
from metarl.envs.task_streams import AnyGenerator

P = TypeVar("P", bound=TaskParams)

# bound of an unbounded observation dimension (Gymnasium's check_env warns on infinite bounds)
FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_actions(space: gym.Space[Any], actions: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``actions`` as an array of ``shape`` (one of ``space``'s actions, or a batch of them), or
    a one-line ``ValueError`` naming the first bad one: a Box action must be finite (out of its
    bounds, it is clipped by the dynamics, as Gymnasium's envs do), a Discrete one an integer of
    the space."""
    array = np.asarray(actions)
    if array.shape != shape:
        if array.size != int(np.prod(shape)):
            raise ValueError(f"action has shape {array.shape}; expected {shape}")
        array = array.reshape(shape)
    if isinstance(space, gym.spaces.Discrete):
        start, n = int(space.start), int(space.n)
        valid = np.isfinite(array) & (array == np.round(array)) & (array >= start) & (
            array < start + n) if array.dtype.kind in "fiub" else np.zeros(shape, bool)
        problem = f"is not in {space}"
    else:
        valid = np.isfinite(array)
        problem = f"is not finite (NaN or Inf): an action of {space} must be a number"
    if not valid.all():
        batched = len(shape) > len(space.shape or ())
        if not batched:
            raise ValueError(f"action={array.tolist()!r} {problem}")
        env = int(np.flatnonzero(~valid.reshape(shape[0], -1).all(axis=1))[0])
        raise ValueError(f"action={array[env].tolist()!r} of env {env} {problem}")
    return array


class EnvState(NamedTuple):
    """State of ``T x E`` environments.

    :param x: physical state, ``[T, E, state_dim]``.
    :param t: steps taken in the current episode, ``[T, E]`` (int32).
    """

    x: torch.Tensor
    t: torch.Tensor


class StepResult(NamedTuple):
    """What one batched step returns; every tensor has leading dimensions ``[T, E]``.

    :param state: state after the step (no reset applied).
    :param obs: observation of that state, ``[T, E, obs_dim]``.
    :param reward: reward of the step, ``[T, E]``.
    :param terminated: the episode reached a terminal state (no bootstrapping), ``[T, E]`` bool.
    :param truncated: the episode hit the step limit (bootstrap from ``obs``), ``[T, E]`` bool.
        Both flags can be true on the same step, as in Gymnasium's ``TimeLimit``.
    """

    state: EnvState
    obs: torch.Tensor
    reward: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor


class EnvFamily(ABC, Generic[P]):
    """A parametrized family of environments (a task distribution) with batched torch dynamics.

    Subclasses set the class attributes and implement :meth:`initial_state` and :meth:`dynamics`.

    :param max_episode_steps: step limit after which an episode is truncated; ``None`` for none
        (the Gymnasium single-env adapter leaves the limit to ``TimeLimit``).
    :param split_seed: seed of the fixed validation and test task splits.
    :param ranges: overrides of the sampling ranges, ``{field: (low, high)}``.
    :param normalize_actions: take actions in ``[-1, 1]`` per component (a Box family only) and
        map them affinely to the action space's bounds, ``low + (a + 1) (high - low) / 2``, then
        clip to the bounds: rllab's ``normalize`` wrapper, under which MAML's released code ran its
        environments. The family's ``action_space`` is then ``Box(-1, 1)``; the dynamics see the
        mapped actions.
    """

    name: ClassVar[str]
    gym_id: ClassVar[str]
    params_type: ClassVar[type[TaskParams]]
    default_max_episode_steps: ClassVar[int]
    default_split_sizes: ClassVar[dict[str, int]] = {"val": 40, "test": 40}
    observation_space: ClassVar[gym.spaces.Box]
    action_space: gym.Space[Any]  # the class's; an instance with normalize_actions has Box(-1, 1)
    description: ClassVar[str] = ""
    # mean episode return at which a task counts as solved (Gymnasium's ``reward_threshold``);
    # ``None`` where the family has none
    reward_threshold: ClassVar[float | None] = None

    def __init__(
        self,
        max_episode_steps: int | None = -1,
        split_seed: int = 0,
        ranges: dict[str, tuple[float, float]] | None = None,
        normalize_actions: bool = False,
    ) -> None:
        if max_episode_steps == -1:
            max_episode_steps = self.default_max_episode_steps
        if max_episode_steps is not None and (
            not isinstance(max_episode_steps, int) or max_episode_steps <= 0
        ):
            raise ValueError(
                f"{self.name}: max_episode_steps={max_episode_steps!r} must be a positive integer"
            )
        self.max_episode_steps = max_episode_steps
        self.tasks = TaskSampler(self.params_type, split_seed=split_seed, ranges=ranges)
        self.normalize_actions = normalize_actions
        self._action_map: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor] | None
        self._action_map = None
        if normalize_actions:
            space = type(self).action_space
            if not isinstance(space, gym.spaces.Box):
                raise ValueError(f"{self.name}: normalize_actions=True needs a Box action space; "
                                 f"this family's is {space}")
            low, high = (torch.as_tensor(b, dtype=torch.float64) for b in (space.low, space.high))
            if not (torch.isfinite(low).all() and torch.isfinite(high).all()):
                raise ValueError(f"{self.name}: normalize_actions=True needs finite action "
                                 f"bounds; this family's are {space}")
            self._action_map = (low, high, (low + high) / 2, (high - low) / 2)
            self.action_space = gym.spaces.Box(-1.0, 1.0, space.shape, np.float32)

    # ------------------------------------------------------------------ dynamics (per family)
    @abstractmethod
    def initial_state(self, params: P, num_envs: int, generator: AnyGenerator
                      ) -> torch.Tensor:
        """Physical state at the start of an episode, ``[T, num_envs, state_dim]``."""

    @abstractmethod
    def dynamics(
        self, x: torch.Tensor, action: torch.Tensor, params: P
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One transition: ``(x_next, reward, terminated)`` from state ``x`` and ``action``."""

    def observe(self, x: torch.Tensor, params: P) -> torch.Tensor:
        """Observation of physical state ``x`` (the state itself unless a family says otherwise)."""
        return x

    # ------------------------------------------------------------------ batched API
    def reset(
        self, params: P, num_envs: int, generator: AnyGenerator = None
    ) -> tuple[EnvState, torch.Tensor]:
        """Start ``num_envs`` episodes for each task: ``(state, obs)`` with leading dims ``[T, E]``.

        :param params: ``T`` tasks.
        :param num_envs: environments per task ``E``.
        :param generator: random generator on ``params.device`` for the start-state noise.
        """
        x = self.initial_state(params, num_envs, generator)
        t = torch.zeros(x.shape[:2], dtype=torch.int32, device=x.device)
        return EnvState(x, t), self.observe(x, params)

    def step(self, state: EnvState, action: torch.Tensor, params: P) -> StepResult:
        """Advance all ``T x E`` environments by one step (no auto-reset; see ``AutoResetEnv``).

        :param state: current state, leading dims ``[T, E]``.
        :param action: ``[T, E, *action_shape]`` (float for Box, integer for Discrete).
        :param params: ``T`` tasks; each broadcasts over its ``E`` environments.
        """
        x, reward, terminated = self.dynamics(state.x, self.env_action(action), params)
        t = state.t + 1
        if self.max_episode_steps is None:
            truncated = torch.zeros_like(terminated)
        else:
            truncated = t >= self.max_episode_steps
        return StepResult(EnvState(x, t), self.observe(x, params), reward, terminated, truncated)

    def env_action(self, action: torch.Tensor) -> torch.Tensor:
        """The action the dynamics take: ``action`` itself, or with ``normalize_actions`` its
        map from ``[-1, 1]`` to the action space's bounds, clipped to them."""
        if self._action_map is None:
            return action
        low, high, mid, half = (b.to(device=action.device, dtype=action.dtype)
                                for b in self._action_map)
        return torch.minimum(torch.maximum(mid + action * half, low), high)

    # ------------------------------------------------------------------ tasks
    def make_params(
        self,
        num_tasks: int | None = None,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        **values: Any,
    ) -> P:
        """Task parameters from plain values; unspecified fields take their defaults."""
        return self.params_type.create(num_tasks, device=device, dtype=dtype, **values)  # type: ignore[return-value]

    def frame(self, x: np.ndarray, task: dict[str, Any]) -> np.ndarray:
        """An RGB picture (``uint8 [H, W, 3]``) of one environment's physical state ``x``."""
        raise NotImplementedError(f"{self.name} has no rendering")

    def obs_dim(self) -> int:
        """Size of one observation vector."""
        return int(self.observation_space.shape[0])

    def __repr__(self) -> str:
        extra = ", normalize_actions=True" if self.normalize_actions else ""
        return f"{type(self).__name__}(max_episode_steps={self.max_episode_steps}{extra})"

