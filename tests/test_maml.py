"""Second-order MAML: the meta-gradient (finite differences, per-task autograd, first order),
conjugate gradient, the line search's KL bound, the linear baseline and the VPG step."""

import math

import pytest
import torch

from metarl.agents.actor_critic import ActorCritic
from metarl.agents.param_tree import Params, flatten, unflatten
from metarl.agents.ppo import PPO, PPOConfig
from metarl.agents.vpg import (
    VPG,
    VPGBatch,
    VPGConfig,
    episode_steps,
    fit_linear_baseline,
    vpg_loss,
    vpg_step,
)
from metarl.envs import make_family
from metarl.meta.maml import (
    MamlConfig,
    conjugate_gradient,
    kl_hessian_product,
    line_search,
    linearise,
    meta_gradient,
    trpo_step,
)
from metarl.meta.trainer import MetaConfig, MetaTrainer
from metarl.problems import config_from_dict, problem_of
from metarl.rl.learner import PPOLearner
from metarl.rl.maml import RLMamlObjective


def _objective(steps: int = 1, tasks: int = 3, hidden: tuple[int, ...] = (6,),
               discrete: bool = False) -> tuple[RLMamlObjective, Params, list[str]]:
    """A small MAML objective in float64 (its stored data cast after collection)."""
    family = make_family("CartPoleDirection" if discrete else "Navigation2D",
                         max_episode_steps=20)
    policy = ActorCritic.for_spaces(family.observation_space, family.action_space,
                                    hidden=hidden, activation="tanh")
    vpg = VPG(family, policy, VPGConfig(learning_rate=0.5, num_envs=3, num_steps=20))
    theta = policy.init(torch.Generator().manual_seed(0))
    batch = family.tasks.sample(tasks, torch.Generator().manual_seed(1))
    objective = RLMamlObjective(vpg, theta, batch, steps, torch.Generator().manual_seed(2))
    objective.batches = [VPGBatch(b.obs.double(), b.actions if discrete else b.actions.double(),
                                  b.advantages.double()) for b in objective.batches]
    q = objective.query
    objective.query = VPGBatch(q.obs.double(), q.actions if discrete else q.actions.double(),
                               q.advantages.double())
    objective.old_log_prob = objective.old_log_prob.double()
    objective.old_out = objective.old_out.double()
    if objective.old_log_std is not None:
        objective.old_log_std = objective.old_log_std.double()
    theta = {k: v.double() for k, v in theta.items()}
    names = [k for k in theta if not k.startswith("critic.")]
    return objective, theta, names


def _mean_loss(objective: RLMamlObjective, theta: Params) -> float:
    loss, _ = objective.query_losses(objective.adapted(theta))
    return loss.mean().item()


@pytest.mark.parametrize("steps, discrete", [(1, False), (2, False), (1, True)])
def test_meta_gradient_equals_finite_differences_of_the_post_adaptation_objective(
        steps, discrete):
    objective, theta, names = _objective(steps, discrete=discrete)
    grads, _ = meta_gradient(objective, theta, names)
    flat = flatten({k: theta[k] for k in names})
    gen = torch.Generator().manual_seed(3)
    for _ in range(3):  # directional derivatives along random directions
        direction = torch.randn(flat.shape, generator=gen, dtype=flat.dtype)
        direction /= direction.norm()
        h = 1e-5
        moved = {}
        for sign in (1, -1):
            values = unflatten(flat + sign * h * direction, {k: theta[k] for k in names})
            moved[sign] = _mean_loss(objective, {**theta, **values})
        fd = (moved[1] - moved[-1]) / (2 * h)
        analytic = flatten(grads).dot(direction).item()
        assert analytic == pytest.approx(fd, rel=1e-5, abs=1e-9)


def test_meta_gradient_keeps_the_second_order_term():
    """Differentiating through the inner step is not the first-order approximation."""
    objective, theta, names = _objective()
    grads, _ = meta_gradient(objective, theta, names)
    phi = {k: v.detach().requires_grad_() for k, v in objective.adapted(theta).items()}
    loss, _ = objective.query_losses(phi)
    first = torch.autograd.grad(loss.mean(), [phi[k] for k in names])
    first_order = torch.cat([g.sum(dim=0).reshape(-1) for g in first])
    second = flatten(grads)
    assert (second - first_order).norm() > 1e-3 * second.norm()


