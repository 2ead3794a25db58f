"""The objects an experiment config describes: the task family, the network, the inner learner."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from metarl.agents.actor_critic import ActorCritic
from metarl.agents.param_tree import Params
from metarl.agents.ppo import PPO
from metarl.agents.regressor import MLPRegressor
from metarl.agents.supervised import SupervisedLearner
from metarl.config import GYM_FAMILY, ExperimentConfig
from metarl.envs import EnvFamily, make_family
from metarl.envs.gym_tasks import GymTaskFamily
from metarl.envs.sine import SineRegression
from metarl.regression_learner import RegressionLearner
from metarl.sine_config import SineExperimentConfig


class Components(NamedTuple):
    """The family, the actor-critic and the PPO inner learner of a config."""

    family: EnvFamily[Any] | GymTaskFamily
    policy: ActorCritic
    ppo: PPO


def build_components(config: ExperimentConfig) -> Components:
    """Instantiate the family, the policy and the inner learner a config describes."""
    env = config.env
    family: Any
    if env.family == GYM_FAMILY:
        family = GymTaskFamily(env.gym_id, dict(env.ranges), env.max_episode_steps or -1,
                               env.split_seed, env.task_via)
    else:
        family = make_family(env.family, max_episode_steps=env.max_episode_steps or -1,
                             split_seed=env.split_seed, ranges=dict(env.ranges) or None)
    pol = config.policy
    policy = ActorCritic.for_spaces(family.observation_space, family.action_space,
                                    hidden=tuple(pol.hidden), activation=pol.activation,
                                    init_log_std=pol.init_log_std)
    return Components(family, policy, PPO(family, policy, config.ppo))


def initial_theta(policy: ActorCritic | MLPRegressor, seed: int, device: torch.device) -> Params:
    """The random initialisation every trained method starts from (and scratch's, per seed)."""
    return policy.init(torch.Generator().manual_seed(seed), device=device)


def resolve_device(name: str) -> torch.device:
    """``torch.device(name)``, or a one-line error when it does not exist on this machine."""
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"run.device={name!r} is not a torch device: {err}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"run.device={name!r} but torch sees no CUDA device on this machine")
    return device


class SineComponents(NamedTuple):
    """The task family, the regressor and the inner learner of a sine-regression config."""

    family: SineRegression
    model: MLPRegressor
    learner: RegressionLearner


def build_sine_components(config: SineExperimentConfig) -> SineComponents:
    """Instantiate the family, the regressor and the inner learner a sine config describes."""
    env = config.env
    family = SineRegression(env.split_seed, dict(env.ranges) or None, env.x_range)
    model = MLPRegressor(1, 1, tuple(config.model.hidden), config.model.activation)
    learner = RegressionLearner(family, SupervisedLearner(model, config.inner), env.train_points,
                                config.eval.shots, config.eval.query_points)
    return SineComponents(family, model, learner)
