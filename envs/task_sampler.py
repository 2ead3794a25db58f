"""Seeded task sampling with fixed validation and held-out test splits.

Three splits of one task distribution:

* ``train``: fresh draws from the sampling ranges, from the caller's generator (a meta-training run
  draws a new meta-batch every iteration; its seed makes the run reproducible);
* ``val``: a fixed list of tasks drawn from the same ranges, carved out for tuning;
* ``test``: a fixed list of held-out tasks, never used for training or tuning.

The fixed lists are streams: ``sample(n, split="test")`` is the first ``n`` tasks of an infinite,
seeded sequence, so 40 test tasks are the first 40 of 100. They are drawn on the CPU in float64 and
then moved, so the same ``split_seed`` gives the same tasks on any device.
"""

from __future__ import annotations

from typing import Literal

import torch

from metarl.envs.task_params import ParamSpec, TaskParams

Split = Literal["train", "val", "test"]
SPLITS: tuple[str, ...] = ("train", "val", "test")
_CHUNK = 64  # fixed splits are generated in chunks of this many tasks, each with its own seed
_SPLIT_SALT = {"val": 0x5EED_0001, "test": 0x5EED_0002}


class TaskSampler:
    """Samples batches of task parameters from a family's ranges, by split.

    :param params_type: the family's :class:`TaskParams` subclass.
    :param split_seed: seed of the fixed ``val`` and ``test`` splits.
    :param ranges: overrides of sampling ranges, ``{field: (low, high)}``.
    """

    def __init__(
        self,
        params_type: type[TaskParams],
        split_seed: int = 0,
        ranges: dict[str, tuple[float, float]] | None = None,
    ) -> None:
        self.params_type = params_type
        self.split_seed = int(split_seed)
        specs = {s.name: s for s in params_type.SPECS}
        for name, bounds in (ranges or {}).items():
            if name not in specs:
                raise ValueError(
                    f"{params_type.__name__}: unknown task parameter {name!r} in ranges; "
                    f"expected one of {', '.join(specs)}"
                )
            low, high = _check_range(params_type.__name__, specs[name], bounds)
            specs[name] = _restrict(params_type.__name__, specs[name], low, high)
        self.specs: tuple[ParamSpec, ...] = tuple(specs.values())

    def sample(
        self,
        n: int,
        generator: torch.Generator | None = None,
        split: Split = "train",
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> TaskParams:
        """Draw ``n`` tasks of ``split``.

        :param n: number of tasks.
        :param generator: CPU generator for ``train`` draws (``None``: torch's global one); unused
            for the fixed ``val`` and ``test`` splits.
        :param split: ``"train"``, ``"val"`` or ``"test"``.
        :param device: device of the returned tensors.
        :param dtype: floating dtype of the returned tensors.
        """
        if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
            raise ValueError(f"number of tasks n={n!r} must be a positive integer")
        if split == "train":
            values = self._draw(n, generator if generator is not None else torch.default_generator)
        elif split in _SPLIT_SALT:
            values = self._fixed(n, split)
        else:
            raise ValueError(f"split={split!r} must be one of {', '.join(SPLITS)}")
        return self.params_type.create(n, device=device, dtype=dtype, **values)

    def _draw(self, n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        if generator.device.type != "cpu":
            raise ValueError(
                f"task sampling generator must be on the CPU (got {generator.device}) so that "
                "the same seed gives the same tasks on any device"
            )
        return {s.name: s.sample(n, generator) for s in self.specs}

    def _fixed(self, n: int, split: str) -> dict[str, torch.Tensor]:
        chunks = []
        for c in range((n + _CHUNK - 1) // _CHUNK):
            seed = self.chunk_seed(split, c)
            chunks.append(self._draw(_CHUNK, torch.Generator().manual_seed(seed)))
        return {s.name: torch.cat([ch[s.name] for ch in chunks])[:n] for s in self.specs}

    def chunk_seed(self, split: str, chunk: int) -> int:
        """The generator seed of chunk ``chunk`` of a fixed split: above ``2**32 - 1`` for every
        ``split_seed`` a config accepts, so no training generator (seeded by a run seed, at most
        ``2**32 - 1``) draws a validation or test chunk's tasks."""
        return (self.split_seed * 1_000_003 + _SPLIT_SALT[split] * 7919 + chunk) % (2**63)

    def describe(self) -> dict[str, str]:
        """One line per split, for ``metarl envs``."""
        return {
            "train": "fresh draws from the ranges, seeded by the run",
            "val": f"fixed draws from the ranges (split_seed={self.split_seed}), for tuning",
            "test": f"fixed held-out draws (split_seed={self.split_seed}), for evaluation only",
        }


def _restrict(owner: str, spec: ParamSpec, low: float, high: float) -> ParamSpec:
    """``spec`` sampled from ``[low, high]``; a discrete one keeps the choices inside it."""
    if not spec.choices:
        return ParamSpec(**{**spec.__dict__, "low": low, "high": high})
    kept = tuple(c for c in spec.choices if low <= c <= high)
    if not kept:
        raise ValueError(f"{owner}: range of {spec.name}=[{low:g}, {high:g}] holds none of its "
                         f"values {spec.choices_text}")
    return ParamSpec(**{**spec.__dict__, "low": min(kept), "high": max(kept), "choices": kept})


def _check_range(owner: str, spec: ParamSpec, bounds: tuple[float, float]) -> tuple[float, float]:
    try:
        low, high = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: range of {spec.name}={bounds!r} must be [low, high]") from None
    if not (low <= high) or low != low or high != high:
        raise ValueError(f"{owner}: range of {spec.name}={bounds!r} needs low <= high")
    if (spec.positive or spec.log_uniform) and low <= 0:
        raise ValueError(f"{owner}: range of {spec.name}={bounds!r} must be > 0")
    if spec.limits is not None and not spec.limits[0] <= low <= high <= spec.limits[1]:
        raise ValueError(f"{owner}: range of {spec.name}={bounds!r} must lie in "
                         f"[{spec.limits[0]:g}, {spec.limits[1]:g}]")
    return low, high
