"""Check on a GPU that the rollout and update loops never synchronise with the host.

For each environment family, one adaptation (rollouts, GAE, minibatch epochs with per-task
early stop and gradient clipping, the clip schedule and the annealed learning rate) runs under
``torch.cuda.set_sync_debug_mode("error")``: any operation that makes the host wait for the GPU
raises. A meta-iteration then runs under ``"warn"``, once with 1 inner iteration of 24 steps and
once with 3 of 48: the synchronisations it makes (the NaN check, the record's scalars) must be
as many in both, so none is inside a loop. Prints one line per check and exits 1 if any fails.
On the CPU, ``tests/test_host_sync.py`` checks the same operations.

Usage: ``python experiments/cuda_check.py [--device cuda:0]``
"""

from __future__ import annotations

import argparse
import sys
import traceback
import warnings
from pathlib import Path

import torch

import metarl
import metarl.agents
import metarl.envs
from metarl.agents.actor_critic import ActorCritic
from metarl.agents.param_tree import Params
from metarl.agents.ppo import PPO, PPOConfig
from metarl.envs import CartPoleDirection, CartPoleMass, Navigation2D
from metarl.meta_train import MetaConfig, MetaTrainer

# every option of the inner learner that acts inside its loops (tests/test_host_sync.py uses
# them too, with fewer envs and steps)
LOOP_OPTIONS = PPOConfig(num_envs=64, num_steps=100, num_epochs=3, num_minibatches=4,
                         learning_rate=1e-2, log_std_learning_rate=0.05, anneal_lr=True,
                         clip_schedule=(5.0, 0.5), clip_vloss=True, ent_coef=0.01,
                         max_grad_norm=0.1, target_kl=1e-6)


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
    roots = tuple(str(Path(m.__file__).parent) for m in (metarl, metarl.envs, metarl.agents))
    frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename.startswith(roots)]
    return f" at {frames[-1].filename}:{frames[-1].lineno} ({frames[-1].line})" if frames else ""


def check_adaptation(family_type: type, device: torch.device) -> str | None:
    """``None`` when 3 PPO iterations on 8 tasks make no synchronisation, else the error."""
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
    """Synchronisations of one meta-iteration of 8 tasks (after a warm-up one)."""
    ppo, theta = build(Navigation2D, LOOP_OPTIONS.replace(num_steps=steps), device)
    config = MetaConfig(meta_batch=8, inner_iterations=iterations, meta_iterations=3,
                        val_every=10)  # no validation in these steps
    trainer = MetaTrainer(ppo, theta, config, seed=0, algorithm=algorithm)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type != "cuda" or not torch.cuda.is_available():
        raise SystemExit(f"--device={args.device!r}: this check needs a CUDA device "
                         f"(torch.cuda.is_available() is {torch.cuda.is_available()}); on the "
                         "CPU run pytest tests/test_host_sync.py")
    print(f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}")
    failed = False
    for family_type in (Navigation2D, CartPoleMass, CartPoleDirection):
        error = check_adaptation(family_type, device)
        failed |= error is not None
        print(f"adaptation, {family_type.__name__}: "
              f"{'no synchronisation' if error is None else 'FAILED: ' + error}")
    for algorithm in ("reptile", "fomaml"):
        short, long = (meta_iteration_syncs(algorithm, i, s, device) for i, s in ((1, 24), (3, 48)))
        failed |= short != long
        print(f"meta-iteration, {algorithm}: {short} synchronisations with 1 inner iteration of "
              f"24 steps, {long} with 3 of 48 ({'none in a loop' if short == long else 'FAILED'})")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
