"""No host synchronisation inside the rollout and update loops, checked on the CPU.

On a GPU, reading a tensor's value on the host (``.item()``, ``bool(t)``, ``nonzero``, a boolean
mask as an index) waits for every queued kernel, and copying host data in waits too; one such
operation per env step or minibatch would serialise the GPU. ``torch.cuda.set_sync_debug_mode``
catches them on a GPU (``experiments/cuda_check.py``); these tests catch the same operations on
the CPU, where CI runs, by recording the aten operations that make host and device wait.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from metarl.agents.ppo import PPO, PPOConfig
from metarl.envs import CartPoleDirection, CartPoleMass, Navigation2D
from metarl.envs.autoreset import AutoResetEnv
from metarl.meta_train import MetaConfig, MetaTrainer

aten = torch.ops.aten
# what makes the host wait for the device: a value read back, an output whose size depends
# on the values (nonzero, masked_select, a boolean index), or host data copied to the device
# (lift_fresh: torch.tensor, as_tensor, from_numpy)
HOST_READS = {aten._local_scalar_dense.default, aten.nonzero.default, aten.masked_select.default,
              aten.is_nonzero.default, aten.equal.default, aten.lift_fresh.default}


class HostReads(TorchDispatchMode):
    """Records every operation that would synchronise a GPU with the host."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        boolean_index = func in (aten.index.Tensor, aten.index_put.default,
                                 aten.index_put_.default) and any(
            isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in args[1] if i is not None)
        if func in HOST_READS or boolean_index:
            self.seen.append(str(func))
        return func(*args, **kwargs)


@pytest.fixture
def dense_reset(monkeypatch):
    """Environments restart as they do on a GPU (start states drawn for every env and kept with
    ``torch.where``) rather than the CPU's default, which reads which episodes ended."""
    monkeypatch.setattr(AutoResetEnv, "_choose_dense_reset", lambda self, params: True)


def _load_cuda_check():
    path = Path(__file__).resolve().parents[1] / "experiments" / "cuda_check.py"
    spec = importlib.util.spec_from_file_location("cuda_check", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CUDA_CHECK = _load_cuda_check()
# the GPU check's settings (every option that acts inside the loops), with fewer envs and steps
LOOP_OPTIONS: PPOConfig = CUDA_CHECK.LOOP_OPTIONS.replace(num_envs=4, num_steps=24)


def _ppo(family_type: type, cfg: PPOConfig) -> tuple[PPO, dict[str, torch.Tensor]]:
    return CUDA_CHECK.build(family_type, cfg, torch.device("cpu"), hidden=(8, 8))


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
        trainer = MetaTrainer(ppo, theta, config, seed=0, algorithm=algorithm)
        with HostReads() as reads:
            trainer.step()
        counts.append(len(reads.seen))
    assert counts[0] == counts[1]
