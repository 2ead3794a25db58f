"""The RL problems: meta-RL on an environment family, with batched PPO or stable-baselines3 as
the inner learner (``[ppo] inner``).

Both read an :class:`~metarl.rl.config.ExperimentConfig`, train Reptile, first-order MAML,
second-order MAML (batched only) and multi-task pretraining from the same initialisation, and score
every method by the mean return after k inner PPO updates (:mod:`metarl.rl.evaluation`).
:class:`SB3RL` differs in its inner learner (:class:`~metarl.rl.sb3.learner.SB3Learner`, Reptile
only) and in what it can run: any Gymnasium env (``[env] family = "gym"``), without the batched
baselines.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch

from metarl.agents.ppo import PPO
from metarl.agents.vpg import VPG
from metarl.config import parse_assignment
from metarl.memory import MemoryNeed
from metarl.meta.distributed import Distributed
from metarl.meta.learner import InnerLearner
from metarl.meta.trainer import MetaTrainer, Trainer
from metarl.problem import EvalOption, PlotLabels, Problem, initial_theta
from metarl.rl.components import build_components, check_evaluation, check_pretraining
from metarl.rl.config import GYM_FAMILY, EvalConfig, ExperimentConfig
from metarl.rl.evaluation import RLEvaluator
from metarl.rl.learner import PPOLearner
from metarl.rl.memory import memory_needs
from metarl.rl.pretrain import Pretrainer
from metarl.rl.sb3.learner import SB3Learner

INNER_LEARNERS: dict[str, Callable[[PPO], InnerLearner]] = {"batched": PPOLearner,
                                                             "sb3": SB3Learner}
"""The inner learner of each ``ppo.inner`` setting, over a PPO's family, policy and settings."""

GYM_NEEDS_SB3 = ("env.family='gym' has no batched dynamics: it needs ppo.inner = \"sb3\", "
                 "eval.oracle_iterations = 0 and eval.methods among reptile, scratch, sb3")


