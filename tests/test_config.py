"""Experiment configs: TOML into typed dataclasses, one-line errors, overrides, round trip."""

import re
from pathlib import Path

import pytest

from metarl.config import ConfigError, config_differences, dump_config
from metarl.meta.trainer import CPU_TASK_CHUNK, MetaConfig
from metarl.problems import config_from_dict, load_config
from metarl.rl.components import build_components
from metarl.rl.config import ExperimentConfig

EXPERIMENTS = Path(__file__).parent.parent / "experiments"


def _load(tmp_path, text, overrides=None):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return load_config(path, overrides)


def test_defaults_types_and_overrides(tmp_path):
    config = _load(tmp_path, "[ppo]\nlearning_rate = 1e-3\ntarget_kl = 0.02\n[policy]\n"
                   "hidden = [32, 32]\n", ["meta.meta_batch=7", "env.family=CartPoleMass",
                                           "ppo.max_grad_norm=none", "meta.groups=['body']"])
    assert config.ppo.learning_rate == 1e-3 and config.ppo.target_kl == 0.02
    assert config.policy.hidden == (32, 32) and config.meta.meta_batch == 7
    assert config.env.family == "CartPoleMass" and config.ppo.max_grad_norm is None
    assert config.meta.groups == ("body",)
    assert config.ppo.num_epochs == ExperimentConfig().ppo.num_epochs  # untouched default
    assert isinstance(_load(tmp_path, "[ppo]\nlearning_rate = 1\n").ppo.learning_rate, float)
    assert _load(tmp_path, "", ["ppo.learning_rate=.001"]).ppo.learning_rate == 0.001


@pytest.mark.parametrize("text, message", [
    ("[ppo]\nlearing_rate = 0.1\n",
     "unknown key ppo.learing_rate (did you mean ppo.learning_rate?)"),
    ("[optimizer]\nlr = 1\n", "unknown key optimizer"),
    ("[ppo]\nnum_epochs = '10'\n", "ppo.num_epochs = '10' must be an integer"),
    ("[ppo]\nnum_epochs = 2.5\n", "ppo.num_epochs = 2.5 must be an integer"),
    ("[meta]\nanneal = 1\n", "meta.anneal = 1 must be true or false"),
    ("[ppo]\nnum_envs = 0\n", "ppo.num_envs=0 must be a positive integer"),
    ("[ppo]\ngamma = 1.5\n", "ppo.gamma=1.5 must be in [0, 1]"),
    ("[meta]\nepsilon = -1\n", "meta.epsilon=-1.0 must be > 0"),
    ("[meta]\ntask_chunk = -2\n", "meta.task_chunk=-2 must be \"auto\" or a non-negative integer"),
    ("[meta]\ntask_chunk = 'fast'\n", "meta.task_chunk='fast' must be \"auto\" or a non-negative"),
    ("[run]\nthreads = -1\n", "run.threads=-1 must be a non-negative integer"),
    ("[meta]\ngroups = ['torso']\n", "meta.groups=['torso'] must be a non-empty list of"),
    ("[env]\nfamily = 'Mars'\n", "env.family='Mars' must be one of Navigation2D, CartPoleMass"),
    ("[eval]\nmethods = ['reptile', 'protonet']\n", "eval.methods=['reptile', 'protonet'] must be"),
    ("[policy]\nactivation = 'gelu'\n", "policy.activation='gelu' must be one of tanh, relu"),
    ("[fomaml]\nlearning_rate = 0\n", "fomaml.learning_rate=0.0 must be > 0"),
    ("[env]\nranges = { goal = [0.5] }\n", "env.ranges.goal = [0.5] must be a list of 2 values"),
    ("ppo = 3\n", "ppo = 3 must be a table"),
    ("[eval.ppo]\nclip_shedule = [1.0]\n",
     "unknown key eval.ppo.clip_shedule (did you mean eval.ppo.clip_schedule?)"),
    ("[eval.ppo]\nlearning_rate = 'fast'\n", "eval.ppo.learning_rate = 'fast' must be a finite"),
    ("[eval.ppo]\nclip_schedule = [2.0, 0]\n", "ppo.clip_schedule=[2.0, 0.0] must hold numbers "
     "> 0 (in the evaluation's inner learner: [ppo] with the eval.ppo overrides"),
    ("[eval.ppo]\nnum_envs = 4\n",
     "eval.ppo.num_envs=4: the evaluation's environments per task are eval.episodes"),
    ("[eval]\nppo = 3\n", "eval.ppo = 3 must be a table"),
    ("[ppo]\nbound_coef = 0.1\n[eval]\nmethods = ['reptile', 'sb3']\n",
     "eval.methods has sb3, whose stable-baselines3 PPO has no bound penalty"),
    ("[run]\nseed = 4294967296\n", "run.seed=4294967296 must be from 0 to 2**32 - 1"),
    ("[eval]\nseeds = [0, -1]\n", "eval.seeds=[0, -1] must hold seeds from 0 to 2**32 - 1"),
    ("[env]\nsplit_seed = -3\n", "env.split_seed=-3 must be from 0 to 2**32 - 1"),
    ("[env]\nfamily = 'Sine'\nsplit_seed = -3\n", "env.split_seed=-3 must be from 0 to"),
])
def test_bad_input_fails_with_one_line_naming_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as err:
        _load(tmp_path, text)
    assert "\n" not in str(err.value)