def test_batched_meta_gradient_equals_per_task_autograd():
    """All tasks in one pass give each task's meta-gradient as a task-by-task autograd loop
    (plain ``torch.autograd.grad`` with ``create_graph``) does."""
    objective, theta, names = _objective(tasks=4)
    grads, _ = meta_gradient(objective, theta, names)
    policy, lr = objective.vpg.policy, objective.vpg.config.learning_rate
    total = {k: torch.zeros_like(theta[k]) for k in names}
    for i in range(4):
        leaves = {k: v.clone().requires_grad_() for k, v in theta.items()}
        one = {k: v.unsqueeze(0) for k, v in leaves.items()}
        b = objective.batches[0]
        inner = vpg_loss(policy, one, VPGBatch(b.obs[i:i + 1], b.actions[i:i + 1],
                                               b.advantages[i:i + 1])).sum()
        g = torch.autograd.grad(inner, [leaves[k] for k in names], create_graph=True)
        phi = dict(one)
        for k, gk in zip(names, g, strict=True):
            phi[k] = (leaves[k] - lr * gk).unsqueeze(0)
        q = objective.query
        log_prob, _ = policy.log_prob(phi, q.obs[i:i + 1], q.actions[i:i + 1])
        ratio = torch.exp(log_prob - objective.old_log_prob[i:i + 1])
        loss = -(ratio * q.advantages[i:i + 1]).mean()
        for k, gk in zip(names, torch.autograd.grad(loss, [leaves[k] for k in names]),
                         strict=True):
            total[k] += gk / 4
    for k in names:
        torch.testing.assert_close(grads[k], total[k], rtol=1e-5, atol=1e-8)


def test_conjugate_gradient_solves_a_known_system():
    gen = torch.Generator().manual_seed(0)
    m = torch.randn(12, 12, generator=gen, dtype=torch.float64)
    a = m @ m.T + 0.5 * torch.eye(12, dtype=torch.float64)
    b = torch.randn(12, generator=gen, dtype=torch.float64)
    x = conjugate_gradient(lambda v: a @ v, b, iterations=12)
    torch.testing.assert_close(x, torch.linalg.solve(a, b), rtol=1e-6, atol=1e-8)
    # fewer iterations: the residual shrinks but the system is not yet solved
    x3 = conjugate_gradient(lambda v: a @ v, b, iterations=3)
    assert (a @ x3 - b).norm() < b.norm()


def test_line_search_never_accepts_a_step_that_breaks_the_kl_bound():
    def quadratic(kl_scale: float):  # loss falls along the step, KL grows quadratically
        return lambda f: (-f, kl_scale * f * f)

    for kl_scale in (0.001, 0.01, 0.05, 1.0, 100.0):
        fraction, _, kl = line_search(quadratic(kl_scale), 0.0, 0.01, 15, 0.8)
        assert kl <= 0.01
        if fraction:
            assert fraction == pytest.approx(
                max(0.8 ** i for i in range(15) if kl_scale * 0.64 ** i <= 0.01))
    # a loss that only gets worse, or a NaN KL, is never accepted
    assert line_search(lambda f: (f, 0.0), 0.0, 0.01, 15, 0.8)[0] == 0.0
    assert line_search(lambda f: (-f, math.nan), 0.0, 0.01, 15, 0.8)[0] == 0.0


def test_trpo_step_keeps_the_measured_kl_within_max_kl_and_lowers_the_loss():
    objective, theta, names = _objective()
    config = MamlConfig(max_kl=1e-3)
    step = trpo_step(objective, theta, names, config)
    assert step.fraction > 0
    moved = {k: v + step.direction[k] if k in step.direction else v for k, v in theta.items()}
    loss, kl = objective.query_losses(objective.adapted(moved))
    assert kl.mean().item() <= config.max_kl
    assert loss.mean().item() < step.loss.mean().item()
    torch.testing.assert_close(kl, step.kl)


