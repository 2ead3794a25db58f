"""MuJoCo locomotion families: tasks that change a robot's reward, on envpool's batched engine.

HalfCheetahVel, HalfCheetahDir and AntDir (MAML, Finn et al. 2017, section 5.3 and Fig. 5) keep
the robot's dynamics and change only what it is rewarded for. Their dynamics are Gymnasium's
``HalfCheetah-v5`` and ``Ant-v5``, stepped by envpool (``pip install -e ".[mujoco]"``), which runs a
pool of MuJoCo environments on C++ threads: one pool of ``T x E`` environments serves a whole
meta-batch (:class:`~metarl.envs.envpool_env.EnvPoolEnv`). A family turns the engine's per-step
infos (``x_velocity``, ``reward_contact``, ...) and the action into each task's reward with the
pure torch function :meth:`LocomotionFamily.task_reward`; the single-env Gymnasium faces
(:mod:`metarl.envs.gym_locomotion`) compute it with the same function from Gymnasium's own env.

Differences from MAML's rllab environments, the same for every family here: the robots are
Gymnasium v5's models (rllab's HalfCheetah is the same MJCF; its Ant differs in detail); the
observation is Gymnasium's (HalfCheetah 17 numbers, Ant 105 with the contact forces, the x and y
position left out) where rllab's added the torso's centre of mass; the forward velocity is
Gymnasium's ``x_velocity``, the finite difference of the root's x position over a control step
(ProMP's and garage's choice), where rllab read the torso's centre-of-mass velocity; the start
state is Gymnasium's (uniform noise of scale 0.1 on positions, Gaussian on velocities).

**Observation normalisation.** ``obs_norm=True`` shifts and scales every observation by fixed
statistics (:func:`observation_statistics`): the mean and standard deviation of the observations
of a uniform random policy on training tasks, computed once from a fixed seed. They do not change
during meta-training or between tasks, so every task's adapted policy and the shared
initialisation read the same inputs; a running normaliser would move the inputs under the
initialisation from one task to the next.

The batched ``reset``/``step`` of :class:`~metarl.envs.family.EnvFamily` do not exist here (the
state lives in the engine): build the environments with
:func:`~metarl.envs.batch_env.make_batch_env`.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from abc import abstractmethod
from typing import Any, ClassVar, TypeVar

import gymnasium as gym
import numpy as np
import torch

from metarl.envs.family import FLOAT32_MAX, EnvFamily
from metarl.envs.task_params import TaskParams
from metarl.envs.task_streams import AnyGenerator

P = TypeVar("P", bound=TaskParams)
ENGINE_MISSING = ("{name} runs on envpool's MuJoCo engine, which is not installed: "
                  "pip install -e \".[mujoco]\" (or pip install \"metarl[mujoco]\")")
NORM_TASKS, NORM_ENVS, NORM_STEPS, NORM_SEED = 8, 8, 200, 0  # observation_statistics' sample
OBS_CLIP = 10.0  # normalised observations are clipped to [-OBS_CLIP, OBS_CLIP]


def engine_available() -> bool:
    """Whether envpool (the ``[mujoco]`` extra) is installed (without importing it)."""
    return importlib.util.find_spec("envpool") is not None


def _envpool(name: str) -> Any:
    """The envpool module, imported on first use: importing it takes about a second, which every
    ``metarl`` command would otherwise pay; a one-line error naming the extra when it is
    missing (``name``: the family that needs it)."""
    if not engine_available():
        raise ValueError(ENGINE_MISSING.format(name=name))
    return importlib.import_module("envpool")


class LocomotionFamily(EnvFamily[P]):
    """A family of reward functions over one MuJoCo robot (see the module docstring).

    Subclasses set the class attributes and implement :meth:`task_reward`.

    :param max_episode_steps: episode length (200, as in MAML's experiments).
    :param split_seed: seed of the fixed validation and test task splits.
    :param ranges: overrides of the sampling ranges, ``{field: (low, high)}``.
    :param normalize_actions: as :class:`~metarl.envs.family.EnvFamily` (the robots' bounds are
        already ``[-1, 1]``, so this changes nothing but the clipping).
    :param obs_norm: shift and scale observations by :func:`observation_statistics`.
    :param pin_threads: pin the engine's threads to the machine's cores, one each from core 0
        (envpool's ``thread_affinity_offset=0``). Faster when this process is the only one
        stepping a pool (``experiments/bench_locomotion.py``); processes side by side
        (``run.jobs``, ``--seeds ... --jobs``, ``torchrun``) each pin theirs to the same cores,
        where a first probe found no gain. It changes no result: each environment's episodes
        depend only on its seed.
    :raises ValueError: envpool is not installed (one line naming the extra), or ``pin_threads``
        is not a bool.
    """

    engine_id: ClassVar[str]  # envpool's and Gymnasium's id of the robot, e.g. "HalfCheetah-v5"
    engine_kwargs: ClassVar[dict[str, Any]] = {}
    info_keys: ClassVar[tuple[str, ...]]  # the engine infos task_reward reads
    default_max_episode_steps = 200

    def __init__(
        self,
        max_episode_steps: int | None = -1,
        split_seed: int = 0,
        ranges: dict[str, tuple[float, float]] | None = None,
        normalize_actions: bool = False,
        obs_norm: bool = False,
        pin_threads: bool = False,
    ) -> None:
        if not engine_available():
            raise ValueError(ENGINE_MISSING.format(name=self.name))
        super().__init__(max_episode_steps, split_seed, ranges, normalize_actions)
        if max_episode_steps is None:
            raise ValueError(f"{self.name}: max_episode_steps=None is not supported: the engine "
                             "needs an episode length")
        if not isinstance(pin_threads, bool):
            raise ValueError(f"{self.name}: pin_threads={pin_threads!r} must be true or false")
        self.obs_norm = obs_norm
        self.pin_threads = pin_threads
        self.obs_stats = observation_statistics(type(self)) if obs_norm else None

    # ------------------------------------------------------------------ the task's reward
    @abstractmethod
    def task_reward(self, info: dict[str, torch.Tensor], action: torch.Tensor, params: P
                    ) -> torch.Tensor:
        """Each environment's reward ``[T, E]`` for its task.

        :param info: the engine's infos named in :attr:`info_keys`, each ``[T, E]``.
        :param action: the action the engine applied, ``[T, E, action_dim]``.
        :param params: ``T`` tasks.
        """

    # ------------------------------------------------------------------ observations
    def observe_engine(self, obs: np.ndarray) -> np.ndarray:
        """The engine's observations ``[..., obs_dim]`` as this family's (normalised with
        ``obs_norm``)."""
        if self.obs_stats is None:
            return obs
        mean, std = self.obs_stats
        return np.clip((obs - mean) / std, -OBS_CLIP, OBS_CLIP)

    # ------------------------------------------------------------------ no pure dynamics
    def initial_state(self, params: P, num_envs: int, generator: AnyGenerator) -> torch.Tensor:
        """Not available: the state lives in the engine (use ``make_batch_env``)."""
        raise NotImplementedError(f"{self.name} runs on envpool: build its environments with "
                                  "metarl.envs.make_batch_env")

    def dynamics(self, x: torch.Tensor, action: torch.Tensor, params: P
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Not available: the state lives in the engine (use ``make_batch_env``)."""
        raise NotImplementedError(f"{self.name} runs on envpool: build its environments with "
                                  "metarl.envs.make_batch_env")

    def __repr__(self) -> str:
        extra = ", obs_norm=True" if self.obs_norm else ""
        extra += ", pin_threads=True" if self.pin_threads else ""
        return super().__repr__()[:-1] + extra + ")"


def box(dim: int) -> gym.spaces.Box:
    """An unbounded float32 observation space of ``dim`` numbers (finite bounds for
    ``check_env``)."""
    return gym.spaces.Box(-FLOAT32_MAX, FLOAT32_MAX, (dim,), np.float32)


def torques(dim: int) -> gym.spaces.Box:
    """A robot's action space: ``dim`` torques in ``[-1, 1]``."""
    return gym.spaces.Box(-1.0, 1.0, (dim,), np.float32)


def control_cost(action: torch.Tensor, weight: float) -> torch.Tensor:
    """``weight * |clip(a, -1, 1)|^2`` per environment, ``[T, E]`` (the robots' bounds are
    ``[-1, 1]``; MuJoCo clips the control to them, and so does the cost, as rllab's did)."""
    return weight * action.clamp(-1.0, 1.0).square().sum(dim=-1)


def make_pool(family: LocomotionFamily[Any], seeds: list[int]) -> Any:
    """An envpool pool of ``len(seeds)`` environments of ``family``'s robot, environment ``i``
    seeded with ``seeds[i]``, truncating episodes at the family's length, its threads pinned to
    the cores under ``family.pin_threads``."""
    return _envpool(family.name).make_gymnasium(
        family.engine_id, num_envs=len(seeds), env_seed=seeds,
        max_episode_steps=family.max_episode_steps,
        thread_affinity_offset=0 if family.pin_threads else -1,
        **family.engine_kwargs)


@functools.cache
def observation_statistics(family_type: type[LocomotionFamily[Any]]
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (at least 1e-2 per component, float64) of the observations a
    uniform random policy sees on training tasks of ``family_type``, from a fixed seed: fixed
    numbers for a given engine version, computed once per process (a second or so)."""
    family = family_type()
    generator = np.random.default_rng(NORM_SEED)
    seeds = generator.integers(2**31 - 1, size=NORM_TASKS * NORM_ENVS).tolist()
    pool = make_pool(family, seeds)
    obs, _ = pool.reset()
    seen = [obs]
    shape = (len(seeds), *family.action_space.shape)
    for _ in range(NORM_STEPS - 1):
        obs, _, _, _, _ = pool.step(generator.uniform(-1.0, 1.0, shape))
        seen.append(obs)
    pool.close()
    stacked = np.concatenate(seen)
    return stacked.mean(axis=0), np.maximum(stacked.std(axis=0), 1e-2)
