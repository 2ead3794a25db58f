"""Seeded task sampling and fixed splits."""

import pytest
import torch

from metarl.config import MAX_SEED
from metarl.envs import FAMILIES, CartPoleDirection, CartPoleMass, Navigation2D, TaskSampler


@pytest.mark.parametrize("family_type", list(FAMILIES.values()))
def test_train_draws_are_seeded(family_type):
    sampler = family_type().tasks
    a = sampler.sample(50, torch.Generator().manual_seed(1))
    b = sampler.sample(50, torch.Generator().manual_seed(1))
    c = sampler.sample(50, torch.Generator().manual_seed(2))
    for name, t in a.as_dict().items():
        assert torch.equal(t, b.as_dict()[name])
    assert any(not torch.equal(t, c.as_dict()[n]) for n, t in a.as_dict().items())


@pytest.mark.parametrize("family_type", list(FAMILIES.values()))
def test_fixed_splits_are_stable_prefixes_and_distinct(family_type):
    sampler = family_type().tasks
    test40 = sampler.sample(40, split="test")
    test100 = sampler.sample(100, split="test")
    again = family_type().tasks.sample(40, split="test")
    val = sampler.sample(40, split="val")
    for name, t in test40.as_dict().items():
        assert torch.equal(t, test100.as_dict()[name][:40])
        assert torch.equal(t, again.as_dict()[name])
    first = family_type.params_type.SPECS[0].name
    assert not torch.equal(getattr(val, first), getattr(test40, first))
    other_seed = family_type(split_seed=1).tasks.sample(40, split="test")
    assert not torch.equal(getattr(other_seed, first), getattr(test40, first))


def test_samples_stay_in_ranges():
    goals = Navigation2D().tasks.sample(2000, torch.Generator().manual_seed(0)).goal
    assert goals.min() >= -0.5 and goals.max() <= 0.5
    assert goals.min() < -0.49 and goals.max() > 0.49
    params = CartPoleMass().tasks.sample(2000, torch.Generator().manual_seed(0))
    for spec in CartPoleMass.params_type.SPECS:
        values = getattr(params, spec.name)
        assert values.min() >= spec.low * (1 - 1e-6) and values.max() <= spec.high * (1 + 1e-6)


def test_log_uniform_is_uniform_in_log_space():
    values = CartPoleMass().tasks.sample(20000, torch.Generator().manual_seed(0)).masscart
    spec = CartPoleMass.params_type.spec("masscart")
    mid = (spec.low * spec.high) ** 0.5  # geometric midpoint: half the mass below it
    share = (values < mid).float().mean().item()
    assert abs(share - 0.5) < 0.02


def test_range_overrides_and_their_errors():
    sampler = TaskSampler(CartPoleMass.params_type, ranges={"masspole": (0.2, 0.3)})
    values = sampler.sample(500, torch.Generator().manual_seed(0)).masspole
    assert values.min() >= 0.2 - 1e-6 and values.max() <= 0.3 + 1e-6
    with pytest.raises(ValueError, match="unknown task parameter 'mass' in ranges"):
        TaskSampler(CartPoleMass.params_type, ranges={"mass": (1, 2)})
    with pytest.raises(ValueError, match=r"range of masspole=\(0.3, 0.2\) needs low <= high"):
        TaskSampler(CartPoleMass.params_type, ranges={"masspole": (0.3, 0.2)})
    with pytest.raises(ValueError, match=r"range of length=\(0.0, 1.0\) must be > 0"):
        TaskSampler(CartPoleMass.params_type, ranges={"length": (0.0, 1.0)})


def test_bad_split_and_count():
    sampler = Navigation2D().tasks
    with pytest.raises(ValueError, match="split='holdout' must be one of train, val, test"):
        sampler.sample(3, split="holdout")
    with pytest.raises(ValueError, match="number of tasks n=0"):
        sampler.sample(0)


def test_dtype_does_not_change_tasks():
    """Tasks are drawn in float64 on the CPU, then cast and moved: the draw is device-free."""
    sampler = Navigation2D().tasks
    a = sampler.sample(40, split="test", dtype=torch.float64)
    b = sampler.sample(40, split="test", dtype=torch.float32)
    assert a.goal.dtype == torch.float64 and b.goal.dtype == torch.float32
    torch.testing.assert_close(a.goal.float(), b.goal)


def _task_set(tasks) -> set:
    return {tuple((k, tuple(torch.as_tensor(v).reshape(-1).tolist())) for k, v in sorted(t.items()))
            for t in tasks.to_list()}


@pytest.mark.parametrize("family_type", [Navigation2D, CartPoleMass, CartPoleDirection])
def test_training_draws_never_hit_a_validation_or_test_task(family_type):
    """The three splits share no task: 4000 training draws (from several run seeds) against the
    first 200 validation and 200 test tasks, and validation against test, task by task."""
    # the guarantee: a fixed split's generators are seeded above every run seed
    for split_seed in (0, 1, MAX_SEED):
        sampler = family_type(split_seed=split_seed).tasks
        assert min(sampler.chunk_seed(s, c) for s in ("val", "test") for c in (0, 10**6)) > \
            MAX_SEED
    sampler = family_type().tasks
    val = _task_set(sampler.sample(200, split="val"))
    test = _task_set(sampler.sample(200, split="test"))
    assert len(val) == 200 and len(test) == 200  # no task repeated inside a split
    assert not val & test
    for seed in (0, 1, 2, MAX_SEED):  # run seeds
        train = _task_set(sampler.sample(1000, torch.Generator().manual_seed(seed)))
        assert not train & val and not train & test
