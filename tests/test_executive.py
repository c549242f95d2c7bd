"""The executive: tasks see every due instant once, in order, in both modes."""

from __future__ import annotations

import numpy as np
import pytest

from hil.core.clock import SimulatedClock, WallClock
from hil.core.executive import Executive, Stop, Task


def recording_task(name: str, rate_hz: float, seen: list[tuple[str, np.ndarray]]) -> Task:
    def run(instants: np.ndarray) -> None:
        seen.append((name, instants))

    return Task(name, rate_hz, run)


def test_lockstep_frames_hand_each_task_all_its_instants_in_order() -> None:
    seen: list[tuple[str, np.ndarray]] = []
    clock = SimulatedClock()
    tasks = [recording_task(n, r, seen) for n, r in (("truth", 1000), ("imu", 400), ("lrf", 10))]
    executive = Executive(clock, tasks, lockstep_frame_s=0.02)
    assert executive.run(0.0, 1.0) == "end of run"
    assert clock.now_s() == pytest.approx(1.0)
    by_task = {name: np.concatenate([i for n, i in seen if n == name]) for name, _ in seen}
    assert by_task["truth"].size == 1001  # 0 .. 1.000 s inclusive
    assert by_task["imu"].size == 401
    assert by_task["lrf"].size == 11
    np.testing.assert_allclose(np.diff(by_task["imu"]), 0.0025)
    # Within a frame the order is the order of the task list.
    assert [name for name, _ in seen[:3]] == ["truth", "imu", "lrf"]
    # lockstep: 50 frames of 20 ms, and nothing can be late on a simulated clock
    assert executive.timing.frames == 50 and executive.timing.overruns == 0


def test_a_task_stops_the_run_with_its_reason() -> None:
    clock = SimulatedClock()

    def touchdown(instants: np.ndarray) -> Stop | None:
        return Stop("touchdown") if instants[-1] >= 0.5 else None

    executive = Executive(clock, [Task("truth", 1000, touchdown)])
    assert executive.run(0.0, 10.0) == "touchdown"
    assert clock.now_s() == pytest.approx(0.5)
    assert executive.timing.simulated_s == pytest.approx(0.5)


def test_real_time_runs_on_the_wall_clock_and_measures_lateness() -> None:
    seen: list[tuple[str, np.ndarray]] = []
    executive = Executive(WallClock(), [recording_task("truth", 1000, seen)])
    executive.run(0.0, 0.2)
    timing = executive.timing
    assert timing.frames == 200
    # it waited for the wall clock (how closely is benchmarks/bench_descent.py's business):
    # lower bounds only, which a busy machine cannot break, it can only make the run longer
    assert timing.wall_s >= 0.2 - 0.002
    assert timing.lateness_s.size == 200
    assert timing.lateness_s.min() >= 0.0  # no frame ran before its deadline
    assert sum(instants.size for _, instants in seen) == 201