class BatchedRL(Problem):
    """Meta-RL with the batched PPO inner learner (``[ppo] inner = "batched"``).

    :attr:`inner` names its inner learner in :data:`INNER_LEARNERS`; the evaluation adapts with
    the one its own settings name (``eval.ppo.inner`` may differ)."""

    name = "rl"
    label, article = "RL", "an"
    config_type = ExperimentConfig
    inner = "batched"
    eval_options = (
        EvalOption("episodes", {"type": int,
                                "help": "episodes (envs per task) per update (RL runs)"}),
        EvalOption("oracle_iterations", {"type": int, "help": "oracle PPO iterations (0: none)"}),
        EvalOption("checkpoint", {"choices": ("last", "best_val"),
                                  "help": "which checkpoint of each trained method to evaluate: "
                                          "the last, or the best on the validation tasks "
                                          "(RL runs)"}),
        EvalOption("ppo", {"action": "append", "metavar": "KEY=VALUE",
                           "help": "change a setting of the evaluation's inner learner (an "
                                   "eval.ppo override, e.g. --ppo clip_schedule=[20,2.5]; RL "
                                   "runs); repeatable"},
                   lambda items: dict(parse_assignment(item, "--ppo") for item in items)),
        EvalOption("vpg", {"action": "append", "metavar": "KEY=VALUE",
                           "help": "change a setting of MAML's own rule (maml-vpg; an eval.vpg "
                                   "override, e.g. --vpg step_sizes=[0.5,0.25]; RL runs); "
                                   "repeatable"},
                   lambda items: dict(parse_assignment(item, "--vpg") for item in items)),
    )

    def reads(self, data: dict[str, Any]) -> bool:
        """Every config that no other problem reads is an RL config."""
        return True

    def describes(self, config: Any) -> bool:
        """An RL config whose ``ppo.inner`` is this problem's."""
        return isinstance(config, ExperimentConfig) and config.ppo.inner == self.inner

    def validate(self, config: ExperimentConfig) -> None:
        """A ``gym`` family has no batched dynamics; MAML adapts its whole meta-batch at once."""
        if config.env.family == GYM_FAMILY:
            raise ValueError(GYM_NEEDS_SB3)
        if "maml" in config.eval.methods and config.meta.task_chunk not in (0, "auto"):
            raise ValueError(f"meta.task_chunk={config.meta.task_chunk} with maml in "
                             "eval.methods: MAML differentiates through the whole meta-batch at "
                             "once; set meta.task_chunk = 0 or \"auto\"")

    def check(self, config: ExperimentConfig, evaluate: bool) -> None:
        """The family, policy and PPO build; pretraining's and the evaluation's settings fit
        the family."""
        family = build_components(config).family
        check_pretraining(config, family)
        if evaluate:
            check_evaluation(config, family)

    def memory_needs(self, config: ExperimentConfig, train: bool, settings: EvalConfig | None,
                     processes: int = 1) -> list[MemoryNeed]:
        """Batched PPO adaptations of meta-batches, validation tasks, pretraining mixtures and
        the evaluation's tasks (:mod:`metarl.rl.memory`)."""
        family = build_components(config).family
        return memory_needs(config, family, train, settings, processes)

    def trainer(self, method: str, config: ExperimentConfig, device: torch.device,
                dist: Distributed | None = None) -> Trainer:
        """Reptile, first-order or second-order MAML over the inner learner, or multi-task
        pretraining."""
        family, policy, ppo = build_components(config)
        theta = initial_theta(policy, config.run.seed, device)
        if method == "pretrain":
            return Pretrainer(ppo, theta, config.meta, config.run.seed, config.pretrain)
        if method == "maml":
            learner = PPOLearner(ppo, VPG(family, policy, config.vpg))
            meta = config.meta
            if config.maml.init_log_std is not None and "log_std" in theta:
                theta["log_std"].fill_(config.maml.init_log_std)
            if config.maml.meta_iterations:
                meta = dataclasses.replace(meta, meta_iterations=config.maml.meta_iterations)
            return MetaTrainer(learner, theta, meta, config.run.seed, algorithm="maml",
                               maml=config.maml)
        return MetaTrainer(INNER_LEARNERS[self.inner](ppo), theta, config.meta, config.run.seed,
                           algorithm=method, fomaml=config.fomaml, dist=dist)

    def evaluator(self, config: ExperimentConfig, settings: EvalConfig) -> RLEvaluator:
        """Returns after k updates of the evaluation's inner learner (``[ppo]`` with the
        ``eval.ppo`` changes, which may change ``inner`` too)."""
        family, policy, _ = build_components(config)
        check_evaluation(config, family, settings)
        ppo = PPO(family, policy, settings.inner(config.ppo))
        vpg = VPG(family, policy, settings.own_vpg(config.vpg, ppo.config.num_steps))
        return RLEvaluator(INNER_LEARNERS[ppo.config.inner](ppo), settings, config, ppo, vpg)

    def eval_settings(self, config: ExperimentConfig, changes: dict[str, Any]) -> EvalConfig:
        """``ppo`` and ``vpg`` changes (``--ppo``/``--vpg KEY=VALUE``) go on top of the run's own
        ``eval.ppo`` and ``eval.vpg`` overrides; a bad one, or a bad ``--episodes``, fails
        before anything runs."""
        for name in ("ppo", "vpg"):
            given = changes.pop(name, None)
            if given:
                changes[name] = {**getattr(config.eval, name), **given}
        settings = super().eval_settings(config, changes)
        settings.own_vpg(config.vpg, settings.inner(config.ppo).num_steps)
        return settings

    def plot_labels(self, config: ExperimentConfig) -> PlotLabels:
        """Returns against PPO updates."""
        return PlotLabels(config.env.gym_id or config.env.family,
                          "inner PPO updates k on the new task",
                          "mean episode return after k updates", "env_steps",
                          "mean validation return")


class SB3RL(BatchedRL):
    """Meta-RL with stable-baselines3 PPO as the inner learner (``[ppo] inner = "sb3"``):
    Reptile only, and any Gymnasium env."""

    name = "rl-sb3"
    inner = "sb3"

    def validate(self, config: ExperimentConfig) -> None:
        """First-order MAML needs per-task gradients; a ``gym`` family has no batched
        dynamics for pretraining or the oracle."""
        methods = config.eval.methods
        for method in ("fomaml", "maml"):
            if method in methods:
                raise ValueError(f"eval.methods has {method}, which needs ppo.inner = "
                                 "\"batched\" (the SB3 inner learner supports Reptile)")
        if config.env.family == GYM_FAMILY and ("pretrain" in methods
                                                or config.eval.oracle_iterations):
            raise ValueError(GYM_NEEDS_SB3)
