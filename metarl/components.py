"""The objects an experiment config describes: the task family, the network, the inner learner."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from metarl.agents.actor_critic import ActorCritic
from metarl.agents.param_tree import Params
from metarl.agents.ppo import PPO, action_bounds
from metarl.agents.regressor import MLPRegressor
from metarl.agents.supervised import SupervisedLearner
from metarl.config import GYM_FAMILY, ConfigError, EvalConfig, ExperimentConfig
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


def check_pretraining(config: ExperimentConfig, family: EnvFamily[Any] | GymTaskFamily) -> None:
    """A one-line :class:`ConfigError` before any work when pretraining (trained when
    ``eval.methods`` lists it) has a bound penalty the family's actions cannot take."""
    if "pretrain" in config.eval.methods and config.pretrain.bound_coef is not None:
        _check_bounds("pretrain.bound_coef", config.pretrain.bound_coef, family)


def check_evaluation(config: ExperimentConfig, family: EnvFamily[Any] | GymTaskFamily,
                     settings: EvalConfig | None = None) -> None:
    """A one-line :class:`ConfigError`, naming the field, before any work when the evaluation's
    inner learner (``settings``, default ``config.eval``; also checkpoint selection's and the
    oracle's) cannot serve: a bound penalty needs a Box action space with finite bounds, and a
    rollout must hold a whole episode (the return after k updates is the mean return of the
    episodes the rollout completes; a shorter one would leave out every task whose episodes
    last)."""
    settings = settings or config.eval
    inner = settings.inner(config.ppo)

    def field(name: str) -> str:
        return f"eval.ppo.{name}" if name in settings.ppo else f"ppo.{name}"

    _check_bounds(field("bound_coef"), inner.bound_coef, family)
    limit = family.max_episode_steps
    if limit is not None and inner.num_steps < limit:
        raise ConfigError(
            f"{field('num_steps')}={inner.num_steps} is shorter than an episode ({limit} "
            f"steps): the evaluation scores the episodes its rollouts complete, so a rollout "
            f"must hold a whole one; set eval.ppo.num_steps = {limit} (or env.max_episode_steps)")


def _check_bounds(name: str, value: float, family: EnvFamily[Any] | GymTaskFamily) -> None:
    """A bound penalty ``value > 0`` needs a Box action space with finite bounds."""
    if value > 0:
        try:
            action_bounds(family.action_space)
        except ValueError:
            raise ConfigError(f"{name}={value!r} needs a Box action space with finite bounds; "
                              f"this family's is {family.action_space}") from None


def initial_theta(policy: ActorCritic | MLPRegressor, seed: int, device: torch.device) -> Params:
    """The random initialisation every trained method starts from (and scratch's, per seed)."""
    return policy.init(torch.Generator().manual_seed(seed), device=device)


def resolve_device(name: str, field: str = "run.device") -> torch.device:
    """``torch.device(name)``, or a one-line error naming ``field`` (the config key or option
    that gave ``name``) when it does not exist on this machine."""
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"{field}={name!r} is not a torch device: {err}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{field}={name!r} but torch sees no CUDA device on this machine")
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
