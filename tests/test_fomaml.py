"""First-order MAML against its definition."""

import torch

from metarl.agents.actor_critic import ActorCritic
from metarl.agents.ppo import PPO, PPOConfig
from metarl.envs import Navigation2D
from metarl.meta.fomaml import fomaml_direction
from metarl.meta.reptile import ReptileOuter
from metarl.rl.learner import post_adaptation_gradients


def test_outer_step_equals_definition_on_quadratic_tasks():
    # L_i(x) = 0.5 |x - c_i|^2; phi_i = theta - alpha grad L_i(theta);
    # FOMAML: theta' = theta - beta mean_i grad L_i(phi_i) = theta - beta mean_i (phi_i - c_i)
    g = torch.Generator().manual_seed(0)
    theta = {"x": torch.randn(5, generator=g, dtype=torch.float64)}
    centres = torch.randn(3, 5, generator=g, dtype=torch.float64)
    alpha, beta = 0.3, 0.1
    phi = theta["x"] - alpha * (theta["x"] - centres)
    leaf = phi.clone().requires_grad_()
    loss = 0.5 * (leaf - centres).square().sum(dim=1)
    grads = {"x": torch.autograd.grad(loss.sum(), leaf)[0]}
    new = ReptileOuter(theta, beta).apply(fomaml_direction(grads))
    expected = theta["x"] - beta * (phi - centres).mean(dim=0)
    torch.testing.assert_close(new["x"], expected, rtol=0, atol=1e-12)


def test_post_adaptation_gradients_are_per_task_and_do_not_leak():
    family = Navigation2D()
    policy = ActorCritic.for_spaces(family.observation_space, family.action_space, hidden=(8,))
    ppo = PPO(family, policy, PPOConfig(num_envs=3, num_steps=20, num_minibatches=1))
    tasks = family.tasks.sample(3, torch.Generator().manual_seed(1))
    adapted = {k: v + 0.1 * torch.randn(3, *v.shape, generator=torch.Generator().manual_seed(2))
               for k, v in policy.init(torch.Generator().manual_seed(0)).items()}
    both = post_adaptation_gradients(ppo, adapted, tasks, torch.Generator().manual_seed(3))
    # task 1 alone, with the other tasks' parameters replaced: its gradient must not change
    changed = {k: v.clone() for k, v in adapted.items()}
    for v in changed.values():
        v[0] += 1.0
        v[2] -= 1.0
    other = post_adaptation_gradients(ppo, changed, tasks, torch.Generator().manual_seed(3))
    for k in adapted:
        torch.testing.assert_close(other.grads[k][1], both.grads[k][1], rtol=1e-5, atol=1e-6)
        assert not torch.allclose(other.grads[k][0], both.grads[k][0])
    assert all(g.abs().sum() > 0 for g in both.grads.values())
    assert both.returns.shape == (3,)
