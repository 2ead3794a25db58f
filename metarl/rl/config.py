"""The configuration of an RL experiment: the sections beside ``[run]`` and ``[meta]``.

``[env]`` (the family and its task distribution), ``[policy]`` (the actor-critic), ``[ppo]`` (the
inner learner, :class:`~metarl.agents.ppo.PPOConfig`), ``[fomaml]``, ``[maml]`` and ``[vpg]``
(second-order MAML's outer step and inner learner), ``[pretrain]`` (long PPO
runs: pretraining and the oracle) and ``[eval]`` (fast adaptation on held-out tasks, with
``[eval.ppo]``: the evaluation's inner learner where it differs from ``[ppo]``). File format,
loader, one-line errors and ``--set`` overrides: :mod:`metarl.config`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from metarl.agents.ppo import PPOConfig
from metarl.agents.vpg import VPGConfig
from metarl.config import (
    CHECKPOINT_RULES,
    METHODS,
    ConfigError,
    RunConfig,
    build_config,
    check_methods,
    check_network,
    check_seed,
    sections_to_dict,
)
from metarl.envs import FAMILIES, LOCOMOTION_FAMILIES
from metarl.meta.fomaml import FomamlConfig
from metarl.meta.maml import MamlConfig
from metarl.meta.trainer import MetaConfig
from metarl.rl.pretrain import PretrainConfig

MAX_EPISODE_STEPS = 2**31 - 1  # the environments count an episode's steps in int32
GYM_FAMILY = "gym"  # any Gymnasium env, adapted to by the SB3 inner learner

RL_ONLY_METHODS = ("maml", "sb3")
"""RL's own methods: second-order MAML (trained), and stable-baselines3 PPO from scratch on each
task (evaluated only)."""


@dataclass(frozen=True)
class EnvConfig:
    """The environment family and its task distribution.

    :param family: a registered family (``metarl envs`` lists them), or ``gym`` for any
        Gymnasium env (``gym_id``; :mod:`metarl.envs.gym_tasks`; needs ``ppo.inner = "sb3"``).
    :param max_episode_steps: episode step limit (0: the family's default).
    :param split_seed: seed of the fixed validation and test task splits.
    :param ranges: sampling range overrides, ``{parameter: [low, high]}`` (for ``gym``: the
        task parameters themselves).
    :param gym_id: the Gymnasium id of a ``gym`` family.
    :param task_via: how a ``gym`` family's task reaches the env: ``make`` (keyword arguments of
        ``gym.make``) or ``set_task`` (a method of the unwrapped env).
    :param normalize_actions: the policy acts in ``[-1, 1]`` per action component, mapped to the
        family's bounds and clipped (rllab's ``normalize``, as MAML's released code ran its
        environments; a Box family only, not ``gym``).
    :param obs_norm: a MuJoCo locomotion family's observations shifted and scaled by fixed
        statistics of its robot (:mod:`metarl.envs.locomotion`).
    :param pin_threads: a MuJoCo locomotion family's engine threads pinned to the machine's
        cores (faster when one process steps the engine: one method trained, ``run.jobs = 1``,
        no ``--jobs``). A machine setting: a run resumes or is evaluated with either value.
    """

    family: str = "Navigation2D"
    max_episode_steps: int = 0
    split_seed: int = 0
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    gym_id: str = ""
    task_via: str = "make"
    normalize_actions: bool = False
    obs_norm: bool = False
    pin_threads: bool = False

    def __post_init__(self) -> None:
        if self.family not in FAMILIES and self.family != GYM_FAMILY:
            raise ValueError(f"env.family={self.family!r} must be one of {', '.join(FAMILIES)}, "
                             f"{GYM_FAMILY} (with env.gym_id) or Sine")
        if self.family == GYM_FAMILY and not self.gym_id:
            raise ValueError("env.family='gym' needs env.gym_id, a registered Gymnasium id")
        if not isinstance(self.normalize_actions, bool) or (self.normalize_actions
                                                             and self.family == GYM_FAMILY):
            raise ValueError(f"env.normalize_actions={self.normalize_actions!r} must be false, "
                             "or true for a registered family with a Box action space")
        if self.normalize_actions and not isinstance(FAMILIES[self.family].action_space,
                                                     gym.spaces.Box):
            raise ValueError(f"env.normalize_actions=true needs a Box action space; {self.family}"
                             f"'s is {FAMILIES[self.family].action_space}")
        for name in ("obs_norm", "pin_threads"):  # the MuJoCo engine's switches
            value = getattr(self, name)
            if not isinstance(value, bool) or (value and self.family not in LOCOMOTION_FAMILIES):
                raise ValueError(f"env.{name}={value!r} must be false, or true for a MuJoCo "
                                 f"locomotion family ({', '.join(LOCOMOTION_FAMILIES)})")
        if not 0 <= self.max_episode_steps <= MAX_EPISODE_STEPS:
            raise ValueError(f"env.max_episode_steps={self.max_episode_steps!r} must be from 0 "
                             "(the family's default) to 2**31 - 1 (an episode's step counter is "
                             "a 32-bit integer)")
        check_seed("env.split_seed", self.split_seed)


@dataclass(frozen=True)
class PolicyConfig:
    """The actor-critic MLP.

    :param hidden: hidden layer sizes (actor and critic alike).
    :param activation: ``tanh`` or ``relu``.
    :param init_log_std: initial log-std of a Gaussian action head.
    """

    hidden: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    init_log_std: float = 0.0

    def __post_init__(self) -> None:
        check_network("policy", self.hidden, self.activation)


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation of fast adaptation on held-out tasks.

    :param methods: initialisations compared (``reptile``, ``scratch``, ``pretrain``,
        ``fomaml``, ``maml``: second-order MAML, and ``sb3``: stable-baselines3 PPO from scratch,
        task by task); the trained ones are trained by ``metarl train``. ``maml`` is scored
        twice: by the evaluation's PPO like every method, and by its own rule, the VPG steps
        it was trained for (``maml-vpg`` in the results; ``[vpg]`` with ``episodes``
        environments per task and the evaluation's rollout length).
    :param test_tasks: number of held-out tasks evaluated.
    :param split: ``test`` (held-out tasks, for results) or ``val`` (validation tasks, for
        choosing settings without looking at the test tasks).
    :param updates: inner PPO updates ``K``; returns are recorded after k = 0..K.
    :param episodes: environments per task in every evaluation rollout (with episodes of the
        rollout's length, the episodes per update).
    :param seeds: evaluation seeds (rollouts, and scratch's random initialisation).
    :param oracle_iterations: PPO iterations of the oracle, trained from scratch on each test
        task with the ``[pretrain]`` settings (0: no oracle).
    :param checkpoint: which checkpoint of each trained method is evaluated: ``last``, or
        ``best_val``, the one whose mean return over k = 1..K on ``test_tasks`` validation tasks
        is highest (:mod:`metarl.runs.selection`; with ``split = "test"`` only).
    :param ppo: the evaluation's inner learner where it differs from the ``[ppo]`` section
        meta-training uses: ``{setting: value}`` overrides of ``[ppo]`` (a ``[eval.ppo]`` table),
        used for every method's adaptation on the test tasks and for ``best_val``'s scores;
        ``num_envs`` is ``episodes``. Choose them on the validation tasks.
    :param vpg: MAML's own rule at evaluation where it differs from ``[vpg]``: ``{setting:
        value}`` overrides (a ``[eval.vpg]`` table, e.g. ``step_sizes = [0.5, 0.25]``) for
        ``maml-vpg`` on the test tasks and for MAML's ``best_val`` scores; ``num_envs`` is
        ``episodes`` and ``num_steps`` the evaluation's rollout length.
    """

    methods: tuple[str, ...] = METHODS
    test_tasks: int = 40
    split: str = "test"
    updates: int = 3
    episodes: int = 40
    seeds: tuple[int, ...] = (0, 1, 2)
    oracle_iterations: int = 100
    checkpoint: str = "last"
    ppo: dict[str, Any] = field(default_factory=dict)
    vpg: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_methods(self.methods, METHODS + RL_ONLY_METHODS, self.split, self.seeds)
        if "num_envs" in self.ppo:
            raise ValueError(f"eval.ppo.num_envs={self.ppo['num_envs']!r}: the evaluation's "
                             "environments per task are eval.episodes")
        if self.vpg and "maml" not in self.methods:
            raise ValueError(f"eval.vpg={self.vpg!r} changes MAML's own rule, but eval.methods "
                             f"has no maml: {list(self.methods)!r}")
        for name in ("num_envs", "num_steps"):
            if name in self.vpg:
                raise ValueError(f"eval.vpg.{name}={self.vpg[name]!r}: MAML's own rule takes "
                                 "eval.episodes environments per task and the evaluation's "
                                 "rollout length")
        if self.checkpoint not in CHECKPOINT_RULES:
            raise ValueError(f"eval.checkpoint={self.checkpoint!r} must be one of "
                             f"{', '.join(CHECKPOINT_RULES)}")
        if self.checkpoint == "best_val" and self.split == "val":
            raise ValueError("eval.checkpoint='best_val' chooses on the validation tasks, so "
                             "eval.split='val' would report the tasks it chose on; use "
                             "eval.checkpoint='last' (--checkpoint last) there")
        for name in ("test_tasks", "episodes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"eval.{name}={getattr(self, name)!r} must be > 0")
        for name in ("updates", "oracle_iterations"):
            if getattr(self, name) < 0:
                raise ValueError(f"eval.{name}={getattr(self, name)!r} must be >= 0")

    def inner(self, ppo: PPOConfig) -> PPOConfig:
        """The evaluation's inner learner: ``ppo`` (the meta-training one) with the ``ppo``
        overrides and ``episodes`` environments per task; a one-line :class:`ConfigError`
        names a bad override."""
        try:
            inner = build_config(PPOConfig, self.ppo, "eval.ppo.", ppo)
            return inner.replace(num_envs=self.episodes)
        except ConfigError as err:
            if "eval.ppo." in str(err):  # build_config named the override already
                raise
            raise ConfigError(f"{err} (in the evaluation's inner learner: [ppo] with the "
                              f"eval.ppo overrides {self.ppo!r})") from None

    def own_vpg(self, vpg: VPGConfig, num_steps: int) -> VPGConfig:
        """MAML's own rule at evaluation: ``vpg`` (meta-training's) with the ``vpg`` overrides,
        ``episodes`` environments per task and rollouts of ``num_steps``; a one-line
        :class:`ConfigError` names a bad override."""
        try:
            own = build_config(VPGConfig, self.vpg, "eval.vpg.", vpg)
            return own.replace(num_envs=self.episodes, num_steps=num_steps)
        except ConfigError as err:
            if "eval.vpg." in str(err):
                raise
            raise ConfigError(f"{err} (in MAML's own rule at evaluation: [vpg] with the "
                              f"eval.vpg overrides {self.vpg!r})") from None


@dataclass(frozen=True)
class ExperimentConfig:
    """A whole RL experiment: what ``metarl train`` reads and saves as ``config.toml``.

    Which inner learner adapts (``ppo.inner``: batched PPO or stable-baselines3) makes it one
    problem or the other (:mod:`metarl.rl.problem`), each with its own checks."""

    run: RunConfig = field(default_factory=RunConfig)
    env: EnvConfig = field(default_factory=EnvConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    meta: MetaConfig = field(default_factory=MetaConfig)
    fomaml: FomamlConfig = field(default_factory=FomamlConfig)
    maml: MamlConfig = field(default_factory=MamlConfig)
    vpg: VPGConfig = field(default_factory=VPGConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self) -> None:
        inner = self.eval.inner(self.ppo)  # a bad eval.ppo override fails when the config is read
        self.eval.own_vpg(self.vpg, inner.num_steps)  # and a bad eval.vpg one
        if "sb3" in self.eval.methods and inner.bound_coef > 0:
            raise ValueError(f"eval.methods has sb3, whose stable-baselines3 PPO has no bound "
                             f"penalty, but the evaluation's bound_coef is {inner.bound_coef!r}: "
                             f"leave sb3 out or set eval.ppo.bound_coef = 0 (for every method)")

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain nested dict (tuples as lists, ``None`` as ``"none"``), as written to TOML."""
        return sections_to_dict(self)
