"""The files of an evaluation and of meta-training: CSV tables and the settings used.

Every CSV of a run (``metrics.csv``, ``eval/curves.csv``, ``summary.csv``, ``oracle.csv``,
``selection.csv``) is read by :func:`read_csv` and written through a temporary file by
:func:`write_csv`; ``eval/eval.toml`` records the evaluation settings a summary came from.
"""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path
from typing import Any, TypeVar

from metarl.config import read_toml, toml_value

SettingsT = TypeVar("SettingsT")


def read_csv(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file with a header line."""
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def read_table(path: Path, columns: dict[str, type], allow_empty: bool = False
               ) -> list[dict[str, Any]]:
    """The rows of a CSV file with ``columns`` converted (``{"k": int, "mean": float}``); a
    missing file, column, a value that does not convert, or no row at all (unless
    ``allow_empty``) is a one-line ``ValueError`` naming the file and line."""
    if not path.is_file():
        raise ValueError(f"{path} does not exist")
    try:
        rows: list[dict[str, Any]] = list(read_csv(path))
    except (csv.Error, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not a CSV file metarl wrote: {err}") from None
    if not rows and not allow_empty:
        raise ValueError(f"{path} has no rows; not a file metarl wrote (rerun the command that "
                         "writes it)")
    for line, row in enumerate(rows, start=2):
        for name, kind in columns.items():
            if row.get(name) is None:
                raise ValueError(f"{path}, line {line}: no {name!r} column; not a file metarl "
                                 "wrote (rerun the command that writes it)")
            try:
                row[name] = kind(row[name])
            except ValueError:
                raise ValueError(f"{path}, line {line}: {name}={row[name]!r} is not "
                                 f"{'an' if kind is int else 'a'} {kind.__name__}; not a file "
                                 "metarl wrote (rerun the command that writes it)") from None
    return rows


def write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    """Write rows to ``path`` through a temporary file (a reader never sees half a file)."""
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def write_settings(directory: Path, settings: Any) -> None:
    """Write the evaluation settings used (a dataclass) to ``eval.toml``."""
    (directory / "eval.toml").write_text("[eval]\n" + "".join(
        f"{k} = {toml_value(list(v) if isinstance(v, tuple) else v)}\n"
        for k, v in dataclasses.asdict(settings).items()))


def read_settings(directory: Path, kind: type[SettingsT]) -> SettingsT:
    """The evaluation settings :func:`write_settings` recorded in ``directory/eval.toml``, as a
    ``kind`` dataclass (the ``[eval]`` section of the run's problem)."""
    path = directory / "eval.toml"
    if not path.is_file():
        raise ValueError(f"{path} does not exist: evaluate the run first")
    values = read_toml(path)["eval"]
    return kind(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})
