"""Task parameters: a frozen dataclass of tensors whose leading dimension is the task batch.

Every environment family describes one task by a few physical quantities (a goal, masses, a length).
A batch of ``T`` tasks stores each quantity as a tensor of shape ``[T, *field_shape]``. The class
below gives every family's parameter type the same small toolbox: validation with one-line errors,
moving between devices, indexing a subset of tasks, and building a batch from plain Python values.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import torch

P = TypeVar("P", bound="TaskParams")


@dataclass(frozen=True)
class ParamSpec:
    """Description of one task parameter: shape, default, sampling range and meaning.

    :param name: field name, as used in ``gym.make`` keyword arguments and configs.
    :param shape: shape of one task's value (``()`` for a scalar, ``(2,)`` for a 2D goal).
    :param default: the value of the family's default task.
    :param low: lower end of the sampling range (per element).
    :param high: upper end of the sampling range (per element).
    :param log_uniform: sample ``exp(U[log low, log high])`` instead of ``U[low, high]``.
    :param positive: values must be strictly positive (masses, lengths).
    :param doc: one line for ``metarl envs`` and the docs.
    :param choices: a discrete parameter's values, drawn with equal probability; ``low`` and
        ``high`` are then the smallest and largest of them, and a range override keeps the
        choices inside it.
    :param limits: the values a task may take at all, ``(low, high)`` inclusive (``None``: any
        finite value, or any positive one with ``positive``); sampling ranges must lie inside.
    """

    name: str
    shape: tuple[int, ...]
    default: float | tuple[float, ...]
    low: float
    high: float
    log_uniform: bool = False
    positive: bool = False
    doc: str = ""
    choices: tuple[float, ...] = ()
    limits: tuple[float, float] | None = None

    @property
    def choices_text(self) -> str:
        """A discrete parameter's values as text, ``"-1, 1"``."""
        return ", ".join(f"{c:g}" for c in self.choices)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """Draw ``n`` values (float64, CPU) from this parameter's range with a CPU generator."""
        if self.choices:
            index = torch.randint(len(self.choices), (n, *self.shape), generator=generator)
            return torch.tensor(self.choices, dtype=torch.float64)[index]
        u = torch.rand((n, *self.shape), generator=generator, dtype=torch.float64)
        if self.low == self.high:
            return torch.full_like(u, self.low)
        if self.log_uniform:
            lo, hi = math.log(self.low), math.log(self.high)
            return torch.exp(lo + (hi - lo) * u)
        return self.low + (self.high - self.low) * u


