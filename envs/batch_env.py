"""The one place that builds the batched environments of a family: ``T`` tasks x ``E`` envs.

Families with pure torch dynamics run in :class:`~metarl.envs.autoreset.AutoResetEnv`; the MuJoCo
locomotion families run on envpool's engine, in :class:`~metarl.envs.envpool_env.EnvPoolEnv`.
Both have the same face (``reset``, ``step`` returning a ``Transition``, ``num_tasks``,
``num_envs``, ``params``), so rollouts and learners take either.
"""

from __future__ import annotations

from typing import Any

from metarl.envs.autoreset import AutoResetEnv
from metarl.envs.envpool_env import EnvPoolEnv
from metarl.envs.family import EnvFamily
from metarl.envs.locomotion import LocomotionFamily
from metarl.envs.task_params import TaskParams
from metarl.envs.task_streams import AnyGenerator

BatchEnv = AutoResetEnv | EnvPoolEnv


def make_batch_env(family: EnvFamily[Any], params: TaskParams, num_envs: int,
                   generator: AnyGenerator = None, **options: Any) -> BatchEnv:
    """``num_envs`` auto-resetting environments for each of the ``T`` tasks in ``params``.

    :param family: the environment family.
    :param params: ``T`` tasks.
    :param num_envs: environments per task ``E``.
    :param generator: random generator for start states (or a ``TaskShard``).
    :param options: ``AutoResetEnv``'s ``dense_reset`` and ``compile`` (torch families only).
    """
    if isinstance(family, LocomotionFamily):
        if options:
            raise ValueError(f"{family.name} runs on envpool: {', '.join(options)} do not apply")
        return EnvPoolEnv(family, params, num_envs, generator)
    return AutoResetEnv(family, params, num_envs, generator, **options)
