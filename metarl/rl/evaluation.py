"""Fast adaptation of a policy on held-out tasks: the RL problem's evaluation.

Every initialisation is adapted to every test task for k = 0..K PPO updates, all tasks at once,
by the evaluation's inner learner (``[ppo]`` with the ``[eval.ppo]`` changes and ``episodes``
environments per task; batched PPO, or stable-baselines3 task by task when it is the run's
inner learner); the return recorded at k is the mean return of the episodes the policy collected
after k updates. The ``sb3`` method is stable-baselines3 PPO from its own random initialisation
(:func:`metarl.rl.sb3.runner.sb3_scratch_returns`). Second-order MAML is also scored by its own
rule, the vanilla policy-gradient steps it was trained for (``maml-vpg``: ``[vpg]`` with the
``[eval.vpg]`` changes, e.g. the step sizes of MAML's test, the evaluation's episodes and rollout
length, :func:`metarl.rl.maml.vpg_curve`). The
oracle is PPO from scratch trained
``oracle_iterations`` iterations on each test task, with the careful settings of ``[pretrain]``
(a long run needs small steps) and the evaluation's rollouts.
"""

from __future__ import annotations

import torch

from metarl.agents.actor_critic import ActorCritic
from metarl.agents.param_tree import Params
from metarl.agents.ppo import PPO
from metarl.agents.vpg import VPG
from metarl.envs import FAMILIES, TaskParams
from metarl.memory import tasks_per_call
from metarl.meta.learner import InnerLearner
from metarl.problem import Evaluator, SummaryStyle, initial_theta
from metarl.rl.config import EvalConfig, ExperimentConfig
from metarl.rl.maml import vpg_curve
from metarl.rl.memory import ppo_bytes
from metarl.rl.sb3.runner import sb3_scratch_returns


class RLEvaluator(Evaluator):
    """Returns after k PPO updates (see the module docstring).

    :param learner: the evaluation's inner learner.
    :param settings: the evaluation settings.
    :param config: the run's config.
    :param ppo: the evaluation's batched PPO (its family, policy and settings).
    :param vpg: MAML's own rule, with the evaluation's episodes and rollout length.
    """

    score = "return"

    def __init__(self, learner: InnerLearner, settings: EvalConfig, config: ExperimentConfig,
                 ppo: PPO, vpg: VPG) -> None:
        super().__init__(learner, settings)
        self.config, self.ppo, self.vpg = config, ppo, vpg

    @property
    def policy(self) -> ActorCritic:
        """The run's actor-critic."""
        return self.ppo.policy

    @property
    def checkpoint_rule(self) -> str:
        """``eval.checkpoint``: the last checkpoint, or the best on the validation tasks."""
        return str(self.settings.checkpoint)

    def max_tasks(self, device: torch.device, limit_gb: float = 0.0) -> int:
        """:func:`~metarl.memory.tasks_per_call` with the evaluation's PPO memory per task."""
        per_task = ppo_bytes(self.ppo.family, self.policy.hidden, self.ppo.config, 1)
        return tasks_per_call(device, per_task, limit_gb)

    @property
    def samples_per_update(self) -> int:
        """Env steps per task and update."""
        return self.ppo.config.num_envs * self.ppo.config.num_steps

    def initial_theta(self, seed: int, device: torch.device) -> Params:
        """The policy's random initialisation for seed ``seed``."""
        return initial_theta(self.policy, seed, device)

    def baseline_curve(self, method: str, tasks: TaskParams, updates: int, seed: int
                       ) -> torch.Tensor:
        """``sb3``: stable-baselines3 PPO from scratch, task by task."""
        if method != "sb3":
            return super().baseline_curve(method, tasks, updates, seed)
        return sb3_scratch_returns(self.ppo.config, self.config.policy, self.ppo.family, tasks,
                                   updates, seed)

    def own_rule(self, method: str) -> str | None:
        """``maml-vpg`` for ``maml``: MAML adapts by VPG steps."""
        return "maml-vpg" if method == "maml" else None

    def own_rule_curve(self, method: str, theta: Params, tasks: TaskParams, updates: int,
                       seed: int) -> torch.Tensor:
        """``maml``'s returns after k = 0..updates VPG steps."""
        if method != "maml":
            return super().own_rule_curve(method, theta, tasks, updates, seed)
        return vpg_curve(self.vpg, theta, tasks, updates, seed)

    def check_curve(self, method: str, seed: int, curve: torch.Tensor) -> None:
        """A one-line error when a task completed no episode in a rollout (no step limit to
        check beforehand), so that it has no return to score."""
        unscored = curve.isnan().any(dim=0)
        if unscored.any():
            raise ValueError(
                f"{method}, seed {seed}: {int(unscored.sum())} of {len(unscored)} tasks "
                f"completed no episode in a rollout of {self.ppo.config.num_steps} steps, so "
                "they have no return to score; give the evaluation longer rollouts "
                "(eval.ppo.num_steps)")

    @property
    def has_oracle(self) -> bool:
        """Whether ``eval.oracle_iterations`` asks for an oracle."""
        return bool(self.settings.oracle_iterations)

    def oracle(self, tasks: TaskParams, device: torch.device
               ) -> list[dict[str, float | str | int]]:
        """PPO from scratch, ``oracle_iterations`` iterations on each task (first seed)."""
        settings = self.settings
        if not settings.oracle_iterations:
            return []
        seed = settings.seeds[0]
        gen = torch.Generator(device=device).manual_seed(seed)
        # long PPO training: pretraining's careful settings
        oracle_ppo = PPO(self.ppo.family, self.policy, self.config.pretrain.apply(self.ppo.config))
        out = oracle_ppo.adapt(initial_theta(self.policy, seed, device), tasks,
                               settings.oracle_iterations, gen, evaluate_final=True)
        return [{"seed": seed, "task": task, "iterations": settings.oracle_iterations,
                 "return": out.returns[-1, task].item(),
                 "env_steps": settings.oracle_iterations * out.env_steps}
                for task in range(settings.test_tasks)]

    def summary_style(self) -> SummaryStyle:
        """Returns to two decimals at every k; the updates to the family's reward threshold."""
        settings = self.settings
        which = "held-out" if settings.split == "test" else "validation"
        family = self.ppo.family.name
        own = ("; maml-vpg: MAML's initialisation after k of its own VPG steps"
               if "maml" in settings.methods else "")
        title = (f"{family}: mean return after k inner PPO updates on {settings.test_tasks} "
                 f"{which} tasks ({settings.episodes} episodes per update, seeds "
                 f"{list(settings.seeds)}; ± 95% CI over tasks{own})")
        threshold = getattr(FAMILIES.get(family), "reward_threshold", None)
        return SummaryStyle(title, tuple(range(settings.updates + 1)), 2, threshold)
