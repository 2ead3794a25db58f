"""Batched evaluation: every method x seed x task adapted at once, each as it would be alone."""

import pytest
import torch

from metarl.agents.actor_critic import ActorCritic
from metarl.agents.ppo import PPO, PPOConfig
from metarl.envs import CartPoleMass, Navigation2D
from metarl.envs.task_streams import TaskBlocks, TaskShard, draw, draw_rows, shuffle
from metarl.problem import initial_theta
from metarl.rl.learner import PPOLearner, adaptation_curves, adaptation_returns


def _ppo(family, **changes) -> PPO:
    policy = ActorCritic.for_spaces(family.observation_space, family.action_space, hidden=(16,))
    settings = dict(num_envs=4, num_steps=100, num_epochs=2, num_minibatches=4, learning_rate=1e-2)
    return PPO(family, policy, PPOConfig(**{**settings, **changes}))


def test_blocks_draw_each_block_as_it_would_alone():
    blocks = TaskBlocks.seeded([3, 5, 3], 2)
    drawn = draw(blocks, (6, 4), lambda shape, g: torch.rand(shape, generator=g))
    alone = [torch.rand((2, 4), generator=torch.Generator().manual_seed(s)) for s in (3, 5, 3)]
    assert torch.equal(drawn, torch.cat(alone))
    assert torch.equal(drawn[:2], drawn[4:])  # the same seed, the same numbers
    order = shuffle(blocks, 10, 6, "cpu")
    assert order.shape == (6, 10) and torch.equal(order[0], order[1])
    # each block's generator moved on by its own draws only, exactly as a lone one
    for block, (g, s) in enumerate(zip(blocks.generators, (3, 5, 3), strict=True)):
        lone = torch.Generator().manual_seed(s)
        torch.rand((2, 4), generator=lone)
        assert torch.equal(order[2 * block], torch.randperm(10, generator=lone))
        assert torch.equal(torch.randperm(10, generator=g), torch.randperm(10, generator=lone))


def test_blocks_draw_rows_block_by_block_and_refuse_wrong_shapes():
    blocks = TaskBlocks.seeded([1, 2, 3], 2)
    rows = torch.tensor([0, 1, 1, 5])  # block 1 (tasks 2, 3) has none: it draws nothing
    got = draw_rows(blocks, rows, lambda r, g: torch.rand(len(r), generator=g))
    want = torch.cat([torch.rand(3, generator=torch.Generator().manual_seed(1)),
                      torch.rand(1, generator=torch.Generator().manual_seed(3))])
    assert torch.equal(got, want)
    assert torch.equal(torch.rand(1, generator=blocks.generators[1]),
                       torch.rand(1, generator=torch.Generator().manual_seed(2)))
    with pytest.raises(ValueError, match="does not lead with the 6 tasks of TaskBlocks"):
        draw(blocks, (5, 2), lambda shape, g: torch.rand(shape, generator=g))
    with pytest.raises(ValueError, match="one generator per block"):
        TaskBlocks((torch.Generator(),), (2, 2))
    with pytest.raises(ValueError, match="draws for whole meta-batches"):
        draw_rows(TaskShard(torch.Generator(), 0, 2, 4), rows, lambda r, g: r)


@pytest.mark.parametrize("family", [Navigation2D(), CartPoleMass()], ids=lambda f: f.name)
def test_batched_curves_equal_each_start_adapted_alone(family):
    """CartPoleMass's episodes end at different times and restart from random states: the
    restarts of one block must not take numbers from another's generator."""
    ppo = _ppo(family)
    tasks = family.tasks.sample(3, torch.Generator().manual_seed(0), split="test")
    thetas = [initial_theta(ppo.policy, s, torch.device("cpu")) for s in (0, 1)]
    starts = [(thetas[0], 0), (thetas[1], 0), (thetas[0], 7), (thetas[1], 7)]
    batched = adaptation_curves(ppo, starts, tasks, 2)
    assert batched.shape == (4, 3, 3)
    for (theta, seed), curve in zip(starts, batched, strict=True):
        alone = adaptation_returns(ppo, theta, tasks, 2, seed)
        torch.testing.assert_close(curve, alone, rtol=1e-5, atol=1e-5)
    chunked = adaptation_curves(ppo, starts, tasks, 2, max_tasks=7)  # 2 starts per call
    torch.testing.assert_close(chunked, batched, rtol=1e-5, atol=1e-5)
    assert not torch.equal(batched[0], batched[2])  # the seed matters


def test_learner_curves_and_a_lone_curve_with_a_plain_generator_agree():
    """One start through TaskBlocks is the plain-generator adaptation, bit for bit."""
    family = CartPoleMass()
    ppo = _ppo(family)
    tasks = family.tasks.sample(2, torch.Generator().manual_seed(1), split="val")
    theta = initial_theta(ppo.policy, 3, torch.device("cpu"))
    plain = ppo.adapt(theta, tasks, 2, torch.Generator().manual_seed(4), evaluate_final=True)
    learner = PPOLearner(ppo)
    assert torch.equal(learner.evaluation_curves([(theta, 4)], tasks, 2)[0], plain.returns)
    assert torch.equal(learner.evaluation_curve(theta, tasks, 2, 4), plain.returns)