def test_bad_override_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=re.escape("must look like section.key=value")):
        _load(tmp_path, "", ["learning_rate=1"])
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        _load(tmp_path, "[ppo\n")
    with pytest.raises(ConfigError, match="is a directory, not a TOML file"):
        load_config(tmp_path)
    (tmp_path / "latin1.toml").write_bytes("[run]\n# caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1.toml cannot be read as UTF-8 text"):
        load_config(tmp_path / "latin1.toml")


@pytest.mark.parametrize("name", sorted(p.name for p in EXPERIMENTS.glob("*.toml")))
def test_shipped_configs_load_and_round_trip(tmp_path, name):
    config = load_config(EXPERIMENTS / name)
    saved = tmp_path / "saved.toml"
    saved.write_text(dump_config(config))
    again = load_config(saved)
    assert again == config and config_differences(config, again) == []


def test_round_trip_keeps_none_and_ranges(tmp_path):
    config = _load(tmp_path, "[ppo]\ntarget_kl = 0.01\nmax_grad_norm = 'none'\n[env]\n"
                   "family = 'CartPoleMass'\nranges = { length = [0.3, 1.0] }\n")
    saved = tmp_path / "saved.toml"
    saved.write_text(dump_config(config))
    again = load_config(saved)
    assert again == config and again.env.ranges == {"length": (0.3, 1.0)}
    changed = _load(tmp_path, dump_config(config), ["ppo.target_kl=0.02"])
    assert config_differences(config, changed) == ["ppo.target_kl"]


def test_eval_ppo_changes_the_evaluation_inner_learner_only(tmp_path):
    config = _load(tmp_path, "[ppo]\nclip_coef = 5.0\nlearning_rate = 3e-3\n[eval]\n"
                   "episodes = 7\n[eval.ppo]\nclip_schedule = [20, 2.5]\n")
    assert config.ppo.clip_schedule == () and config.ppo.clip_coef == 5.0
    inner = config.eval.inner(config.ppo)
    assert inner.clip_schedule == (20.0, 2.5) and inner.num_envs == 7
    assert inner == config.ppo.replace(clip_schedule=(20.0, 2.5), num_envs=7)
    saved = tmp_path / "saved.toml"
    saved.write_text(dump_config(config))
    again = load_config(saved)
    assert again == config and again.eval.inner(again.ppo) == inner
    assert _load(tmp_path, "", ["eval.ppo.learning_rate=1e-2"]).eval.ppo == {
        "learning_rate": 1e-2}


def test_normalize_actions_needs_a_box_family_and_reaches_the_family():
    config = config_from_dict({"env": {"family": "Navigation2D", "normalize_actions": True}})
    family = build_components(config).family
    assert family.normalize_actions and family.action_space.high.tolist() == [1.0, 1.0]
    with pytest.raises(ValueError) as err:
        config_from_dict({"env": {"family": "CartPoleMass", "normalize_actions": True}})
    assert "env.normalize_actions=true needs a Box action space" in str(err.value)
    assert "\n" not in str(err.value)


def test_task_chunk_auto_chunks_on_the_cpu_only_and_never_for_maml():
    auto = MetaConfig()
    assert auto.task_chunk == "auto"
    assert auto.chunk("cpu") == CPU_TASK_CHUNK and auto.chunk("cuda") == 0
    assert auto.chunk("cpu", "maml") == 0
    assert MetaConfig(task_chunk=7).chunk("cuda") == 7
    loaded = config_from_dict({"meta": {"task_chunk": "auto"}, "run": {"threads": 0}})
    assert loaded.meta.task_chunk == "auto" and loaded.run.threads == 0
