"""Check on a GPU that the rollout and update loops never synchronise with the host.

For each environment family, one adaptation (rollouts, GAE, minibatch epochs with per-task
early stop and gradient clipping, the clip schedule and the annealed learning rate) runs under
``torch.cuda.set_sync_debug_mode("error")``: any operation that makes the host wait for the GPU
raises. A meta-iteration then runs under ``"warn"``, once with 1 inner iteration of 24 steps and
once with 3 of 48: the synchronisations it makes (the NaN check, the record's scalars) must be
as many in both, so none is inside a loop. Prints one line per check and exits 1 if any fails.
On the CPU, ``tests/test_host_sync.py`` checks the same operations (both use
:mod:`metarl.rl.host_sync`).

Usage: ``python experiments/cuda_check.py [--device cuda:0]``
"""

from __future__ import annotations

import argparse
import sys

import torch

from metarl.envs import CartPoleDirection, CartPoleMass, Navigation2D
from metarl.rl.host_sync import check_adaptation, meta_iteration_syncs


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
