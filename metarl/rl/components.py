"""The objects an RL config describes: the task family, the actor-critic, the PPO inner learner;
and the checks, before any work, that pretraining and the evaluation can use them."""

from __future__ import annotations

from typing import Any, NamedTuple

from metarl.agents.actor_critic import ActorCritic
from metarl.agents.ppo import PPO, action_bounds
from metarl.config import ConfigError
from metarl.envs import EnvFamily, make_family
from metarl.envs.gym_tasks import GymTaskFamily
from metarl.rl.config import GYM_FAMILY, EvalConfig, ExperimentConfig


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
        engine = {name: True for name in ("obs_norm", "pin_threads") if getattr(env, name)}
        family = make_family(env.family, max_episode_steps=env.max_episode_steps or -1,
                             split_seed=env.split_seed, ranges=dict(env.ranges) or None,
                             normalize_actions=env.normalize_actions, **engine)
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
