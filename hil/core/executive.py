"""Fixed-rate executive: runs the bench's tasks at their rates, in real time or in lockstep.

Each task has a rate; its due instants are exact multiples of its period. The executive
advances in *frames*: at the end of each frame it hands every task the due instants that fell
inside the frame (oldest first), in the order the tasks were given. So a task is written once,
for k instants at a time, and one code path serves both modes:

* real time (``WallClock``): one frame per tick of the fastest task (1 ms for the 1 kHz truth
  model); the executive sleeps until each frame's end and measures how late it woke
  (lateness p50/p99/max) and how often a frame's work ran past the next frame (overruns);
* lockstep (``SimulatedClock``): frames of ``lockstep_frame_s`` (20 ms by default, the flight
  computer's command period); the clock jumps, so the run is as fast as the machine allows.
  Lockstep needs devices that can be stepped; a bench of hardware devices refuses it.

A task may stop the run by returning ``Stop(reason)``.

In real time the executive's thread asks for the ``SCHED_FIFO`` real-time policy while it runs
(as a hardware bench would; it needs root or ``CAP_SYS_NICE`` and is skipped politely
without) and shortens the interpreter's thread switch interval, so the simulated FC's
threads in the same process cannot hold it off for long. ``TimingReport.priority`` says
which it got.
"""

from __future__ import annotations

import dataclasses
import gc
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from hil.core.clock import Clock
from hil.core.realtime import RealtimeOptions, apply_realtime, restore_gc, save_scheduling
from hil.core.stalls import GAP_THRESHOLD_S, trace_from_environment


@dataclass(frozen=True)
class Stop:
    """Returned by a task to end the run, with the reason for the record."""

    reason: str


TaskFunction = Callable[[np.ndarray], "Stop | None"]
"""Called with the task's due instants in this frame (seconds, shape (k,), k >= 1)."""


@dataclass
class Task:
    name: str
    rate_hz: float
    run: TaskFunction
    calls: int = 0
    instants: int = 0
    busy_s: float = 0.0

    @property
    def period_s(self) -> float:
        return 1.0 / self.rate_hz


@dataclass
class TimingReport:
    """Real-time behaviour of a run (all zero in lockstep, where nothing can be late)."""

    frames: int = 0
    overruns: int = 0
    lateness_s: np.ndarray = field(default_factory=lambda: np.empty(0))
    wall_s: float = 0.0
    simulated_s: float = 0.0
    priority: str = "normal"

    def percentile_s(self, q: float) -> float:
        return float(np.percentile(self.lateness_s, q)) if self.lateness_s.size else 0.0

    @property
    def deadline_miss_fraction(self) -> float:
        return self.overruns / self.frames if self.frames else 0.0

    @property
    def real_time_factor(self) -> float:
        return self.simulated_s / self.wall_s if self.wall_s > 0 else math.inf


