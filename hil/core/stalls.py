"""Stalls of a real-time process, measured and explained: the gaps of a probe thread, what the
garbage collector did meanwhile, and whether the process was busy or not scheduled at all.

Off by default. With ``HIL_STALL_TRACE=<folder>`` in the environment, each process of a bench
that calls ``trace_from_environment(role)`` (the bench's real-time loop, ``hil device fc``,
``hil device can-server``) runs a probe thread that wakes every ``PROBE_PERIOD_S`` and writes
``<folder>/<role>-<pid>.json`` when it stops: every gap of the probe longer than
``GAP_THRESHOLD_S`` with

* ``gc_ms``: how much of the gap the garbage collector ran (``gc.callbacks``), per generation;
* ``cpu_ms``: the process's CPU time during the gap (all threads): near the gap, the process
  was busy (a thread held the interpreter); near 0, the machine did not run it (load);
* ``involuntary``: the process's involuntary context switches during the gap;
* ``threads``: where each thread of the process was when the gap ended.

Loops that know their own deadlines (the executive) add their late frames with ``note``.
docs/architecture.md ("Stalls of the real-time processes") shows what it found.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import resource
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

__all__ = ["GAP_THRESHOLD_S", "TRACE_ENV", "StallTrace", "active_trace", "trace_from_environment"]

TRACE_ENV = "HIL_STALL_TRACE"
GAP_THRESHOLD_S = 0.010
"""A probe or loop gap longer than this (beyond its own period) is recorded."""
PROBE_PERIOD_S = 0.002

_active: StallTrace | None = None


class StallTrace:
    """The stall probe of one process (see the module docstring)."""

    def __init__(self, role: str, folder: Path, threshold_s: float = GAP_THRESHOLD_S) -> None:
        self.role = role
        self.path = folder / f"{role}-{os.getpid()}.json"
        self.threshold_s = threshold_s
        self.gaps: list[dict[str, Any]] = []
        self._collections: deque[tuple[float, float, int]] = deque(maxlen=512)
        self._gc_started_s = 0.0
        self._gc_total_s = [0.0, 0.0, 0.0]
        self._gc_counts = [0, 0, 0]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._probe, name=f"stall-probe-{role}", daemon=True)
        self._started_s = time.monotonic()

    def start(self) -> StallTrace:
        gc.callbacks.append(self._on_gc)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the probe and write the file (twice is harmless)."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        if self._thread is not threading.current_thread():
            self._thread.join(1.0)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.summary(), indent=1))

    def summary(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "pid": os.getpid(),
            "seconds": time.monotonic() - self._started_s,
            "gc_collections": self._gc_counts,
            "gc_ms_by_generation": [round(1000 * s, 2) for s in self._gc_total_s],
            "gc_max_ms": round(1000 * max((e - s for s, e, _ in self._collections), default=0), 2),
            "gaps": self.gaps,
        }

    def note(self, where: str, start_s: float, end_s: float) -> None:
        """Record a gap of a loop (monotonic seconds) with what the collector did in it."""
        self.gaps.append(self._describe(where, start_s, end_s, None, None))

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        now_s = time.monotonic()
        if phase == "start":
            self._gc_started_s = now_s
            return
        generation = info.get("generation", 0)
        self._collections.append((self._gc_started_s, now_s, generation))
        self._gc_total_s[generation] += now_s - self._gc_started_s
        self._gc_counts[generation] += 1

    def _probe(self) -> None:
        last_s = time.monotonic()
        last_cpu_s = time.process_time()
        last_switches = resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw
        while not self._stop.is_set():
            time.sleep(PROBE_PERIOD_S)
            now_s = time.monotonic()
            cpu_s = time.process_time()
            if now_s - last_s - PROBE_PERIOD_S > self.threshold_s:
                switches = resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw
                self.gaps.append(
                    self._describe(
                        "probe", last_s, now_s, cpu_s - last_cpu_s, switches - last_switches
                    )
                )
                last_switches = switches
            last_s, last_cpu_s = now_s, cpu_s

    def _describe(
        self,
        where: str,
        start_s: float,
        end_s: float,
        cpu_s: float | None,
        switches: int | None,
    ) -> dict[str, Any]:
        gc_s = [0.0, 0.0, 0.0]
        for begin_s, finish_s, generation in self._collections:
            overlap_s = min(finish_s, end_s) - max(begin_s, start_s)
            if overlap_s > 0:
                gc_s[generation] += overlap_s
        gap_s = end_s - start_s
        if sum(gc_s) >= 0.5 * gap_s:
            cause = "gc"
        elif cpu_s is None:
            cause = "unknown"
        elif cpu_s >= 0.5 * gap_s:
            cause = "busy in process"
        else:
            cause = "not scheduled"
        record: dict[str, Any] = {
            "where": where,
            "at_s": round(start_s - self._started_s, 3),
            "gap_ms": round(1000 * gap_s, 2),
            "cause": cause,
            "gc_ms": [round(1000 * s, 2) for s in gc_s],
            "load1": round(os.getloadavg()[0], 2),
        }
        if cpu_s is not None:
            record["cpu_ms"] = round(1000 * cpu_s, 2)
            record["involuntary"] = switches
            record["threads"] = _where_threads()
        return record


def _where_threads() -> dict[str, str]:
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    places = {}
    for ident, frame in sys._current_frames().items():
        name = names.get(ident, str(ident))
        if name.startswith("stall-probe"):
            continue
        code = frame.f_code
        places[name] = f"{Path(code.co_filename).name}:{frame.f_lineno} {code.co_name}"
    return places


def active_trace() -> StallTrace | None:
    """This process's stall trace, or None when tracing is off."""
    return _active


def trace_from_environment(role: str) -> StallTrace | None:
    """Start this process's stall trace when ``HIL_STALL_TRACE`` names a folder (once per
    process; it is written when the process exits, or on ``stop``)."""
    global _active
    folder = os.environ.get(TRACE_ENV)
    if not folder:
        return None
    if _active is None:
        _active = StallTrace(role, Path(folder)).start()
        atexit.register(_active.stop)
    return _active
