"""``DescentHook``: the session's eyes inside a running descent, the same whether the descent
flies in a worker thread or in a child process (``hil.services.descent_process``).

It is one of the descent's injections (called by the executive at 50 Hz): it routes the bench's
signals to the GUI once the run's bench exists, posts a status snapshot every
``STATUS_PERIOD_S``, forwards progress, and stops the run with ``JobStopped`` when the operator
asks. At the end it builds the final snapshot with the executive's own timing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from hil.errors import Cancelled
from hil.services.events import (
    STATUS_PERIOD_S,
    DescentProgress,
    SessionEvent,
    StatusSnapshot,
    snapshot_of,
)

if TYPE_CHECKING:
    from hil.bench import Bench
    from hil.flight.descent import DescentResult, DescentRun


class JobStopped(Cancelled):
    """Raised inside a descent (from its injection hook) when the operator stops it."""


class DescentHook:
    """Runs inside the descent's executive (an injection at 50 Hz): attaches the signal
    listener once the run's bench exists, posts status every 0.5 s, stops the run on request.
    It does a few list appends per call; the GUI's drawing never happens here.

    ``post`` delivers events, ``attach(bench)`` routes the bench's signals and returns the
    remover, ``stopped()`` says the operator asked to stop: a session's own (descent in a
    thread) or the child process's pipe (descent in a process)."""

    def __init__(
        self,
        post: Callable[[SessionEvent], None],
        attach: Callable[[Bench], Callable[[], None]],
        stopped: Callable[[], bool],
        realtime: bool,
    ) -> None:
        self.post = post
        self.attach = attach
        self.stopped = stopped
        self.realtime = realtime
        self.bench: Bench | None = None
        self._remove: Callable[[], None] | None = None
        self._next_status_s = 0.0
        self._lateness_s: list[float] = []

    def __call__(self, run: DescentRun, time_s: float) -> None:
        if self.stopped():
            raise JobStopped("descent stopped by the operator")
        if self.bench is None:
            self.bench = run.bench
            self._remove = self.attach(run.bench)
        if self.realtime:
            self._lateness_s.append(max(0.0, run.elapsed_s() - time_s))
        if time_s >= self._next_status_s:
            self._next_status_s = time_s + STATUS_PERIOD_S
            snapshot = snapshot_of(run.bench, "descent", self.timing())
            if snapshot is not None:
                self.post(snapshot)

    def progress(self, time_s: float, altitude_m: float, mode: str) -> None:
        self.post(DescentProgress(time_s, altitude_m, mode))

    def timing(self) -> dict[str, float]:
        if not self._lateness_s:
            return {}
        late = np.asarray(self._lateness_s[-2000:])
        return {
            "lateness_p50_ms": 1000 * float(np.percentile(late, 50)),
            "lateness_p99_ms": 1000 * float(np.percentile(late, 99)),
            "lateness_max_ms": 1000 * float(late.max()),
            "frames": float(len(self._lateness_s)),
        }

    def final_snapshot(self, result: DescentResult) -> StatusSnapshot | None:
        """The bench's statistics at the end, with the executive's own timing."""
        if self.bench is None:
            return None
        timing = {k: float(v) for k, v in self.timing().items()}
        for key in ("lateness_p50_ms", "lateness_p99_ms", "lateness_max_ms", "overruns"):
            if key in result.timing:
                timing[key] = float(result.timing[key])
        return snapshot_of(self.bench, "closed", timing)

    def detach(self) -> None:
        if self._remove is not None:
            self._remove()
            self._remove = None
