"""Host synchronisation in the rollout and update loops: how metarl checks there is none.

On a GPU, reading a tensor's value on the host (``.item()``, ``bool(t)``, ``nonzero``, a boolean
mask as an index) waits for every queued kernel, and copying host data in waits too; one such
operation per env step or minibatch would serialise the GPU. Two checks use the settings and
builder below, with every option of the inner learner that acts inside its loops:

* on a GPU, :func:`check_adaptation` and :func:`meta_iteration_syncs` run under
  ``torch.cuda.set_sync_debug_mode`` (``experiments/cuda_check.py``);
* on the CPU, where CI runs, :class:`HostReads` records the aten operations that would make host
  and device wait (``tests/test_host_sync.py``).
"""

from __future__ import annotations

import traceback
import warnings
from pathlib import Path
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

import metarl.agents
import metarl.envs
from metarl.agents.actor_critic import ActorCritic
from metarl.agents.param_tree import Params
from metarl.agents.ppo import PPO, PPOConfig
from metarl.envs import Navigation2D
from metarl.meta.trainer import MetaConfig, MetaTrainer
from metarl.rl.learner import PPOLearner

# every option of the inner learner that acts inside its loops
LOOP_OPTIONS = PPOConfig(num_envs=64, num_steps=100, num_epochs=3, num_minibatches=4,
                         learning_rate=1e-2, log_std_learning_rate=0.05, anneal_lr=True,
                         clip_schedule=(5.0, 0.5), clip_vloss=True, ent_coef=0.01,
                         max_grad_norm=0.1, target_kl=1e-6)

aten = torch.ops.aten
# what makes the host wait for the device: a value read back, an output whose size depends
# on the values (nonzero, masked_select, a boolean index), or host data copied to the device
# (lift_fresh: torch.tensor, as_tensor, from_numpy)
HOST_READS = {aten._local_scalar_dense.default, aten.nonzero.default, aten.masked_select.default,
              aten.is_nonzero.default, aten.equal.default, aten.lift_fresh.default}


class HostReads(TorchDispatchMode):
    """Records every operation that would synchronise a GPU with the host (on any device)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        boolean_index = func in (aten.index.Tensor, aten.index_put.default,
                                 aten.index_put_.default) and any(
            isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in args[1] if i is not None)
        if func in HOST_READS or boolean_index:
            self.seen.append(str(func))
        return func(*args, **kwargs)


def build(family_type: type, cfg: PPOConfig, device: torch.device,
          hidden: tuple[int, ...] = (64, 64)) -> tuple[PPO, Params]:
    """A PPO learner for ``family_type`` (bound penalty on Box actions), a theta on ``device``."""
    family = family_type()
    policy = ActorCritic.for_spaces(family.observation_space, family.action_space, hidden=hidden)
    if family_type is Navigation2D:
        cfg = cfg.replace(bound_coef=0.5)
    return PPO(family, policy, cfg), policy.init(torch.Generator().manual_seed(0), device=device)


def where(err: BaseException) -> str:
    """`` at FILE:LINE (code)`` of the innermost frame of ``err`` in metarl's own code."""
    roots = (str(Path(__file__).resolve().parents[1]),
             *(str(Path(m.__file__).parent) for m in (metarl.envs, metarl.agents)))
    frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename.startswith(roots)]
    return f" at {frames[-1].filename}:{frames[-1].lineno} ({frames[-1].line})" if frames else ""


def check_adaptation(family_type: type, device: torch.device) -> str | None:
    """On a GPU: ``None`` when 3 PPO iterations on 8 tasks make no synchronisation, else the
    error."""
    ppo, theta = build(family_type, LOOP_OPTIONS, device)
    tasks = ppo.family.tasks.sample(8, split="test", device=device)
    gen = torch.Generator(device=device).manual_seed(1)
    ppo.adapt(theta, tasks, 1, gen)  # warm-up: library handles, allocator, lazy kernels
    torch.cuda.synchronize(device)
    torch.cuda.set_sync_debug_mode("error")
    try:
        ppo.adapt(theta, tasks, 3, gen, evaluate_final=True)
    except RuntimeError as err:
        return str(err).splitlines()[0] + where(err)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize(device)
    return None


def meta_iteration_syncs(algorithm: str, iterations: int, steps: int,
                         device: torch.device) -> int:
    """On a GPU: synchronisations of one meta-iteration of 8 tasks (after a warm-up one)."""
    ppo, theta = build(Navigation2D, LOOP_OPTIONS.replace(num_steps=steps), device)
    config = MetaConfig(meta_batch=8, inner_iterations=iterations, meta_iterations=3,
                        val_every=10)  # no validation in these steps
    trainer = MetaTrainer(PPOLearner(ppo), theta, config, seed=0, algorithm=algorithm)
    trainer.step()
    torch.cuda.synchronize(device)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            trainer.step()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchronizing" in str(w.message) for w in seen)
