"""Invalid task parameters fail with one line naming the field and the value."""

import math
import re

import gymnasium as gym
import pytest
import torch

import metarl.envs  # noqa: F401
from metarl.envs import CartPoleMass, Navigation2D


@pytest.mark.parametrize("field,value,message", [
    ("masscart", -1.0, "masscart=-1.0 must be > 0"),
    ("masspole", 0.0, "masspole=0.0 must be > 0"),
    ("length", math.nan, "length=nan must be finite"),
    ("force_mag", math.inf, "force_mag=inf must be finite"),
    ("length", [0.5, -2.0], "length=-2.0 must be > 0"),
    ("masspole", "heavy", "masspole='heavy' is not a number"),
    ("masspole", [[0.1, 0.2]], "masspole=[[0.1, 0.2]] has shape (1, 2)"),
])
def test_cartpole_bad_values(field, value, message):
    with pytest.raises(ValueError, match=re.escape(message)) as err:
        CartPoleMass().make_params(**{field: value})
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("goal,message", [
    ((0.1, 0.2, 0.3), "goal=(0.1, 0.2, 0.3) has shape (3,)"),
    ((math.nan, 0.0), "goal=nan must be finite"),
    (0.5, "goal=0.5 has shape ()"),
])
def test_navigation_bad_goals(goal, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Navigation2D().make_params(goal=goal)


def test_unknown_field_is_named():
    with pytest.raises(ValueError, match="unknown task parameter 'mass'"):
        CartPoleMass().make_params(mass=1.0)


def test_gym_make_rejects_bad_parameters():
    with pytest.raises(ValueError, match=re.escape("masspole=-0.5 must be > 0")):
        gym.make("metarl/CartPoleMass-v0", masspole=-0.5)
    with pytest.raises(ValueError, match=r"goal=.* has shape"):
        gym.make("metarl/Navigation2D-v0", goal=(1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="length=nan must be finite"):
        gym.make_vec("metarl/CartPoleMass-v0", num_envs=2, vectorization_mode="vector_entry_point",
                     length=[0.5, math.nan])


def test_per_task_values_and_broadcast():
    params = CartPoleMass().make_params(masspole=[0.1, 0.2, 0.3], length=1.0)
    assert params.num_tasks == 3
    assert params.length.tolist() == [1.0, 1.0, 1.0]
    assert params.masscart.tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="masspole has 3 values; expected 1 or num_tasks=2"):
        CartPoleMass().make_params(2, masspole=[0.1, 0.2, 0.3])


def test_index_cat_and_to_list_round_trip():
    family = Navigation2D()
    params = family.make_params(goal=[[0.1, 0.2], [0.3, 0.4], [-0.1, 0.0]])
    again = type(params).cat([params.index(0), params.index(slice(1, 3))])
    assert torch.equal(again.goal, params.goal)
    rebuilt = family.make_params(goal=[t["goal"] for t in params.to_list()])
    torch.testing.assert_close(rebuilt.goal, params.goal)


def test_num_tasks_is_validated_and_counts_must_agree():
    family = CartPoleMass()
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match=re.escape(f"num_tasks={bad!r} must be a positive")):
            family.make_params(bad)
    with pytest.raises(ValueError, match="masspole has 3, length has 4"):
        family.make_params(masspole=[0.1, 0.2, 0.3], length=[1.0, 1.0, 1.0, 1.0])


def test_created_params_do_not_alias_the_callers_tensor():
    masses = torch.tensor([0.1, 0.2], dtype=torch.float64)
    params = CartPoleMass().make_params(dtype=torch.float64, masspole=masses)
    masses[0] = -5.0
    assert params.masspole.tolist() == [0.1, 0.2]
