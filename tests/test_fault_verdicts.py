"""Fault scenarios F4-F6 flown through the links: what each one does to the descent, and the
bench's verdict and fault counts that say so.

These injections live in the bench (LRF emulator, engine model, IMU line), so they can only be
flown full stack. The three descents (~30 s of CPU each) fly side by side in two worker
processes, each on its own virtual CAN channel, once per module.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
from collections.abc import Iterator

import pytest
from conftest import SIM_BENCH, private_bench_config

from hil.flight.descent import DescentResult
from hil.flight.descent import fly as fly_descent
from hil.flight.scenario import load_scenario

pytestmark = pytest.mark.slow

SCENARIOS = ("f4-lrf-outliers", "f5-engine-degraded", "f6-fc-overload")


def fly_scenario(name: str) -> DescentResult:
    """One full-stack descent of ``name`` (seed 0) on a channel of its own."""
    config = private_bench_config(SIM_BENCH, f"verdict-{name}")
    return fly_descent(config, load_scenario(name), seed=0)


@pytest.fixture(scope="module")
def flown() -> Iterator[dict[str, DescentResult]]:
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
        results = dict(zip(SCENARIOS, pool.map(fly_scenario, SCENARIOS), strict=True))
    yield results


def event_times(result: DescentResult, prefix: str) -> list[float]:
    return [t for t, text in result.events if text.startswith(prefix)]


def test_f4_outliers_are_injected_and_the_fc_filter_still_lands(
    flown: dict[str, DescentResult],
) -> None:
    result = flown["f4-lrf-outliers"]
    counts = result.fault_counts
    # 20 % of the ~1,000 LRF frames below 30 km carry an outlier
    assert 100 < counts["injected_lrf_outliers"] < 400, counts
    assert event_times(result, "fault injected: LRF noise x10")
    # ten-times noise and outliers: the estimate still settles on the truth before touchdown
    assert result.passed, result.verdict
    assert result.landed_altitude_error_m is not None
    assert abs(result.landed_altitude_error_m) < 5.0


def test_f5_half_thrust_at_50_m_breaks_the_touchdown_limits(
    flown: dict[str, DescentResult],
) -> None:
    result = flown["f5-engine-degraded"]
    assert event_times(result, "fault injected: engine thrust x0.5")
    assert result.contact is not None
    assert not result.passed, result.verdict
    assert result.verdict.startswith("FAIL: landed;")
    contact = result.contact
    assert abs(contact.vertical_speed_mps) > 2.0 or contact.horizontal_speed_mps > 1.0
    assert "speed" in result.verdict


def test_f6_every_dropped_imu_frame_is_counted_and_the_fc_still_lands(
    flown: dict[str, DescentResult],
) -> None:
    result = flown["f6-fc-overload"]
    counts = result.fault_counts
    # from the high gate (~140 s at 400 Hz), one frame in ten goes missing
    assert 3000 < counts["injected_imu_dropped"] < 8000, counts
    assert counts["detected_imu_gaps"] == counts["injected_imu_dropped"]
    (dropping_s,) = event_times(result, "fault injected: IMU frames dropped")
    (approach_s,) = event_times(result, "FC mode APPROACH")
    assert dropping_s <= approach_s
    assert result.passed, result.verdict
    assert result.fc_final_mode == "LANDED"


def test_f6_the_overloaded_fc_misses_deadlines_restarts_once_and_lands(
    flown: dict[str, DescentResult],
) -> None:
    result = flown["f6-fc-overload"]
    counts = result.fault_counts
    # 45 % of each cycle stolen from APPROACH on: the low-priority queue overflows after six
    # late cycles, the watchdog restarts the software once and sheds it, guidance flies on
    assert counts["detected_missed_deadlines"] == 6 and counts["detected_restarts"] == 1
    (approach_s,) = event_times(result, "FC mode APPROACH")
    (restart_s,) = event_times(result, "FC watchdog restart 1")
    assert 0.0 <= restart_s - approach_s <= 0.5
    assert "FC load test set: LOAD_TEST_PCT 45 %" in [text for _, text in result.events]
    assert result.verdict.startswith("PASS: landed")
    assert "; FC overload: 6 missed deadlines from t=" in result.verdict
    assert "1 watchdog restart" in result.verdict and "kept guidance flying" in result.verdict
