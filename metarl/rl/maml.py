"""Second-order MAML's objective for RL: VPG inner steps, a TRPO surrogate on query rollouts.

For a meta-batch, :class:`RLMamlObjective` collects, with every task's policy in one batch,

* ``steps`` inner rollouts: rollout ``j`` by the policy after ``j`` VPG steps from theta
  (:mod:`metarl.agents.vpg`), each step taken on the rollout before it;
* one query rollout by the adapted policy ``phi_i``.

:meth:`RLMamlObjective.adapted` then replays the inner steps from any theta on the stored inner data
(differentiably), and :meth:`RLMamlObjective.query_losses` scores the adapted policy on the query
data with TRPO's surrogate ``-mean_t [pi_phi(a_t|s_t) / pi_old(a_t|s_t)] A_t``, ``pi_old`` the
policy that collected it, and the mean KL divergence ``KL(pi_old || pi_phi)`` over the query
observations. At the theta that collected the data the ratio is 1 and the surrogate's gradient is
MAML's meta-gradient (the post-adaptation policy gradient, differentiated through the inner steps;
the dependence of the inner rollouts' distribution on theta is dropped, as in MAML's code and
pytorch-maml-rl).
"""

from __future__ import annotations

import math

import torch

from metarl.agents.param_tree import Params, stack
from metarl.agents.vpg import VPG, VPGBatch, vpg_step
from metarl.envs import TaskParams
from metarl.envs.task_streams import AnyGenerator


class RLMamlObjective:
    """MAML's post-adaptation objective on one meta-batch (see the module docstring).

    :param vpg: the inner learner (its rollouts, baseline and step size).
    :param theta: the shared initialisation that collects the data.
    :param tasks: the meta-batch.
    :param steps: inner VPG steps.
    :param generator: random generator on the tasks' device.
    """

    def __init__(self, vpg: VPG, theta: Params, tasks: TaskParams, steps: int,
                 generator: AnyGenerator) -> None:
        if not isinstance(steps, int) or steps <= 0:
            raise ValueError(f"steps={steps!r} must be a positive integer")
        self.vpg, self.num_tasks = vpg, tasks.num_tasks
        policy, cfg = vpg.policy, vpg.config
        env = vpg.env(tasks, generator)
        params = {k: v.detach().to(device=tasks.device, dtype=tasks.dtype)
                  for k, v in stack(theta, tasks.num_tasks).items()}
        self.batches: list[VPGBatch] = []
        returns = []
        for step in range(steps):
            rollout = vpg.rollout(params, env, generator)
            returns.append(rollout.mean_return)
            self.batches.append(vpg.batch(rollout))
            with torch.no_grad():
                params = vpg_step(policy, params, self.batches[-1], cfg.step_size(step))
        query = vpg.rollout(params, env, generator)
        self.query = vpg.batch(query)
        with torch.no_grad():
            self.old_log_prob, self.old_out = policy.log_prob(params, self.query.obs,
                                                              self.query.actions)
            self.old_log_std = params["log_std"].detach() if "log_std" in params else None
            self.entropy = policy.entropy(params, self.old_out).mean(dim=1)
        self.returns = torch.stack(returns)  # [steps, T]
        self.query_return = query.mean_return
        self.samples = tasks.num_tasks * (steps + 1) * cfg.num_envs * cfg.num_steps

    def adapted(self, theta: Params) -> Params:
        """The inner steps replayed from ``theta`` on the stored inner data: ``{name: [T, ...]}``
        (differentiable in ``theta``, by autograd or ``torch.func``)."""
        params = stack(theta, self.num_tasks)
        for step, batch in enumerate(self.batches):
            params = vpg_step(self.vpg.policy, params, batch, self.vpg.config.step_size(step))
        return params

    def query_losses(self, adapted: Params) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-task TRPO surrogate loss and mean KL divergence ``[T]`` of ``adapted`` on the
        query data (see the module docstring)."""
        policy = self.vpg.policy
        log_prob, out = policy.log_prob(adapted, self.query.obs, self.query.actions)
        ratio = torch.exp(log_prob - self.old_log_prob)
        loss = -(ratio * self.query.advantages).mean(dim=1)
        kl = policy.kl(self.old_out, self.old_log_std, out, adapted.get("log_std"))
        return loss, kl.mean(dim=1)

    def summary(self, kl: torch.Tensor) -> dict[str, torch.Tensor]:
        """The numbers of :class:`~metarl.rl.learner.MetaRecord`: returns of the first inner
        rollout and of the query rollout, the outer step's KL as ``approx_kl``, no clip
        fraction, and the entropy of the adapted policies."""
        nan = torch.full_like(self.query_return, math.nan)
        return {"first": self.returns[0], "last": self.query_return,
                "approx_kl": kl.unsqueeze(0), "clip_frac": nan.unsqueeze(0),
                "entropy": self.entropy.unsqueeze(0)}


def vpg_curve(vpg: VPG, theta: Params, tasks: TaskParams, steps: int, seed: int
              ) -> torch.Tensor:
    """``[steps + 1, T]`` (on the CPU): mean returns after k = 0..steps VPG steps from
    ``theta`` (MAML's own adaptation rule), with a generator seeded by ``seed``."""
    gen = torch.Generator(device=tasks.device).manual_seed(seed)
    return vpg.adapt(theta, tasks, steps, gen, evaluate_final=True).returns.cpu()
