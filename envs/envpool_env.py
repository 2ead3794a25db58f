"""``T`` tasks x ``E`` environments of a locomotion family, stepped by one envpool pool.

The locomotion tasks differ only in their reward, so one pool of ``T * E`` MuJoCo environments
(envpool's C++ thread pool) serves a whole meta-batch: environment ``e`` of task ``t`` is the
pool's environment ``t * E + e``. Each step sends the stacked actions to the pool, reads the
engine's infos (``x_velocity``, ``reward_contact``, ...) and computes every task's reward from
them with the family's :meth:`~metarl.envs.locomotion.LocomotionFamily.task_reward`.

The class has :class:`~metarl.envs.autoreset.AutoResetEnv`'s face (``reset`` and ``step`` returning
a :class:`~metarl.envs.autoreset.Transition`), so the rollout, PPO and VPG run on it unchanged.
An environment whose episode ends is reset in the same call (envpool's own auto-reset would spend
the next step on it). Start states are drawn by the engine from per-environment seeds, themselves
drawn from the caller's generator when the pool is built at the first :meth:`reset`: the same
generator gives the same episodes, and with a :class:`~metarl.envs.task_streams.TaskShard` or
:class:`~metarl.envs.task_streams.TaskBlocks` a task's seeds do not depend on how the batch is laid
out. Learners build one environment per adaptation,
so a run resumed from a checkpoint (taken between adaptations) replays the same episodes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from metarl.envs.autoreset import Transition
from metarl.envs.locomotion import LocomotionFamily, make_pool
from metarl.envs.task_params import TaskParams
from metarl.envs.task_streams import AnyGenerator, draw

SEED_RANGE = 2**31 - 1  # envpool seeds are int32


class EnvPoolEnv:
    """``T`` tasks x ``E`` environments of ``family`` that reset themselves when an episode ends.

    :param family: a locomotion family.
    :param params: ``T`` tasks.
    :param num_envs: environments per task ``E``.
    :param generator: random generator for the engine's per-environment seeds (``None``: torch's
        global one), a :class:`~metarl.envs.task_streams.TaskShard` or
        :class:`~metarl.envs.task_streams.TaskBlocks`.
    """

    def __init__(self, family: LocomotionFamily[Any], params: TaskParams, num_envs: int,
                 generator: AnyGenerator = None) -> None:
        if not isinstance(num_envs, int) or num_envs <= 0:
            raise ValueError(f"num_envs={num_envs!r} must be a positive integer")
        self.family = family
        self.params = params
        self.num_envs = num_envs
        self.generator = generator
        self._pool: Any = None
        self._info: dict[str, Any] = {}
        self._order: np.ndarray | None = None
        self._return: torch.Tensor | None = None
        self._length: torch.Tensor | None = None

    @property
    def num_tasks(self) -> int:
        """Number of tasks ``T``."""
        return self.params.num_tasks

    def _seeds(self, generators: list[torch.Generator] | None) -> list[int]:
        """One engine seed per environment, ``T * E``, in pool order."""
        shape = (self.num_tasks, self.num_envs)
        if generators is None:
            seeds = draw(self.generator, shape, lambda s, g: torch.randint(
                SEED_RANGE, s, generator=g, device=g.device if g is not None else "cpu"))
        else:
            if len(generators) != self.num_tasks:
                raise ValueError(f"{len(generators)} generators for {self.num_tasks} tasks: give "
                                 "one per task")
            seeds = torch.cat([torch.randint(SEED_RANGE, (1, self.num_envs), generator=g,
                                             device=g.device).cpu() for g in generators])
        return seeds.reshape(-1).tolist()

    def reset(self, params: TaskParams | None = None,
              generators: list[torch.Generator] | None = None) -> torch.Tensor:
        """Start fresh episodes in every environment (optionally for new tasks); returns obs.

        The first call builds the pool (a few hundred ms for a few hundred robots), with engine
        seeds drawn from :attr:`generator`; later calls restart the same pool, each environment
        drawing its start from its own seeded stream, unless ``generators`` are given or the
        number of tasks changes.

        :param generators: one per task: its environments' engine seeds are drawn from it.
        """
        resized = params is not None and params.num_tasks != self.num_tasks
        if params is not None:
            self.params = params
        if self._pool is None or resized or generators is not None:
            self.close()
            self._pool = make_pool(self.family, self._seeds(generators))
        obs, self._info = self._pool.reset()
        self._order = self._pool_order(self._info["env_id"])
        shape = (self.num_tasks, self.num_envs)
        self._return = torch.zeros(shape, dtype=self.params.dtype, device=self.params.device)
        self._length = torch.zeros(shape, dtype=torch.int32, device=self.params.device)
        return self._tensor(self.family.observe_engine(self._pick(obs)))

    def step(self, action: torch.Tensor) -> Transition:
        """Step every environment, reset those whose episode ended, and report the transition."""
        if self._pool is None or self._return is None or self._length is None:
            raise RuntimeError("EnvPoolEnv.step() called before reset()")
        family = self.family
        engine_action = family.env_action(action)
        flat = engine_action.detach().reshape(-1, *family.action_space.shape)
        obs, _, terminated, truncated, self._info = self._pool.step(
            flat.to("cpu", torch.float64).numpy())
        self._order = self._pool_order(self._info["env_id"])
        infos = {key: self._tensor(self._pick(self._info[key])) for key in family.info_keys}
        reward = family.task_reward(infos, engine_action, self.params)
        ended = self._pick(terminated), self._pick(truncated)
        final = family.observe_engine(self._pick(obs))
        final_obs = next_obs = self._tensor(final)
        done_ids = np.flatnonzero(ended[0] | ended[1])
        if done_ids.size:  # start new episodes now (envpool would spend the next step on it)
            fresh, fresh_info = self._pool.reset(env_id=done_ids.astype(np.int32))
            restarted = final.copy()
            restarted[np.asarray(fresh_info["env_id"])] = family.observe_engine(fresh)
            next_obs = self._tensor(restarted)
        term, trunc = (self._tensor(flag) for flag in ended)
        done = term | trunc
        running = self._return + reward
        length = self._length + 1
        self._return = torch.where(done, 0.0, running)
        self._length = torch.where(done, 0, length)
        return Transition(obs=next_obs, reward=reward, terminated=term, truncated=trunc,
                          final_obs=final_obs, episode_return=torch.where(done, running, 0.0),
                          episode_length=torch.where(done, length, 0))

    @property
    def info(self) -> dict[str, np.ndarray]:
        """The engine's infos of the last ``step`` (or ``reset``), each ``[T, E]`` in task order
        (``x_position``, ``x_velocity``, ...; for an episode that ended, its last step's)."""
        count = len(self._info["env_id"]) if self._info else 0
        return {key: self._pick(value).reshape(self.num_tasks, self.num_envs)
                for key, value in self._info.items() if key not in ("env_id", "players")
                and np.ndim(value) == 1 and len(value) == count}

    def close(self) -> None:
        """Shut the pool's threads down."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    @staticmethod
    def _pool_order(ids: Any) -> np.ndarray | None:
        """The permutation that puts the engine's rows in pool order (``None``: already so)."""
        ids = np.asarray(ids)
        return None if np.array_equal(ids, np.arange(ids.size)) else np.argsort(ids)

    def _pick(self, values: Any) -> np.ndarray:
        """The engine's per-environment ``values`` in pool order."""
        values = np.asarray(values)
        return values if self._order is None else values[self._order]

    def _tensor(self, values: np.ndarray) -> torch.Tensor:
        """Per-environment values ``[T * E, ...]`` as a tensor ``[T, E, ...]`` of the tasks'
        dtype (booleans stay booleans) on their device."""
        dtype = torch.bool if values.dtype == np.bool_ else self.params.dtype
        tensor = torch.as_tensor(values, dtype=dtype, device=self.params.device)
        return tensor.reshape(self.num_tasks, self.num_envs, *values.shape[1:])
