"""The Python API (``import metarl``): the commands as functions, with the CLI's checks."""

import math

import pytest
from tiny import tiny

import metarl
from metarl.config import ConfigError, dump_config, read_toml
from metarl.rl.config import EnvConfig, ExperimentConfig

TINY = tiny(eval={"ppo": {"clip_coef": 3.0}})


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny Navigation2D run trained from a TOML file's path, evaluated and plotted."""
    folder = tmp_path_factory.mktemp("api")
    path = folder / "tiny.toml"
    path.write_text(dump_config(metarl.config_from_dict(TINY)))
    return metarl.train(path, folder / "run", quiet=True)


def test_train_from_a_path_evaluates_and_plots(run):
    assert (run.eval / "summary.csv").exists() and (run.plots / "adaptation.png").exists()
    assert metarl.problem_of(run.load_config()).name == "rl"


def test_evaluate_changes_settings_as_the_command_line_does(run):
    rows = metarl.evaluate(run, methods=("scratch",), updates=2, quiet=True,
                           ppo={"learning_rate": 1e-3})
    assert {(r["method"], r["k"]) for r in rows} == {("scratch", 0), ("scratch", 1),
                                                       ("scratch", 2)}
    assert all(math.isfinite(float(r["mean"])) for r in rows)
    # ppo= goes on top of the run's own [eval.ppo], as --ppo does
    assert read_toml(run.eval / "eval.toml")["eval"]["ppo"] == {"clip_coef": 3.0,
                                                               "learning_rate": 1e-3}


def test_evaluate_names_a_setting_it_cannot_take(run):
    with pytest.raises(ConfigError, match=r"--shots=5 applies to Sine runs; .* is an RL run"):
        metarl.evaluate(run, shots=5)
    with pytest.raises(ConfigError, match="bogus is not an evaluation setting"):
        metarl.evaluate(run, bogus=1)
    with pytest.raises(ConfigError, match=r"eval\.ppo\.learing_rate"):
        metarl.evaluate(run, ppo={"learing_rate": 1e-3})
    # vpg= changes MAML's own rule (eval.vpg), so it needs maml among the methods
    with pytest.raises(ConfigError, match=r"eval\.vpg=.* eval\.methods has no maml"):
        metarl.evaluate(run, vpg={"step_sizes": [0.5, 0.25]})
    with pytest.raises(ConfigError, match=r"unknown key eval\.vpg\.step_size "):
        metarl.evaluate(run, methods=("reptile", "maml"), vpg={"step_size": [0.5]})


def test_a_config_built_in_code_gets_the_checks_of_a_loaded_one(tmp_path):
    """The kind-specific checks run before training, not only when a file is loaded."""
    config = ExperimentConfig(env=EnvConfig(family="gym", gym_id="CartPole-v1"))
    with pytest.raises(ConfigError, match=r"env\.family='gym' has no batched dynamics"):
        metarl.train(config, tmp_path / "run", quiet=True)
    assert not (tmp_path / "run").exists()
