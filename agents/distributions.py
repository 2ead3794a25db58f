"""Action distributions over batched policy outputs (any leading dimensions).

A diagonal Gaussian with a state-independent log-std for ``Box`` actions and a categorical
distribution over logits for ``Discrete`` actions. Sampling takes an explicit generator and never
reads a tensor back to the host.
"""

from __future__ import annotations

import math

import torch

from metarl.envs.task_streams import AnyGenerator, draw

LOG_2PI = math.log(2 * math.pi)


class DiagGaussian:
    """Gaussian with mean ``[..., A]`` and a log-std broadcastable to it; log-probs sum over A."""

    @staticmethod
    def sample(mean: torch.Tensor, log_std: torch.Tensor, generator: AnyGenerator
               ) -> torch.Tensor:
        """Draw actions ``[..., A]`` (with a task shard, ``mean`` leads with its tasks)."""
        noise = draw(generator, mean.shape, lambda shape, gen: torch.randn(
            shape, generator=gen, device=mean.device, dtype=mean.dtype))
        return mean + noise * log_std.exp()

    @staticmethod
    def log_prob(mean: torch.Tensor, log_std: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Log-density of ``action``, summed over the action dimension: ``[...]``."""
        z = (action - mean) * torch.exp(-log_std)
        return (-0.5 * z.square() - log_std - 0.5 * LOG_2PI).sum(dim=-1)

    @staticmethod
    def entropy(log_std: torch.Tensor) -> torch.Tensor:
        """Entropy, summed over the action dimension: ``log_std.shape[:-1]``."""
        return (log_std + 0.5 * (1.0 + LOG_2PI)).sum(dim=-1)

    @staticmethod
    def kl(mean0: torch.Tensor, log_std0: torch.Tensor, mean1: torch.Tensor,
           log_std1: torch.Tensor) -> torch.Tensor:
        """``KL(N0 || N1)``, summed over the action dimension: ``[...]``."""
        var_ratio = torch.exp(2 * (log_std0 - log_std1))
        z = (mean0 - mean1) * torch.exp(-log_std1)
        return (0.5 * (var_ratio + z.square() - 1.0) - (log_std0 - log_std1)).sum(dim=-1)

    @staticmethod
    def mode(mean: torch.Tensor) -> torch.Tensor:
        """The most likely action (the mean)."""
        return mean


class Categorical:
    """Categorical distribution over the last dimension of ``logits``."""

    @staticmethod
    def sample(logits: torch.Tensor, generator: AnyGenerator) -> torch.Tensor:
        """Draw actions ``[...]`` (int64) with the Gumbel-max trick (no host synchronisation)."""
        u = draw(generator, logits.shape, lambda shape, gen: torch.rand(
            shape, generator=gen, device=logits.device, dtype=logits.dtype))
        gumbel = -torch.log(-torch.log(u.clamp_(min=torch.finfo(u.dtype).tiny)))
        return (logits + gumbel).argmax(dim=-1)

    @staticmethod
    def log_prob(logits: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Log-probability of integer ``action``: ``[...]``."""
        logp = torch.log_softmax(logits, dim=-1)
        return logp.gather(-1, action.long().unsqueeze(-1)).squeeze(-1)

    @staticmethod
    def entropy(logits: torch.Tensor) -> torch.Tensor:
        """Entropy ``[...]``."""
        logp = torch.log_softmax(logits, dim=-1)
        return -(logp.exp() * logp).sum(dim=-1)

    @staticmethod
    def kl(logits0: torch.Tensor, logits1: torch.Tensor) -> torch.Tensor:
        """``KL(p0 || p1)`` of the distributions over the last dimension: ``[...]``."""
        logp0 = torch.log_softmax(logits0, dim=-1)
        return (logp0.exp() * (logp0 - torch.log_softmax(logits1, dim=-1))).sum(dim=-1)

    @staticmethod
    def mode(logits: torch.Tensor) -> torch.Tensor:
        """The most likely action."""
        return logits.argmax(dim=-1)
