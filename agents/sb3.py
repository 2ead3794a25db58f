"""stable-baselines3 bridge: a meta-learned initialisation as an SB3 ``PPO``, and back.

``to_sb3(theta, env)`` builds a ``stable_baselines3.PPO`` whose policy gives the same action
distribution and value as ours for the same observation, so that a meta-learned initialisation
can be fine-tuned with plain SB3 on any Gymnasium env (:func:`metarl.to_sb3` takes a run
directory or a checkpoint file as well). ``from_sb3(model)`` reads an SB3 PPO policy
into our :class:`~metarl.agents.actor_critic.ActorCritic` and a theta.

Layer correspondence (SB3's ``ActorCriticPolicy`` with ``net_arch=dict(pi=H, vf=H)``)::

    actor.<i>   (i < len(H))  <->  mlp_extractor.policy_net[2 i]
    actor.<len(H)>            <->  action_net
    critic.<i>  (i < len(H))  <->  mlp_extractor.value_net[2 i]
    critic.<len(H)>           <->  value_net
    log_std                   <->  log_std   (Box actions)
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch
from stable_baselines3 import PPO as SB3PPO

from metarl.agents.actor_critic import ActorCritic
from metarl.agents.param_tree import Params

ACTIVATION_MODULES: dict[str, type[torch.nn.Module]] = {"tanh": torch.nn.Tanh,
                                                         "relu": torch.nn.ReLU}


def policy_from_theta(theta: Params, activation: str = "tanh") -> ActorCritic:
    """The :class:`ActorCritic` whose parameters have ``theta``'s shapes."""
    n = 0
    while f"actor.{n + 1}.weight" in theta:
        n += 1
    hidden = tuple(int(theta[f"actor.{i}.weight"].shape[0]) for i in range(n))
    head = theta[f"actor.{n}.weight"]
    return ActorCritic(int(theta["actor.0.weight"].shape[1]), int(head.shape[0]),
                       "log_std" not in theta, hidden, activation)


def _check_spaces(policy: ActorCritic, env: gym.Env[Any, Any] | Any) -> None:
    obs, act = env.observation_space, env.action_space
    if not isinstance(obs, gym.spaces.Box) or obs.shape != (policy.obs_dim,):
        raise ValueError(f"env observation space {obs} does not match the policy's "
                         f"{policy.obs_dim} inputs")
    if policy.discrete:
        if not isinstance(act, gym.spaces.Discrete) or int(act.n) != policy.action_dim:
            raise ValueError(f"env action space {act} does not match the policy's "
                             f"Discrete({policy.action_dim}) head")
    elif not isinstance(act, gym.spaces.Box) or act.shape != (policy.action_dim,):
        raise ValueError(f"env action space {act} does not match the policy's "
                         f"{policy.action_dim}-dim Gaussian head")


def _sb3_pairs(model: SB3PPO, num_hidden: int) -> list[tuple[str, torch.nn.Linear]]:
    """(our layer name, SB3 linear layer) for every layer of the two MLPs."""
    pol = model.policy
    pairs: list[tuple[str, torch.nn.Linear]] = []
    for prefix, body, head in (("actor", pol.mlp_extractor.policy_net, pol.action_net),
                               ("critic", pol.mlp_extractor.value_net, pol.value_net)):
        linears = [m for m in body if isinstance(m, torch.nn.Linear)]
        if len(linears) != num_hidden:
            raise ValueError(f"SB3 {prefix} has {len(linears)} hidden layers, expected "
                             f"{num_hidden}")
        pairs += [(f"{prefix}.{i}", layer) for i, layer in enumerate(linears)]
        pairs.append((f"{prefix}.{num_hidden}", head))
    return pairs


def to_sb3(theta: Params, env: gym.Env[Any, Any] | Any, activation: str = "tanh",
           **ppo_kwargs: Any) -> SB3PPO:
    """A ``stable_baselines3.PPO`` on ``env`` initialised with a meta-learned policy.

    :param theta: the policy's parameters ``{name: tensor}``.
    :param env: a Gymnasium env, a vectorized SB3 env or an env id, as ``PPO`` accepts.
    :param activation: the policy's hidden activation (``tanh``, ``relu``).
    :param ppo_kwargs: passed to ``stable_baselines3.PPO`` (``learning_rate``, ``n_steps``, ...);
        ``policy_kwargs`` may not change the architecture.
    """
    if not isinstance(theta, dict):
        raise TypeError(f"to_sb3 takes a theta dict, not a {type(theta).__name__}; "
                        "metarl.to_sb3 also reads a run directory or a checkpoint file")
    theta = {k: v.detach().cpu() for k, v in theta.items()}
    policy = policy_from_theta(theta, activation)
    policy_kwargs = {"net_arch": {"pi": list(policy.hidden), "vf": list(policy.hidden)},
                     "activation_fn": ACTIVATION_MODULES[policy.activation], "ortho_init": False,
                     **ppo_kwargs.pop("policy_kwargs", {})}
    model = SB3PPO("MlpPolicy", env, policy_kwargs=policy_kwargs, **ppo_kwargs)
    _check_spaces(policy, model.env if model.env is not None else env)
    device = model.policy.device
    with torch.no_grad():
        for name, layer in _sb3_pairs(model, len(policy.hidden)):
            layer.weight.copy_(theta[f"{name}.weight"].to(device))
            layer.bias.copy_(theta[f"{name}.bias"].to(device))
        if not policy.discrete:
            model.policy.log_std.copy_(theta["log_std"].to(device))
    return model


def from_sb3(model: SB3PPO) -> tuple[ActorCritic, Params]:
    """Our policy and theta (on the CPU) from a ``stable_baselines3.PPO`` MLP policy."""
    pol = model.policy
    acts = {type(m) for m in pol.mlp_extractor.policy_net if not isinstance(m, torch.nn.Linear)}
    names = [n for n, cls in ACTIVATION_MODULES.items() if {cls} == acts]
    if not names:
        raise ValueError(f"SB3 policy activation {sorted(a.__name__ for a in acts)} is not one "
                         f"of {', '.join(ACTIVATION_MODULES)}")
    pi = [m.out_features for m in pol.mlp_extractor.policy_net
          if isinstance(m, torch.nn.Linear)]
    vf = [m.out_features for m in pol.mlp_extractor.value_net
          if isinstance(m, torch.nn.Linear)]
    if pi != vf or not pi:
        raise ValueError(f"SB3 net_arch pi={pi} vf={vf}: metarl's actor and critic share their "
                         "(non-empty) hidden sizes")
    policy = ActorCritic.for_spaces(model.observation_space, model.action_space,
                                    hidden=tuple(pi), activation=names[0])
    theta: Params = {}
    for name, layer in _sb3_pairs(model, len(pi)):
        theta[f"{name}.weight"] = layer.weight.detach().cpu().clone()
        theta[f"{name}.bias"] = layer.bias.detach().cpu().clone()
    if not policy.discrete:
        theta["log_std"] = pol.log_std.detach().cpu().clone()
    return policy, theta
