"""A dependency-free progress bar for meta-training.

On a terminal it redraws one line; elsewhere (CI logs, files) it prints a line about every tenth of
the run, so logs stay short.
"""

from __future__ import annotations

import math
import sys
import time
from typing import TextIO


class Progress:
    """Iteration, samples, latest scores, speed and time left of one training phase.

    :param label: what is being trained (``reptile``, ``pretrain`` ...).
    :param total: iterations of the phase.
    :param start: iterations already done (a resumed run).
    :param stream: where to draw (default stderr).
    :param unit: what the sample count counts (``steps`` of environments, labelled ``points``).
    """

    def __init__(self, label: str, total: int, start: int = 0,
                 stream: TextIO | None = None, unit: str = "steps") -> None:
        self.label, self.total, self.start, self.unit = label, total, start, unit
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.began = time.perf_counter()
        self.val = math.nan
        self.every = max(1, (total - start) // 10)

    def update(self, iteration: int, samples: int, train: float, val: float) -> None:
        """Show the state after ``iteration`` iterations.

        :param samples: samples so far (env steps, labelled points).
        :param train: the latest training score (return, loss).
        :param val: the latest validation score (NaN when not measured at this iteration).
        """
        if not math.isnan(val):
            self.val = val
        done = iteration - self.start
        elapsed = time.perf_counter() - self.began
        rate = elapsed / done if done else math.nan
        left = rate * (self.total - iteration)
        width = 20
        filled = int(width * iteration / self.total)
        bar = "#" * filled + "." * (width - filled)
        line = (f"{self.label:<9} {iteration:>5}/{self.total} [{bar}]"
                f" {_count(samples):>6} {self.unit}  train {train:7.2f}  val {self.val:7.2f}"
                f"  {rate:5.2f} s/it  {_clock(elapsed)} elapsed, {_clock(left)} left")
        if self.tty:
            self.stream.write("\r" + line)
            if iteration == self.total:
                self.stream.write("\n")
        elif done % self.every == 0 or iteration == self.total:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the line on a terminal (after an interrupted phase)."""
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _count(n: int) -> str:
    if n >= 1e9:
        return f"{n / 1e9:.2f}G"
    if n >= 1e6:
        return f"{n / 1e6:.2f}M"
    return f"{n / 1e3:.0f}k" if n >= 1e3 else str(n)


def _clock(seconds: float) -> str:
    if math.isnan(seconds):
        return "--:--"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"
