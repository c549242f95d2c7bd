"""A progress line for long runs: one line redrawn on a terminal, a line every 10 s in logs."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class DescentProgress:
    """Called as ``progress(sim_time_s, altitude_m, mode)``; ``close()`` ends the line."""

    def __init__(self, total_s: float, stream: TextIO | None = None, width: int = 30) -> None:
        self.total_s = total_s
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = self.stream.isatty()
        self._last_draw_s = 0.0
        self._started_s = time.monotonic()
        self._drawn = False

    def __call__(self, sim_time_s: float, altitude_m: float, mode: str) -> None:
        now_s = time.monotonic()
        interval_s = 0.2 if self.tty else 10.0
        if now_s - self._last_draw_s < interval_s:
            return
        self._last_draw_s = now_s
        fraction = min(sim_time_s / self.total_s, 1.0) if self.total_s > 0 else 0.0
        filled = round(fraction * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        line = (
            f"[{bar}] t={sim_time_s:6.1f} s  altitude {altitude_m:8.0f} m  {mode:<9} "
            f"({now_s - self._started_s:5.1f} s wall)"
        )
        if self.tty:
            self.stream.write("\r" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn and self.tty:
            self.stream.write("\n")
            self.stream.flush()


class CountProgress:
    """Progress of a count of items: ``progress(done, total)``; ``close()`` ends the line."""

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 30) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = self.stream.isatty()
        self._started_s = time.monotonic()
        self._last_draw_s = 0.0
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        now_s = time.monotonic()
        if done < total and now_s - self._last_draw_s < (0.2 if self.tty else 10.0):
            return
        self._last_draw_s = now_s
        filled = round(self.width * done / total) if total else self.width
        line = (
            f"[{'#' * filled}{'-' * (self.width - filled)}] {done}/{total} runs "
            f"({now_s - self._started_s:5.1f} s)"
        )
        self.stream.write(("\r" + line) if self.tty else (line + "\n"))
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn and self.tty:
            self.stream.write("\n")
            self.stream.flush()