class Executive:
    """Runs ``tasks`` from ``start_s`` until a task returns ``Stop`` or ``end_s`` is reached."""

    def __init__(
        self,
        clock: Clock,
        tasks: list[Task],
        lockstep_frame_s: float = 0.02,
        on_frame: Callable[[float], None] | None = None,
        realtime_priority: bool = True,
        pause_gc: bool = False,
        realtime: RealtimeOptions | None = None,
    ) -> None:
        """In real time the objects that exist when the loop starts are frozen out of the
        garbage collector's view (``gc.freeze``); ``pause_gc`` also turns the collector off
        while the loop runs. ``realtime`` (a bench's ``[realtime]``), when given, says
        instead what the loop asks of the platform, for every thread of the process (the
        CAN receive thread too); its ``gc`` is ``off`` with ``pause_gc``."""
        if not tasks:
            raise ValueError("an executive needs at least one task")
        self.clock = clock
        self.tasks = tasks
        fastest_period_s = min(task.period_s for task in tasks)
        self.frame_s = lockstep_frame_s if clock.is_simulated else fastest_period_s
        self._on_frame = on_frame
        self._realtime_priority = realtime_priority
        self._pause_gc = pause_gc
        self._realtime = realtime
        self._next_index = [0 for _ in tasks]
        self.timing = TimingReport()
        self.stop_reason: str | None = None
        self.late_s = 0.0
        """How late the current frame started, s (0 in lockstep): tasks that judge how old
        their inputs are discount a stall of the bench itself."""
        self.origin_s: float | None = None
        """Clock time of run time 0 (set when ``run`` starts its frames)."""

    def run(self, start_s: float, end_s: float) -> str:
        """Run frames from ``start_s``; returns the stop reason (``"end of run"`` at ``end_s``)."""
        if self.clock.is_simulated:
            return self._run(start_s, end_s)
        switch_interval_s = sys.getswitchinterval()
        if self._realtime is not None:
            return self._run_with(self._realtime, start_s, end_s, switch_interval_s)
        restore = self._raise_priority() if self._realtime_priority else None
        sys.setswitchinterval(0.0005)
        gc_was_enabled = gc.isenabled()
        # Everything that exists now (modules, the bench, the models) leaves the collector's
        # view: a full collection then only walks what the loop allocates. Without this a
        # descent stalled ~60 ms at the same point every flight (t = 247 s), long enough for
        # the FC's 50 ms IMU watchdog to abort.
        gc.collect()
        gc.freeze()
        if self._pause_gc:
            gc.disable()
        try:
            return self._run(start_s, end_s)
        finally:
            gc.unfreeze()
            if self._pause_gc and gc_was_enabled:
                gc.enable()
            sys.setswitchinterval(switch_interval_s)
            if restore is not None:
                os.sched_setscheduler(0, *restore)

    def _run_with(
        self, options: RealtimeOptions, start_s: float, end_s: float, switch_interval_s: float
    ) -> str:
        if self._pause_gc:
            options = dataclasses.replace(options, gc="off")
        if not self._realtime_priority:
            options = dataclasses.replace(options, fifo_priority=0)
        restore = save_scheduling()
        thresholds, gc_was_enabled = gc.get_threshold(), gc.isenabled()
        got = apply_realtime(options, "bench loop")
        self.timing.priority = "; ".join(line.removeprefix("bench loop: ") for line in got)
        sys.setswitchinterval(0.0005)
        try:
            return self._run(start_s, end_s)
        finally:
            restore_gc(options, thresholds, gc_was_enabled)
            sys.setswitchinterval(switch_interval_s)
            restore()

    def _raise_priority(self) -> tuple[int, os.sched_param] | None:
        try:
            policy = os.sched_getscheduler(0)
            param = os.sched_getparam(0)
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        except (AttributeError, OSError):
            self.timing.priority = "normal (real-time policy not permitted)"
            return None
        self.timing.priority = "SCHED_FIFO 10"
        return policy, param

    def _run(self, start_s: float, end_s: float) -> str:
        frame_s = self.frame_s
        realtime = not self.clock.is_simulated
        trace = trace_from_environment("bench") if realtime else None
        lateness: list[float] = []
        periods = [task.period_s for task in self.tasks]
        # Task k's due instants are n * period; start from the first one at or after start_s.
        self._next_index = [math.ceil(start_s / period - 1e-9) for period in periods]
        # run time t is clock time origin_s + t: a clock already past 0 (a bench that has
        # been open a while) still gives tasks the run's own instants
        origin_s = self.clock.now_s() - start_s
        self.origin_s = origin_s
        wall_started_s = time.perf_counter()
        frame_index = 0
        frame_start_s = start_s
        reason = "end of run"
        try:
            while frame_start_s < end_s - 1e-12:
                frame_index += 1
                frame_end_s = min(start_s + frame_index * frame_s, end_s)
                if realtime:
                    deadline_s = origin_s + frame_end_s
                    self.clock.sleep_until(deadline_s)
                    late_s = self.clock.now_s() - deadline_s
                    self.late_s = late_s
                    lateness.append(late_s)
                    if late_s > frame_s:
                        self.timing.overruns += 1
                        if trace is not None and late_s > GAP_THRESHOLD_S:
                            trace.note("executive", deadline_s, deadline_s + late_s)
                else:
                    self.clock.sleep_until(origin_s + frame_end_s)
                stop = self._run_frame(frame_end_s, periods)
                self.timing.frames += 1
                if self._on_frame is not None:
                    self._on_frame(frame_end_s)
                frame_start_s = frame_end_s
                if stop is not None:
                    reason = stop.reason
                    break
        finally:  # a task that raised still leaves the timing of the frames that ran
            self.timing.wall_s += time.perf_counter() - wall_started_s
            self.timing.simulated_s += frame_start_s - start_s
            self.timing.lateness_s = np.concatenate([self.timing.lateness_s, np.asarray(lateness)])
        self.stop_reason = reason
        return reason

    def _run_frame(self, frame_end_s: float, periods: list[float]) -> Stop | None:
        stop: Stop | None = None
        for index, task in enumerate(self.tasks):
            period_s = periods[index]
            first = self._next_index[index]
            last = math.floor(frame_end_s / period_s + 1e-9)
            if last < first:
                continue
            instants = np.arange(first, last + 1) * period_s
            self._next_index[index] = last + 1
            started_s = time.perf_counter()
            result = task.run(instants)
            task.busy_s += time.perf_counter() - started_s
            task.calls += 1
            task.instants += instants.size
            if result is not None and stop is None:
                stop = result
        return stop
