"""The progress bar: short logs off a terminal, the numbers it is given."""

import io
import math

from metarl.runs.progress import Progress


def test_non_terminal_prints_about_ten_lines_with_latest_numbers():
    out = io.StringIO()
    bar = Progress("reptile", 100, stream=out)
    for i in range(1, 101):
        bar.update(i, i * 60_000, -30.0 - i / 100, -35.5 if i % 10 == 0 else math.nan)
    lines = out.getvalue().splitlines()
    assert len(lines) == 10
    assert lines[-1].startswith("reptile     100/100 [####################]")
    last = lines[-1]
    assert "6.00M steps" in last and "train  -31.00" in last and "val  -35.50" in last
