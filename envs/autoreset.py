"""Auto-reset for batched environment families, with ``torch.where`` and no Python loop over envs.

After each step, every environment whose episode ended (terminated or truncated) starts a new
episode in the same call. The observation that ended the episode is kept in
:attr:`Transition.final_obs`, so a learner can bootstrap the value of a truncated episode.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from metarl.envs.family import EnvFamily, EnvState
from metarl.envs.task_params import TaskParams
from metarl.envs.task_streams import AnyGenerator, TaskShard, draw_rows


class Transition(NamedTuple):
    """One auto-reset step of ``T x E`` environments; every tensor leads with ``[T, E]``.

    :param obs: next observation to act on: the first observation of a new episode where the
        previous one ended, else the observation after the step.
    :param reward: reward of the step.
    :param terminated: the episode ended in a terminal state (value 0 after it).
    :param truncated: the episode hit the step limit (bootstrap from ``final_obs``).
    :param final_obs: observation after the step, before any reset.
    :param episode_return: undiscounted return of the episode that ended here (0 where none did).
    :param episode_length: length of the episode that ended here (0 where none did).
    """

    obs: torch.Tensor
    reward: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    final_obs: torch.Tensor
    episode_return: torch.Tensor
    episode_length: torch.Tensor


class AutoResetEnv:
    """``T`` tasks x ``E`` environments of one family that reset themselves when an episode ends.

    :param family: the environment family.
    :param params: ``T`` tasks.
    :param num_envs: environments per task ``E``.
    :param generator: random generator on ``params.device`` for start states (``None``: global).
    :param dense_reset: draw a start state for every env at every step and keep the needed ones
        with ``torch.where`` (no host synchronisation: the default off the CPU), rather than only
        for the envs whose episode ended (the default on the CPU, where random numbers are the
        most expensive part of a step and reading ``done`` costs nothing). Always dense with a
        :class:`~metarl.envs.task_streams.TaskShard`: a sparse restart's draws depend on which
        envs of the whole meta-batch ended, which one process cannot see. With
        :class:`~metarl.envs.task_streams.TaskBlocks`, each block restarts from its own
        generator.
    :param compile: run the step through ``torch.compile`` (implies ``dense_reset``): one fused
        kernel instead of some 40 small ones, worth it for a few thousand envs on a CPU; the first
        step of each new shape compiles for a few seconds and needs a C++ compiler on the CPU.
    """

    def __init__(
        self,
        family: EnvFamily[Any],
        params: TaskParams,
        num_envs: int,
        generator: AnyGenerator = None,
        dense_reset: bool | None = None,
        compile: bool = False,
    ) -> None:
        if not isinstance(num_envs, int) or num_envs <= 0:
            raise ValueError(f"num_envs={num_envs!r} must be a positive integer")
        self.family = family
        self.params = params
        self.num_envs = num_envs
        self.generator = generator
        if isinstance(generator, TaskShard) and dense_reset is False:
            raise ValueError("a TaskShard generator needs dense_reset (see "
                             "metarl.envs.task_streams)")
        if compile and dense_reset is False:
            raise ValueError("compile=True needs dense_reset: reading done would break the graph")
        self._dense_reset_choice = dense_reset
        self._compile = compile
        self.dense_reset = self._choose_dense_reset(params)
        self._step_fn = torch.compile(self._advance, dynamic=False) if compile else self._advance
        self.state: EnvState | None = None
        self._return: torch.Tensor | None = None

    def _choose_dense_reset(self, params: TaskParams) -> bool:
        if self._dense_reset_choice is not None:
            return self._dense_reset_choice
        return (self._compile or params.device.type != "cpu"
                or isinstance(self.generator, TaskShard))

    @property
    def num_tasks(self) -> int:
        """Number of tasks ``T``."""
        return self.params.num_tasks

    def reset(self, params: TaskParams | None = None,
              generators: list[torch.Generator] | None = None) -> torch.Tensor:
        """Start fresh episodes in every environment (optionally for new tasks); returns obs.

        :param generators: one per task: its environments' start states are drawn from it
            (default: all from :attr:`generator`); later restarts draw from :attr:`generator`.
        """
        if params is not None:
            self.params = params
            self.dense_reset = self._choose_dense_reset(params)
        if generators is None:
            self.state, obs = self.family.reset(self.params, self.num_envs, self.generator)
        else:
            if len(generators) != self.num_tasks:
                raise ValueError(f"{len(generators)} generators for {self.num_tasks} tasks: give "
                                 "one per task")
            parts = [self.family.reset(self.params.index(slice(i, i + 1)), self.num_envs, g)
                     for i, g in enumerate(generators)]
            self.state = EnvState(torch.cat([s.x for s, _ in parts]),
                                  torch.cat([s.t for s, _ in parts]))
            obs = torch.cat([o for _, o in parts])
        self._return = torch.zeros(self.state.t.shape, dtype=obs.dtype, device=obs.device)
        return obs

    def _sparse_restart(self, x: torch.Tensor, done: torch.Tensor) -> torch.Tensor:
        """``x`` with a fresh start state drawn only where ``done`` (reads ``done`` on the host)."""
        index = done.nonzero()
        if index.shape[0] == 0:
            return x
        task = index[:, 0]
        fresh = draw_rows(self.generator, task, lambda rows, gen: self.family.initial_state(
            self.params.index(rows), 1, gen))
        return x.index_put((task, index[:, 1]), fresh[:, 0])  # x is also final_obs: copy

    def _advance(
        self, state: EnvState, running: torch.Tensor, action: torch.Tensor,
        fresh: torch.Tensor | None,
    ) -> tuple[EnvState, torch.Tensor, Transition]:
        """One step with auto-reset from ``fresh`` start states (``None``: sparse restart)."""
        res = self.family.step(state, action, self.params)
        done = res.terminated | res.truncated
        if fresh is None:
            x = self._sparse_restart(res.state.x, done)
        else:
            x = torch.where(done.unsqueeze(-1), fresh, res.state.x)
        running = running + res.reward
        episode_return = torch.where(done, running, 0.0)
        transition = Transition(
            obs=self.family.observe(x, self.params),
            reward=res.reward,
            terminated=res.terminated,
            truncated=res.truncated,
            final_obs=res.obs,
            episode_return=episode_return,
            episode_length=torch.where(done, res.state.t, 0),
        )
        next_state = EnvState(x, torch.where(done, 0, res.state.t))
        return next_state, running - episode_return, transition

    def step(self, action: torch.Tensor) -> Transition:
        """Step every environment, reset those whose episode ended, and report the transition."""
        if self.state is None or self._return is None:
            raise RuntimeError("AutoResetEnv.step() called before reset()")
        fresh = None
        if self.dense_reset:
            fresh = self.family.initial_state(self.params, self.num_envs, self.generator)
        self.state, self._return, transition = self._step_fn(self.state, self._return, action,
                                                             fresh)
        return transition