@dataclass(frozen=True)
class TaskParams:
    """Base class of a family's task parameters. Subclasses declare tensor fields and ``SPECS``.

    Each field is a tensor of shape ``[T, *spec.shape]`` for a batch of ``T`` tasks.
    """

    SPECS: ClassVar[tuple[ParamSpec, ...]] = ()

    # ------------------------------------------------------------------ construction
    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of the tensor fields, in declaration order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def spec(cls, name: str) -> ParamSpec:
        """The :class:`ParamSpec` of field ``name``."""
        for s in cls.SPECS:
            if s.name == name:
                return s
        raise KeyError(name)

    @classmethod
    def create(
        cls: type[P],
        num_tasks: int | None = None,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        **values: Any,
    ) -> P:
        """Build a validated batch from Python numbers, sequences, arrays or tensors.

        A field not given takes its default. A value of one task's shape is repeated for every task;
        a value with a leading dimension gives one value per task.

        :param num_tasks: batch size ``T``; inferred from per-task values when ``None`` (else 1).
        :param device: device of the tensors.
        :param dtype: floating dtype of the tensors.
        :param values: field values, by field name.
        :raises ValueError: unknown field, wrong shape or invalid value (one line naming the field).
        """
        unknown = sorted(set(values) - set(cls.field_names()))
        if unknown:
            raise ValueError(
                f"{cls.__name__}: unknown task parameter {unknown[0]!r}; "
                f"expected one of {', '.join(cls.field_names())}"
            )
        tensors: dict[str, torch.Tensor] = {}
        for s in cls.SPECS:
            raw = values.get(s.name, s.default)
            try:
                t = torch.as_tensor(raw, dtype=torch.float64).to("cpu").clone()
            except (TypeError, ValueError, RuntimeError):
                raise ValueError(
                    f"{cls.__name__}: task parameter {s.name}={raw!r} is not a number or array "
                    f"of shape {s.shape}"
                ) from None
            if tuple(t.shape) == s.shape:
                t = t.unsqueeze(0)
            elif t.dim() != len(s.shape) + 1 or tuple(t.shape[1:]) != s.shape:
                raise ValueError(
                    f"{cls.__name__}: task parameter {s.name}={_short(raw)} has shape "
                    f"{tuple(t.shape)}; expected {s.shape} or [num_tasks, *{s.shape}]"
                )
            tensors[s.name] = t
        counts = {name: t.shape[0] for name, t in tensors.items() if t.shape[0] != 1}
        if num_tasks is None:
            if len(set(counts.values())) > 1:
                listing = ", ".join(f"{name} has {n}" for name, n in counts.items())
                raise ValueError(f"{cls.__name__}: per-task values disagree on the task count "
                                 f"({listing})")
            num_tasks = next(iter(counts.values()), 1)
        if not isinstance(num_tasks, int) or isinstance(num_tasks, bool) or num_tasks <= 0:
            raise ValueError(f"{cls.__name__}: num_tasks={num_tasks!r} must be a positive integer")
        for name, t in tensors.items():
            if t.shape[0] not in (1, num_tasks):
                raise ValueError(
                    f"{cls.__name__}: task parameter {name} has {t.shape[0]} values; "
                    f"expected 1 or num_tasks={num_tasks}"
                )
            tensors[name] = t.expand(num_tasks, *t.shape[1:]).to(device=device, dtype=dtype)
        params = cls(**tensors)
        params.validate()
        return params

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        """Raise ``ValueError`` naming the first invalid field and value (NaN, Inf, non-positive).

        Synchronises with the device: call it when tasks are created, not inside a rollout.
        """
        name = type(self).__name__
        for s in self.SPECS:
            t = getattr(self, s.name)
            if not torch.is_tensor(t):
                raise ValueError(f"{name}: task parameter {s.name} must be a tensor, got {type(t)}")
            if tuple(t.shape[1:]) != s.shape:
                raise ValueError(
                    f"{name}: task parameter {s.name} has shape {tuple(t.shape)}; "
                    f"expected [num_tasks, *{s.shape}]"
                )
            bad = ~torch.isfinite(t)
            if s.positive:
                bad |= t <= 0
            if s.choices:
                bad |= ~torch.isin(t, torch.tensor(s.choices, dtype=t.dtype, device=t.device))
            if s.limits is not None:
                bad |= (t < s.limits[0]) | (t > s.limits[1])
            if bool(bad.any()):
                value = t[bad][0].item()
                if not math.isfinite(value):
                    reason = "must be finite"
                elif s.choices:
                    reason = f"must be one of {s.choices_text}"
                elif s.limits is not None and not s.limits[0] <= value <= s.limits[1]:
                    reason = f"must be in [{s.limits[0]:g}, {s.limits[1]:g}]"
                else:
                    reason = "must be > 0"
                raise ValueError(f"{name}: task parameter {s.name}={value!r} {reason}")
        sizes = {getattr(self, s.name).shape[0] for s in self.SPECS}
        if len(sizes) > 1:
            raise ValueError(f"{name}: fields have different task counts {sorted(sizes)}")

    # ------------------------------------------------------------------ batch helpers
    @property
    def num_tasks(self) -> int:
        """Number of tasks ``T`` in the batch."""
        return getattr(self, self.field_names()[0]).shape[0]

    @property
    def dtype(self) -> torch.dtype:
        """Floating dtype of the tensors."""
        return getattr(self, self.field_names()[0]).dtype

    @property
    def device(self) -> torch.device:
        """Device of the tensors."""
        return getattr(self, self.field_names()[0]).device

    def to(
        self: P, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> P:
        """Copy to another device and/or floating dtype."""
        return dataclasses.replace(
            self, **{k: v.to(device=device, dtype=dtype) for k, v in self.as_dict().items()}
        )

    def index(self: P, idx: int | slice | torch.Tensor | Sequence[int]) -> P:
        """The tasks selected by ``idx`` along the task dimension (an int keeps the dimension)."""
        if isinstance(idx, int):
            idx = slice(idx, idx + 1 if idx != -1 else None)
        return dataclasses.replace(self, **{k: v[idx] for k, v in self.as_dict().items()})

    def repeat_interleave(self: P, repeats: int) -> P:
        """Repeat each task ``repeats`` times consecutively (``[T] -> [T * repeats]``)."""
        return dataclasses.replace(
            self, **{k: v.repeat_interleave(repeats, dim=0) for k, v in self.as_dict().items()}
        )

    @classmethod
    def cat(cls: type[P], batches: Sequence[P]) -> P:
        """Concatenate batches along the task dimension."""
        return cls(**{k: torch.cat([getattr(b, k) for b in batches]) for k in cls.field_names()})

    def as_dict(self) -> dict[str, torch.Tensor]:
        """The fields as a name -> tensor mapping."""
        return {k: getattr(self, k) for k in self.field_names()}

    def to_list(self) -> list[dict[str, float | list[float]]]:
        """One plain-Python dict per task (for CSV files, logs and ``gym.make`` kwargs)."""
        cpu = {k: v.detach().cpu().double() for k, v in self.as_dict().items()}
        return [{k: v[i].tolist() for k, v in cpu.items()} for i in range(self.num_tasks)]

    @classmethod
    def describe(cls) -> Mapping[str, ParamSpec]:
        """Parameter specs by name (used by ``metarl envs``)."""
        return {s.name: s for s in cls.SPECS}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
