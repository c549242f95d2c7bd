"""Progress bars with an ETA for long commands (a descent, a campaign), drawn by rich on stderr.

Progress is shown only when stderr is a terminal, or when ``--progress`` asks for it; never
in a CI log (unless asked) and never on stdout, so ``--json`` output and piped tables stay
clean. ``--no-progress`` turns it off on a terminal too.

A descent's bar runs against the flight time the scenario is expected to take (its model-only
nominal, :meth:`hil.flight.scenario.Scenario.nominal_flight_s`), not the time cap; the ETA is
what is left of it at the pace the bench is flying. A campaign's bar counts finished runs.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def add_progress_argument(parser: argparse.ArgumentParser) -> None:
    """``--progress`` / ``--no-progress`` (default: only when stderr is a terminal)."""
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar with an ETA on stderr (default: only on a terminal)",
    )


def progress_wanted(flag: bool | None, stream: TextIO | None = None) -> bool:
    """``flag`` when given, else whether ``stream`` (default stderr) is a terminal."""
    if flag is not None:
        return flag
    return (stream or sys.stderr).isatty()


def _progress(stream: TextIO, *columns: object) -> Progress:
    console = Console(file=stream, stderr=stream is sys.stderr, highlight=False)
    return Progress(
        *columns,  # type: ignore[arg-type]
        console=console,
        transient=False,
        redirect_stdout=False,
        redirect_stderr=False,
        # off a terminal (``--progress`` into a log) rich prints the bar once, when it ends
        refresh_per_second=5,
    )


class DescentProgress:
    """Called as ``progress(sim_time_s, altitude_m, mode)``; ``close()`` ends the bar.

    ``expected_s`` is the flight time the bar runs to; a flight that goes on longer stretches
    the bar (the ETA then says so). ``enabled=False`` makes every call a no-op.
    """

    def __init__(
        self, expected_s: float, stream: TextIO | None = None, *, enabled: bool = True
    ) -> None:
        self.expected_s = max(expected_s, 1.0)
        self.enabled = enabled
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        if enabled:
            self._bar = _progress(
                stream or sys.stderr,
                TextColumn("descent"),
                BarColumn(),
                TextColumn("t={task.completed:6.1f}/{task.total:.0f} s"),
                TextColumn("{task.fields[altitude]:>8} m {task.fields[mode]:<9}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
            )
            self._task = self._bar.add_task("descent", total=self.expected_s, altitude="", mode="")
            self._bar.start()

    def __call__(self, sim_time_s: float, altitude_m: float, mode: str) -> None:
        if self._bar is None or self._task is None:
            return
        total_s = max(self.expected_s, sim_time_s)
        self._bar.update(
            self._task,
            completed=sim_time_s,
            total=total_s,
            altitude=f"{altitude_m:.0f}",
            mode=mode,
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


class CountProgress:
    """Progress of a count of runs: ``progress(done, total)``; ``close()`` ends the bar."""

    def __init__(
        self, total: int, stream: TextIO | None = None, *, enabled: bool = True, label: str = "runs"
    ) -> None:
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        if enabled:
            self._bar = _progress(
                stream or sys.stderr,
                TextColumn(label),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
            )
            self._task = self._bar.add_task(label, total=total)
            self._bar.start()

    def __call__(self, done: int, total: int) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=done, total=total)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
