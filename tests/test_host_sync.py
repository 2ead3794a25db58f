"""No host synchronisation inside the rollout and update loops, checked on the CPU.

On a GPU, reading a tensor's value on the host (``.item()``, ``bool(t)``, ``nonzero``, a boolean
mask as an index) waits for every queued kernel, and copying host data in waits too; one such
operation per env step or minibatch would serialise the GPU. ``torch.cuda.set_sync_debug_mode``
catches them on a GPU (``experiments/cuda_check.py``); these tests catch the same operations on
the CPU, where CI runs, by recording the aten operations that make host and device wait
(:class:`metarl.rl.host_sync.HostReads`).
"""

from __future__ import annotations

import pytest
import torch

from metarl.agents.ppo import PPO, PPOConfig
from metarl.envs import CartPoleDirection, CartPoleMass, Navigation2D
from metarl.envs.autoreset import AutoResetEnv
from metarl.meta.trainer import MetaConfig, MetaTrainer
from metarl.rl import host_sync
from metarl.rl.host_sync import HostReads, aten
from metarl.rl.learner import PPOLearner


@pytest.fixture
def dense_reset(monkeypatch):
    """Environments restart as they do on a GPU (start states drawn for every env and kept with
    ``torch.where``) rather than the CPU's default, which reads which episodes ended."""
    monkeypatch.setattr(AutoResetEnv, "_choose_dense_reset", lambda self, params: True)


# the GPU check's settings (every option that acts inside the loops), with fewer envs and steps
LOOP_OPTIONS: PPOConfig = host_sync.LOOP_OPTIONS.replace(num_envs=4, num_steps=24)


def _ppo(family_type: type, cfg: PPOConfig) -> tuple[PPO, dict[str, torch.Tensor]]:
    return host_sync.build(family_type, cfg, torch.device("cpu"), hidden=(8, 8))


def test_the_recorder_sees_what_would_synchronise_a_gpu():
    x = torch.tensor([0.5, -1.0])
    with HostReads() as reads:
        x.sum().item()
        bool((x > 0).any())
        (x > 0).nonzero()
        _ = x[x > 0]
        torch.as_tensor([1.0, 2.0])
        torch.where(x > 0, x, 0.0).sum() * 2.0  # stays on the device
    assert reads.seen.count(str(aten._local_scalar_dense.default)) == 2
    assert str(aten.nonzero.default) in reads.seen and str(aten.lift_fresh.default) in reads.seen
    assert str(aten.index.Tensor) in reads.seen and len(reads.seen) == 5


def test_cpu_default_restart_reads_the_host_and_is_seen():
    """The CPU's sparse restart reads ``done`` on the host: the recorder must catch it."""
    ppo, theta = _ppo(Navigation2D, LOOP_OPTIONS.replace(num_steps=120))
    tasks = ppo.family.tasks.sample(2, split="test")
    with HostReads() as reads:
        ppo.adapt(theta, tasks, 1, torch.Generator().manual_seed(1))
    assert str(aten.nonzero.default) in reads.seen


@pytest.mark.parametrize("family_type", [Navigation2D, CartPoleMass, CartPoleDirection])
def test_adaptation_never_reads_the_device(dense_reset, family_type):
    """Rollouts, GAE, minibatch epochs with per-task early stop and gradient clipping, the
    scheduled clip and annealed learning rate: no host read in any of them."""
    ppo, theta = _ppo(family_type, LOOP_OPTIONS)
    tasks = ppo.family.tasks.sample(3, split="test")
    with HostReads() as reads:
        out = ppo.adapt(theta, tasks, 3, torch.Generator().manual_seed(1), evaluate_final=True)
    assert reads.seen == []
    assert out.returns.shape == (4, 3)
    steps = out.stats["updates"]  # minibatch steps per task and update: the early stop acted
    assert steps.max() < LOOP_OPTIONS.num_epochs * LOOP_OPTIONS.num_minibatches


@pytest.mark.parametrize(("algorithm", "chunk"), [("reptile", 0), ("fomaml", 0), ("reptile", 2)])
def test_host_reads_of_a_meta_iteration_do_not_grow_with_its_loops(dense_reset, algorithm, chunk):
    """A meta-iteration reads the device a fixed number of times (the NaN check, the record):
    as many with 1 inner iteration of 24 steps as with 3 of 48, so none is inside a loop; also
    when the meta-batch is adapted in chunks (``meta.task_chunk``)."""
    counts = []
    for iterations, steps in ((1, 24), (3, 48)):
        ppo, theta = _ppo(Navigation2D, LOOP_OPTIONS.replace(num_steps=steps))
        config = MetaConfig(meta_batch=3, inner_iterations=iterations, meta_iterations=2,
                            val_every=10, task_chunk=chunk)  # no validation in the first step
        trainer = MetaTrainer(PPOLearner(ppo), theta, config, seed=0, algorithm=algorithm)
        with HostReads() as reads:
            trainer.step()
        counts.append(len(reads.seen))
    assert counts[0] == counts[1]
