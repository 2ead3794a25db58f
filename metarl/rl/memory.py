"""The memory an RL run needs, phase by phase (:mod:`metarl.memory`).

A batched PPO adaptation of ``T`` tasks with ``E`` envs and ``H`` steps holds the rollout (``obs``,
``final_obs``, actions and four scalars per transition, twice while the steps are stacked), the
training batch (``obs``, actions, four scalars) and the values' forward pass, the stacked
parameters with their gradients, Adam states and copies, and a minibatch's activations through
actor and critic. Second-order MAML keeps the graph of its inner steps and query surrogate, with
their second derivatives, over every sample of the meta-batch: measured about 12 floats per hidden
unit and sample (Navigation2D, 2 x 100 ReLU, 20 tasks x 4,000 samples: 816 MB).
"""

from __future__ import annotations

import math

import gymnasium as gym
import torch

from metarl.agents.ppo import PPOConfig
from metarl.envs import EnvFamily
from metarl.envs.gym_tasks import GymTaskFamily
from metarl.memory import (
    MemoryNeed,
    adaptation_bytes,
    chunk_bytes,
    mlp_parameters,
    tasks_at_once,
)
from metarl.rl.config import EvalConfig, ExperimentConfig


def actor_critic_sizes(family: EnvFamily | GymTaskFamily, hidden: tuple[int, ...]
                       ) -> tuple[int, int, int, int]:
    """Floats per observation, per action (an int64 action: two) and per actor output, and the
    actor-critic's parameters."""
    obs = int(math.prod(family.observation_space.shape or (1,)))
    space = family.action_space
    discrete = isinstance(space, gym.spaces.Discrete)
    act = 2 if discrete else int(math.prod(space.shape or (1,)))
    out = int(space.n) if discrete else act
    parameters = mlp_parameters([obs, *hidden, out]) + mlp_parameters([obs, *hidden, 1]) + act
    return obs, act, out, parameters


def ppo_bytes(family: EnvFamily | GymTaskFamily, hidden: tuple[int, ...], ppo: PPOConfig,
              tasks: int) -> float:
    """Peak bytes of one batched PPO adaptation of ``tasks`` tasks with ``ppo``'s rollouts."""
    obs, act, out, parameters = actor_critic_sizes(family, hidden)
    samples = ppo.num_envs * ppo.num_steps
    sample_floats = 2 * (2 * obs + act + 4) + (obs + act + 4) + 2 * sum(hidden)
    minibatch = samples / ppo.num_minibatches
    activations = minibatch * (8 * sum(hidden) + 2 * out + 10)
    return adaptation_bytes(tasks, samples, sample_floats, parameters, activations)


def maml_bytes(family: EnvFamily | GymTaskFamily, hidden: tuple[int, ...], config: ExperimentConfig
               ) -> float:
    """Peak bytes of one second-order MAML step on a whole meta-batch (its inner and query
    rollouts, the graph through the inner steps and the TRPO products)."""
    obs = int(math.prod(family.observation_space.shape or (1,)))
    vpg = config.vpg
    samples = (config.maml.inner_steps + 1) * vpg.num_envs * vpg.num_steps
    return float(config.meta.meta_batch) * samples * (12 * sum(hidden) + 4 * obs + 10) * 4


def memory_needs(config: ExperimentConfig, family: EnvFamily | GymTaskFamily, train: bool,
                 settings: EvalConfig | None, processes: int = 1) -> list[MemoryNeed]:
    """The phases of an RL run: meta-training (and validation) and pretraining with ``train``,
    the evaluation (checkpoint selection, every method, the oracle) under ``settings``; a
    meta-batch split over ``processes`` processes."""
    hidden, ppo, meta = tuple(config.policy.hidden), config.ppo, config.meta
    net = f"policy.hidden={list(hidden)}"
    needs = []
    if train:
        chunk = meta.chunk(torch.device(config.run.device).type)
        tasks = tasks_at_once(meta.meta_batch, chunk, processes)
        rollout = f"{ppo.num_envs} envs x {ppo.num_steps} steps, {net}"
        obs, act, _, parameters = actor_critic_sizes(family, hidden)
        needs.append(MemoryNeed(
            "meta-training", ppo_bytes(family, hidden, ppo, tasks) + chunk_bytes(
                meta.meta_batch, tasks, processes, ppo.num_envs * (obs + act), parameters),
            f"{tasks} tasks of meta.meta_batch={meta.meta_batch} at once x {rollout}",
            "meta.meta_batch (or set meta.task_chunk), ppo.num_envs, ppo.num_steps or "
            "policy.hidden"))
        needs.append(MemoryNeed(
            "validation", ppo_bytes(family, hidden, ppo, meta.val_tasks),
            f"meta.val_tasks={meta.val_tasks} x {rollout}",
            "meta.val_tasks, ppo.num_envs, ppo.num_steps or policy.hidden"))
        if "maml" in config.eval.methods:
            vpg = config.vpg
            needs.append(MemoryNeed(
                "MAML meta-training", maml_bytes(family, hidden, config),
                f"meta.meta_batch={meta.meta_batch} tasks x (maml.inner_steps="
                f"{config.maml.inner_steps} + 1) rollouts of {vpg.num_envs} envs x "
                f"{vpg.num_steps} steps, {net}, in one graph",
                "meta.meta_batch, vpg.num_envs, vpg.num_steps or policy.hidden"))
        if "pretrain" in config.eval.methods:
            needs.append(MemoryNeed(
                "pretraining", ppo_bytes(family, hidden, ppo, meta.meta_batch),
                f"meta.meta_batch={meta.meta_batch} tasks' rollouts x {rollout}",
                "meta.meta_batch, ppo.num_envs, ppo.num_steps or policy.hidden"))
    if settings is not None:
        inner = settings.inner(ppo)
        needs.append(MemoryNeed(
            "evaluation", ppo_bytes(family, hidden, inner, settings.test_tasks),
            f"eval.test_tasks={settings.test_tasks} x eval.episodes={settings.episodes} envs x "
            f"{inner.num_steps} steps, {net}",
            "eval.test_tasks (--tasks), eval.episodes (--episodes), ppo.num_steps (or "
            "eval.ppo.num_steps) or policy.hidden"))
    return needs
