"""A trained policy out of a run: its actor-critic and theta, or a stable-baselines3 ``PPO``.

``to_sb3(source, env)`` takes a run directory (a trained method's newest checkpoint), a checkpoint
file or a theta, and builds a ``stable_baselines3.PPO`` whose policy acts as ours
(:mod:`metarl.agents.sb3`), so that a meta-learned initialisation can be fine-tuned with plain SB3
on any Gymnasium env.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
from stable_baselines3 import PPO as SB3PPO

from metarl.agents import sb3
from metarl.agents.actor_critic import ActorCritic
from metarl.agents.param_tree import Params
from metarl.problems import config_from_dict
from metarl.rl.config import ExperimentConfig
from metarl.runs.checkpoint import latest_checkpoint, load_checkpoint


def load_policy(source: Params | str | Path, method: str = "reptile",
                activation: str | None = None) -> tuple[ActorCritic, Params]:
    """The policy and theta of a run directory (``method``'s newest checkpoint), a checkpoint
    file, or a theta (with ``activation``, default ``tanh``; run directories and checkpoints
    carry their own)."""
    theta, config = _load(source, method)
    return sb3.policy_from_theta(theta, _activation(config, activation)), theta


def _activation(config: ExperimentConfig | None, activation: str | None) -> str:
    """``activation``, else the run's, else ``tanh`` (a bare theta's default)."""
    return activation or (config.policy.activation if config else "tanh")


def _load(source: Params | str | Path, method: str) -> tuple[Params, ExperimentConfig | None]:
    """The theta of ``source`` on the CPU and its run's config (``None`` for a bare theta)."""
    if isinstance(source, dict):
        return {k: v.detach().cpu() for k, v in source.items()}, None
    path = Path(source)
    if path.is_dir():
        found = latest_checkpoint(path / "checkpoints" / method)
        if found is None:
            raise ValueError(f"{path} has no checkpoint of method {method!r}")
        path = found
    if not path.is_file():
        raise ValueError(f"source={str(source)!r} is neither a run directory nor a checkpoint")
    state = load_checkpoint(path)
    if "theta" not in state or "config" not in state:
        raise ValueError(f"checkpoint {path} is not a metarl training checkpoint: it has no "
                         f"{'theta' if 'theta' not in state else 'config'!r}")
    config = config_from_dict(state["config"])
    if not isinstance(config, ExperimentConfig):
        raise ValueError(f"{path} is a {config.env.family} regression checkpoint, not a policy")
    return {k: v.cpu() for k, v in state["theta"].items()}, config


def to_sb3(source: Params | str | Path, env: gym.Env[Any, Any] | Any, method: str = "reptile",
           activation: str | None = None, **ppo_kwargs: Any) -> SB3PPO:
    """A ``stable_baselines3.PPO`` on ``env`` initialised with a meta-learned policy.

    :param source: a run directory, a checkpoint file or a theta ``{name: tensor}``.
    :param env: a Gymnasium env, a vectorized SB3 env or an env id, as ``PPO`` accepts; a run
        with ``env.normalize_actions`` acts in [-1, 1] and needs an env made so
        (``gym.make(id, normalize_actions=True)``), not an id; so does a run with ``env.obs_norm``
        (``gym.make(id, obs_norm=True)``).
    :param method: which trained method of a run directory (``reptile``, ``fomaml``, ``maml``,
        ``pretrain``).
    :param activation: the hidden activation of a bare theta (run directories and checkpoints
        carry their own).
    :param ppo_kwargs: passed to ``stable_baselines3.PPO`` (``learning_rate``, ``n_steps``, ...);
        ``policy_kwargs`` may not change the architecture.
    """
    theta, config = _load(source, method)
    if config is not None and config.env.normalize_actions:
        space = getattr(env, "action_space", None)  # an id makes the family's raw actions
        if not (isinstance(space, gym.spaces.Box)
                and (space.low == -1).all() and (space.high == 1).all()):
            raise ValueError(f"the run's policy acts in [-1, 1] (env.normalize_actions = true) "
                             f"but env's action space is {space}; make the env with "
                             "normalize_actions=True")
    if config is not None and config.env.obs_norm and not getattr(
            getattr(getattr(env, "unwrapped", None), "family", None), "obs_norm", False):
        raise ValueError("the run's policy reads normalised observations (env.obs_norm = true) "
                         f"but env {env!r} does not make them; make the env with "
                         "gym.make(id, obs_norm=True)")
    return sb3.to_sb3(theta, env, activation=_activation(config, activation), **ppo_kwargs)