def test_kl_hessian_product_matches_finite_differences_of_the_kl_gradient():
    """The Hessian-vector product through the inner step, against differences of the exact
    KL gradient at theta +- h v."""
    objective, theta, names = _objective()
    lin = linearise(objective, theta, names, kl=True)
    product = kl_hessian_product(lin, damping=0.0)
    gen = torch.Generator().manual_seed(5)
    v = torch.randn(flatten(lin.gradient).shape, generator=gen, dtype=torch.float64)
    h = 1e-5
    grads = []
    for sign in (1, -1):
        values = unflatten(flatten({k: theta[k] for k in names}) + sign * h * v, lin.gradient)
        leaves = {k: x.requires_grad_() for k, x in values.items()}
        _, kl = objective.query_losses(objective.adapted({**theta, **leaves}))
        grads.append(torch.cat([g.reshape(-1) for g in torch.autograd.grad(
            kl.mean(), list(leaves.values()))]))
    torch.testing.assert_close(product(v), (grads[0] - grads[1]) / (2 * h), rtol=1e-4,
                               atol=1e-8)


def test_linear_baseline_recovers_a_linear_target_and_survives_a_singular_design():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 50, 4, generator=gen)
    w = torch.randn(2, 4, generator=gen)
    y = (x @ w.unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(fit_linear_baseline(x, y), w, rtol=1e-3, atol=1e-3)
    twins = torch.cat([x[..., :1], x[..., :1]], dim=-1)  # two equal columns: singular gram
    assert torch.isfinite(fit_linear_baseline(twins, y)).all()


def test_episode_steps_restart_after_every_episode_end():
    terminated = torch.tensor([0, 1, 0, 0, 0, 0], dtype=torch.bool).view(6, 1, 1)
    truncated = torch.tensor([0, 0, 0, 1, 0, 0], dtype=torch.bool).view(6, 1, 1)
    assert episode_steps(terminated, truncated).flatten().tolist() == [0, 1, 0, 1, 0, 1]


def test_vpg_step_is_gradient_descent_on_each_task_alone():
    objective, theta, names = _objective(tasks=2)
    policy, batch = objective.vpg.policy, objective.batches[0]
    stacked = {k: v.unsqueeze(0).repeat(2, *[1] * v.dim()) for k, v in theta.items()}
    stepped = vpg_step(policy, stacked, batch, 0.5)
    one = {k: v[:1].clone().requires_grad_() for k, v in stacked.items()}
    loss = vpg_loss(policy, one, VPGBatch(batch.obs[:1], batch.actions[:1],
                                          batch.advantages[:1])).sum()
    grads = torch.autograd.grad(loss, [one[k] for k in names])
    for k, g in zip(names, grads, strict=True):
        torch.testing.assert_close(stepped[k][:1], one[k].detach() - 0.5 * g)
    for k in theta:
        if k.startswith("critic."):
            assert torch.equal(stepped[k], stacked[k])


def test_maml_learns_navigation_in_a_few_outer_steps():
    """Eight TRPO steps on 10 goals raise the post-adaptation return of the meta-batches."""
    family = make_family("Navigation2D")
    policy = ActorCritic.for_spaces(family.observation_space, family.action_space,
                                    hidden=(32, 32), activation="relu")
    learner = PPOLearner(PPO(family, policy, PPOConfig()),
                         VPG(family, policy, VPGConfig(num_envs=10)))
    trainer = MetaTrainer(learner, policy.init(torch.Generator().manual_seed(0)),
                          MetaConfig(meta_iterations=8, meta_batch=10, val_every=100),
                          seed=0, algorithm="maml")
    records = [trainer.step() for _ in range(8)]
    assert all(0 < r.step_size <= 1 for r in records)
    assert all(r.approx_kl <= 0.01 for r in records)
    first = sum(r.train_return_last for r in records[:2]) / 2
    last = sum(r.train_return_last for r in records[-2:]) / 2
    assert last > first + 10, (first, last)


@pytest.mark.parametrize(("sections", "message"), [
    ({"maml": {"max_kl": -1.0}}, "maml.max_kl=-1.0 must be > 0"),
    ({"maml": {"optimizer": "sgd"}}, "maml.optimizer='sgd' must be one of trpo, adam"),
    ({"maml": {"line_search_backtrack": 1.0}}, "maml.line_search_backtrack=1.0 must be in (0, 1)"),
    ({"maml": {"init_log_std": float("nan")}}, "maml.init_log_std = nan must be a finite number"),
    ({"vpg": {"gae_lambda": 2.0}}, "vpg.gae_lambda=2.0 must be in [0, 1]"),
    ({"meta": {"task_chunk": 5}}, "meta.task_chunk=5 with maml in eval.methods"),
    ({"ppo": {"inner": "sb3"}}, "eval.methods has maml, which needs ppo.inner = \"batched\""),
])
def test_bad_maml_settings_fail_with_one_line_naming_the_key(sections, message):
    data = {"eval": {"methods": ["reptile", "maml"]}, **sections}
    with pytest.raises(ValueError) as err:
        config_from_dict(data)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_maml_is_an_rl_method():
    with pytest.raises(ValueError, match=r"eval\.methods="):
        config_from_dict({"env": {"family": "Sine"}, "eval": {"methods": ["reptile", "maml"]}})


def test_vpg_step_sizes_apply_in_order_the_last_repeated():
    """MAML's point-robot test schedule (0.5, then 0.25): each step of ``adapt`` takes its own
    size, in order, and the training objective replays the same sizes."""
    family = make_family("Navigation2D", max_episode_steps=20)
    policy = ActorCritic.for_spaces(family.observation_space, family.action_space, hidden=(6,))
    config = VPGConfig(learning_rate=0.1, num_envs=3, num_steps=20, step_sizes=(0.5, 0.25))
    assert [config.step_size(k) for k in range(4)] == [0.5, 0.25, 0.25, 0.25]
    assert VPGConfig(learning_rate=0.1).step_size(3) == 0.1
    theta = policy.init(torch.Generator().manual_seed(0))
    tasks = family.tasks.sample(2, torch.Generator().manual_seed(1))
    vpg = VPG(family, policy, config)
    adapted = vpg.adapt(theta, tasks, 3, torch.Generator().manual_seed(2)).params
    # the same rollouts, stepped by hand with the schedule
    params = {k: v.unsqueeze(0).repeat(2, *[1] * v.dim()) for k, v in theta.items()}
    gen = torch.Generator().manual_seed(2)
    env = vpg.env(tasks, gen)
    for size in (0.5, 0.25, 0.25):
        params = vpg_step(policy, params, vpg.batch(vpg.rollout(params, env, gen)), size)
    for k in adapted:
        torch.testing.assert_close(adapted[k], params[k])
    objective = RLMamlObjective(vpg, theta, tasks, 2, torch.Generator().manual_seed(3))
    replayed = objective.adapted(theta)
    by_hand = {k: v.unsqueeze(0).repeat(2, *[1] * v.dim()) for k, v in theta.items()}
    for size, batch in zip((0.5, 0.25), objective.batches, strict=True):
        by_hand = vpg_step(policy, by_hand, batch, size)
    for k in replayed:
        torch.testing.assert_close(replayed[k], by_hand[k])
    # the query rollout was collected by the policy after the scheduled steps
    log_prob, _ = policy.log_prob(replayed, objective.query.obs, objective.query.actions)
    torch.testing.assert_close(objective.old_log_prob, log_prob)


@pytest.mark.parametrize(("sections", "message"), [
    ({"vpg": {"step_sizes": [0.5, 0.0]}}, "vpg.step_sizes=[0.5, 0.0] must hold positive numbers"),
    ({"eval": {"vpg": {"num_envs": 5}}}, "eval.vpg.num_envs=5: MAML's own rule takes"),
    ({"eval": {"vpg": {"step_size": [0.5]}}}, "unknown key eval.vpg.step_size"),
    ({"eval": {"vpg": {"step_sizes": [-1.0]}}}, "vpg.step_sizes=[-1.0] must hold positive"),
])
def test_bad_vpg_step_sizes_fail_with_one_line_naming_the_key(sections, message):
    data = {"eval": {"methods": ["reptile", "maml"]}}
    for name, section in sections.items():
        data[name] = {**data.get(name, {}), **section}
    with pytest.raises(ValueError) as err:
        config_from_dict(data)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_eval_vpg_overrides_reach_mamls_own_rule():
    config = config_from_dict({"eval": {"methods": ["reptile", "maml"], "episodes": 7,
                                        "vpg": {"step_sizes": [0.5, 0.25]}},
                               "vpg": {"learning_rate": 0.3}})
    own = problem_of(config).evaluator(config, config.eval).vpg.config
    assert (own.learning_rate, own.step_sizes, own.num_envs, own.num_steps) == (
        0.3, (0.5, 0.25), 7, 100)
    assert config.vpg.step_sizes == ()
    with pytest.raises(ValueError, match=r"eval\.vpg=.* but eval\.methods has no maml"):
        config_from_dict({"eval": {"methods": ["reptile"], "vpg": {"step_sizes": [0.5]}}})
