"""MLP actor-critic whose parameters carry a leading task dimension.

The actor and the critic are separate MLPs (as in CleanRL's ``ppo.py``) with orthogonal
initialisation (hidden gain sqrt(2), policy head 0.01, value head 1). Box actions get a Gaussian
head with a state-independent log-std; Discrete actions a categorical head over logits.

``forward(params, obs)`` takes stacked parameters ``{name: [T, ...]}`` and observations
``[T, N, obs_dim]`` and runs all ``T`` policies in one batched matmul per layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import gymnasium as gym
import torch

from metarl.agents.batched_mlp import ACTIVATIONS, check_mlp, mlp_forward
from metarl.agents.distributions import Categorical, DiagGaussian
from metarl.agents.param_tree import Params
from metarl.envs.task_streams import AnyGenerator


class Evaluation(NamedTuple):
    """What :meth:`ActorCritic.evaluate` returns for actions taken in observations ``[T, N, D]``."""

    log_prob: torch.Tensor
    entropy: torch.Tensor
    value: torch.Tensor
    out: torch.Tensor


@dataclass(frozen=True)
class ActorCritic:
    """Shapes and behaviour of an MLP actor-critic; parameters live outside, in plain dicts.

    :param obs_dim: size of an observation vector.
    :param action_dim: size of a Box action, or number of Discrete actions.
    :param discrete: categorical head (Discrete) instead of a Gaussian one (Box).
    :param hidden: hidden layer sizes, shared by actor and critic.
    :param activation: ``"tanh"`` or ``"relu"``.
    :param init_log_std: initial log-std of the Gaussian head.
    """

    obs_dim: int
    action_dim: int
    discrete: bool
    hidden: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    init_log_std: float = 0.0

    def __post_init__(self) -> None:
        check_mlp(self.hidden, self.activation)

    @classmethod
    def for_spaces(cls, observation_space: gym.spaces.Box, action_space: gym.Space[Any],
                   **kwargs: Any) -> ActorCritic:
        """An actor-critic sized for a single env's observation and action spaces."""
        if isinstance(action_space, gym.spaces.Discrete):
            return cls(int(observation_space.shape[0]), int(action_space.n), True, **kwargs)
        if isinstance(action_space, gym.spaces.Box):
            return cls(int(observation_space.shape[0]), int(action_space.shape[0]), False,
                       **kwargs)
        raise TypeError(f"unsupported action space {action_space}")

    # ------------------------------------------------------------------ parameters
    def _layers(self, prefix: str, out_dim: int) -> list[tuple[str, int, int, float]]:
        sizes = [self.obs_dim, *self.hidden]
        layers = [(f"{prefix}.{i}", sizes[i], sizes[i + 1], math.sqrt(2))
                  for i in range(len(self.hidden))]
        head_gain = 0.01 if prefix == "actor" else 1.0
        layers.append((f"{prefix}.{len(self.hidden)}", sizes[-1], out_dim, head_gain))
        return layers

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Shape of every parameter of a theta, in order."""
        out: dict[str, tuple[int, ...]] = {}
        for prefix, out_dim in (("actor", self.action_dim), ("critic", 1)):
            for name, fan_in, fan_out, _ in self._layers(prefix, out_dim):
                out[f"{name}.weight"] = (fan_out, fan_in)
                out[f"{name}.bias"] = (fan_out,)
        if not self.discrete:
            out["log_std"] = (self.action_dim,)
        return out

    def init(self, generator: torch.Generator | None = None,
             device: torch.device | str = "cpu") -> Params:
        """A fresh theta (no task dimension) with orthogonal weights and zero biases."""
        theta: Params = {}
        for prefix, out_dim in (("actor", self.action_dim), ("critic", 1)):
            for name, fan_in, fan_out, gain in self._layers(prefix, out_dim):
                w = torch.empty(fan_out, fan_in)
                torch.nn.init.orthogonal_(w, gain=gain, generator=generator)
                theta[f"{name}.weight"] = w.to(device)
                theta[f"{name}.bias"] = torch.zeros(fan_out, device=device)
        if not self.discrete:
            theta["log_std"] = torch.full((self.action_dim,), float(self.init_log_std),
                                          device=device)
        return theta

    # ------------------------------------------------------------------ forward
    def _mlp(self, params: Params, prefix: str, x: torch.Tensor) -> torch.Tensor:
        return mlp_forward(params, prefix, x, len(self.hidden), ACTIVATIONS[self.activation])

    def actor(self, params: Params, obs: torch.Tensor) -> torch.Tensor:
        """Logits (Discrete) or Gaussian means (Box), ``[T, N, A]``, for obs ``[T, N, D]``."""
        return self._mlp(params, "actor", obs)

    def value(self, params: Params, obs: torch.Tensor) -> torch.Tensor:
        """State values ``[T, N]`` for observations ``[T, N, D]``."""
        return self._mlp(params, "critic", obs).squeeze(-1)

    def sample(self, params: Params, obs: torch.Tensor, generator: AnyGenerator
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Actions and their log-probabilities for observations ``[T, N, D]``."""
        out = self.actor(params, obs)
        if self.discrete:
            action = Categorical.sample(out, generator)
            return action, Categorical.log_prob(out, action)
        log_std = params["log_std"].unsqueeze(1)
        action = DiagGaussian.sample(out, log_std, generator)
        return action, DiagGaussian.log_prob(out, log_std, action)

    def mode(self, params: Params, obs: torch.Tensor) -> torch.Tensor:
        """The most likely action for observations ``[T, N, D]``."""
        out = self.actor(params, obs)
        return Categorical.mode(out) if self.discrete else DiagGaussian.mode(out)

    def log_prob(self, params: Params, obs: torch.Tensor, action: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probabilities ``[T, N]`` of actions in observations ``[T, N, D]``, and the actor's
        output ``[T, N, A]`` (the Gaussian means or the logits); no critic pass."""
        out = self.actor(params, obs)
        if self.discrete:
            return Categorical.log_prob(out, action), out
        return DiagGaussian.log_prob(out, params["log_std"].unsqueeze(1), action), out

    def kl(self, old_out: torch.Tensor, old_log_std: torch.Tensor | None, out: torch.Tensor,
           log_std: torch.Tensor | None) -> torch.Tensor:
        """``KL(old || new)`` per sample, ``[T, N]``, from two actor outputs ``[T, N, A]`` (and,
        for a Gaussian head, the policies' log-stds ``[T, A]``)."""
        if self.discrete:
            return Categorical.kl(old_out, out)
        assert old_log_std is not None and log_std is not None
        return DiagGaussian.kl(old_out, old_log_std.unsqueeze(1), out, log_std.unsqueeze(1))

    def entropy(self, params: Params, out: torch.Tensor) -> torch.Tensor:
        """Entropy ``[T, N]`` of the policies given their actor output ``[T, N, A]``."""
        if self.discrete:
            return Categorical.entropy(out)
        return DiagGaussian.entropy(params["log_std"]).unsqueeze(1).expand(out.shape[:-1])

    def evaluate(self, params: Params, obs: torch.Tensor, action: torch.Tensor) -> Evaluation:
        """Log-probabilities, entropies and values ``[T, N]`` of actions, and the actor's output
        (``[T, N, A]``: the Gaussian means or the logits)."""
        out = self.actor(params, obs)
        value = self.value(params, obs)
        if self.discrete:
            return Evaluation(Categorical.log_prob(out, action), Categorical.entropy(out), value,
                              out)
        log_std = params["log_std"].unsqueeze(1)
        entropy = DiagGaussian.entropy(params["log_std"]).unsqueeze(1).expand_as(value)
        return Evaluation(DiagGaussian.log_prob(out, log_std, action), entropy, value, out)
