"""Multi-task pretraining of a policy: PPO on mixtures of training tasks.

The baseline that meta-learning must beat (:mod:`metarl.meta.pretrainer`): no adaptation during
training, just one policy that does as well as it can on average over the task distribution.
Every PPO iteration samples
``meta_batch`` fresh training tasks, collects the same rollout per task as the inner learner, and
updates the single policy on all of it, with minibatches of the inner learner's size (so the same
number of gradient steps per sample). One "iteration" of this trainer is ``inner_iterations``
such PPO iterations: the env steps of one Reptile meta-iteration, so that the two trainers are
compared at equal samples, step for step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from metarl.agents.param_tree import Params, stack
from metarl.agents.ppo import PPO, Batch, PPOConfig
from metarl.agents.rollout import collect
from metarl.envs import make_batch_env
from metarl.meta.pretrainer import MixturePretrainer
from metarl.meta.trainer import MetaConfig
from metarl.rl.learner import MetaRecord, PPOLearner, make_record


@dataclass(frozen=True)
class PretrainConfig:
    """PPO settings of long training runs where they differ from the inner learner's.

    Used by multi-task pretraining and by the evaluation's oracle. The inner learner is tuned to
    move far in one update; a policy trained for millions of steps needs the usual, careful PPO
    steps (the defaults are standard PPO's, one learning rate for all parameters), or it
    diverges. Everything else (rollout size, gamma, lambda, minibatch size, and for the oracle
    the bound penalty) is the inner learner's.

    :param learning_rate: Adam's learning rate.
    :param clip_coef: PPO's ratio clipping range.
    :param num_epochs: passes over each rollout.
    :param bound_coef: the penalty on Gaussian means past the action bounds (``ppo.bound_coef``)
        in pretraining's own training; ``None`` keeps the inner learner's. The oracle, PPO on
        each task, keeps the inner learner's; in pretraining the penalty can leave the policy
        trained on the mixture of tasks harder to adapt.
    """

    learning_rate: float = 3e-4
    clip_coef: float = 0.2
    num_epochs: int = 10
    bound_coef: float | None = None

    def __post_init__(self) -> None:
        for name in ("learning_rate", "clip_coef"):
            if not getattr(self, name) > 0:
                raise ValueError(f"pretrain.{name}={getattr(self, name)!r} must be > 0")
        if self.num_epochs <= 0:
            raise ValueError(f"pretrain.num_epochs={self.num_epochs!r} must be > 0")
        if self.bound_coef is not None and not self.bound_coef >= 0:
            raise ValueError(f"pretrain.bound_coef={self.bound_coef!r} must be >= 0")

    def apply(self, config: PPOConfig) -> PPOConfig:
        """``config`` with these settings in place of its own: one learning rate for all
        parameters, and neither the learning rate nor the clip annealed or scheduled (the inner
        learner's schedules span its few updates, not a long run). The bound penalty stays
        ``config``'s (the oracle's); :meth:`for_pretraining` sets pretraining's."""
        return config.replace(learning_rate=self.learning_rate, clip_coef=self.clip_coef,
                              num_epochs=self.num_epochs, log_std_learning_rate=None,
                              anneal_lr=False, anneal_clip=False, clip_schedule=())

    def for_pretraining(self, config: PPOConfig) -> PPOConfig:
        """:meth:`apply`, with pretraining's bound penalty (``bound_coef``, else ``config``'s)."""
        bound_coef = config.bound_coef if self.bound_coef is None else self.bound_coef
        return self.apply(config).replace(bound_coef=bound_coef)


class Pretrainer(MixturePretrainer):
    """PPO on a mixture of training tasks, resumable one (meta-iteration sized) step at a time.

    :param ppo: the inner learner whose rollout size and PPO settings are used.
    :param theta: the initial parameters (copied).
    :param config: the meta-training settings whose budget and validation are matched.
    :param seed: seeds task sampling, actions and start states.
    :param settings: the PPO settings that differ from the inner learner's.
    """

    record_type = MetaRecord

    def __init__(self, ppo: PPO, theta: Params, config: MetaConfig, seed: int = 0,
                 settings: PretrainConfig | None = None) -> None:
        settings = settings or PretrainConfig()
        super().__init__(PPOLearner(ppo), theta, config, seed, settings.learning_rate,
                         ppo.config.adam_eps)
        self.ppo = ppo
        cfg = ppo.config
        n = config.meta_batch  # the mixture's batch: n tasks' rollouts as one task's
        self.mixture = PPO(ppo.family, ppo.policy, settings.for_pretraining(cfg).replace(
            num_envs=cfg.num_envs * n, num_minibatches=cfg.num_minibatches * n))

    def mixture_step(self) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """One PPO iteration on ``meta_batch`` fresh tasks' rollouts, merged as one task's;
        returns the rollout's per-task mean return and the update's statistics."""
        cfg, n = self.ppo.config, self.config.meta_batch
        tasks = self.ppo.family.tasks.sample(n, self.task_gen, device=self.device)
        env = make_batch_env(self.ppo.family, tasks, cfg.num_envs, self.gen)
        shared = stack(self.theta, n)
        rollout, _ = collect(self.ppo.policy, shared, env, env.reset(), cfg.num_steps, self.gen)
        batch = self.ppo.make_batch(shared, rollout)  # per task: values, GAE
        merged = Batch(*(x.reshape(1, -1, *x.shape[2:]) for x in batch))  # one task of n * N
        stats = self.mixture.update(self.params, self.optimizer, merged, self.gen)
        self.samples += n * cfg.num_envs * cfg.num_steps
        return rollout.mean_return, stats

    def make_record(self, iteration: int,
                    steps: list[tuple[torch.Tensor, dict[str, torch.Tensor]]], val: float,
                    before: Params) -> MetaRecord:
        """Returns of the first and last mixtures' rollouts, PPO statistics, theta's change."""
        returns = [r for r, _ in steps]
        stats = [s for _, s in steps]
        return make_record(iteration, self.samples, self.optimizer.lr, returns[0], returns[-1],
                           {k: torch.stack([s[k] for s in stats]) for k in stats[0]}, val,
                           self.theta, before)
