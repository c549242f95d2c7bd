"""Fault scenarios F1-F3 flown model-only: the real landing failures show on the bench.

Each scenario is flown once (module fixtures) with its own parameters, truth terrain (with
features) and onboard map, exactly as ``hil descent --scenario`` would configure the FC.
These are whole descents (10-20 s of CPU each), hence ``slow``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hil.flight.model_only import ClosedLoopParams, ModelRunResults, run_model_only
from hil.flight.reference import compare, from_model_history, load_reference, rows_text
from hil.flight.scenario import load_scenario
from hil.fsw.flight_software import FswParams

pytestmark = pytest.mark.slow

SEED = 1


def _fly(name: str, params: ClosedLoopParams | None = None) -> ModelRunResults:
    scenario = load_scenario(name)
    return run_model_only(
        1,
        SEED,
        params=params or scenario.model,
        terrain=scenario.truth_terrain_profile(),
        terrain_map=scenario.fc_terrain_map_profile(),
        record_history=True,
    )


def _history(res: ModelRunResults) -> dict[str, np.ndarray]:
    assert res.history is not None
    return res.history


@pytest.fixture(scope="module")
def f1_latch() -> ModelRunResults:
    return _fly("f1-crater-rim")


@pytest.fixture(scope="module")
def f2() -> ModelRunResults:
    return _fly("f2-lrf-degraded")


def test_f1_latch_believes_it_is_down_while_km_up_runs_dry_and_falls(
    f1_latch: ModelRunResults,
) -> None:
    res = f1_latch
    h = _history(res)
    assert res.lrf_first_accept_time_s[0] < res.touchdown_time_s[0]  # good before the rim
    assert res.lrf_latched[0], res.verdict()
    # when the FC first believes it is in the touchdown window, truth is kilometres up
    window = FswParams().touchdown_window_m
    believed_down = int(np.argmax(h["altitude_est_m"] <= window))
    assert h["altitude_est_m"][believed_down] <= window
    assert h["altitude_m"][believed_down] - h["altitude_est_m"][believed_down] > 2000.0
    # it waits for a contact that never comes until the tanks are dry, then falls
    assert res.touched_down[0]
    assert res.propellant_left_kg[0] < 0.1, res.verdict()
    assert -res.touchdown_vertical_speed_mps[0] > 50.0, res.verdict()
    assert not res.passed[0]


def test_f1_is_within_20_percent_of_every_published_mission1_figure(
    f1_latch: ModelRunResults,
) -> None:
    """Issue 18: 0 m believed ~5 km up, tanks dry ~5 km up, ~79 s fall, ~127 m/s."""
    flown = from_model_history(f1_latch, load_scenario("f1-crater-rim").model.lander.max_thrust_n)
    reference = load_reference("hakuto-r-m1")
    rows = compare(reference, flown)
    assert len(rows) == 4 and all(row.passed for row in rows), rows_text(rows)
    assert all(abs(row.off_fraction) <= 0.2 for row in rows)


def test_f1_recover_reanchors_on_the_crater_floor_and_lands() -> None:
    res = _fly("f1-crater-rim-recover")
    assert res.lrf_rejected_count[0] >= 5  # the jump at the rim was seen and rejected
    assert not res.lrf_latched[0]
    assert res.passed[0], res.verdict()
    assert abs(res.landed_altitude_error_m[0]) < 2.0


def test_f2_first_valid_range_comes_below_900_m_far_faster_than_nominal(
    f2: ModelRunResults,
) -> None:
    res = f2
    h = _history(res)
    assert res.lrf_first_valid_range_m[0] < 900.0
    i = int(np.searchsorted(h["time_s"], res.lrf_first_valid_time_s[0]))
    altitude = h["altitude_m"][i]
    speed = float(np.hypot(h["vx_mps"][i], h["vz_mps"][i]))
    # until then the FC navigated on the IMU: its altitude estimate is far too high
    assert h["altitude_est_m"][i - 1] - altitude > 500.0
    nominal = _fly("nominal")
    n = _history(nominal)
    j = int(np.argmax(n["altitude_m"] <= altitude))  # nominal passing the same altitude
    nominal_speed = float(np.hypot(n["vx_mps"][j], n["vz_mps"][j]))
    assert speed > 1.2 * nominal_speed, (speed, nominal_speed)


def test_f2_is_within_20_percent_of_every_published_mission2_figure(f2: ModelRunResults) -> None:
    """Issue 18: first valid range < 900 m, ~66 m/s there, 42 m/s descending at 192 m."""
    flown = from_model_history(f2, load_scenario("f2-lrf-degraded").model.lander.max_thrust_n)
    rows = compare(load_reference("hakuto-r-m2"), flown)
    assert len(rows) == 3 and all(row.passed for row in rows), rows_text(rows)
    h = _history(f2)
    i = int(np.searchsorted(h["time_s"], f2.lrf_first_valid_time_s[0]))
    # coming down nearly vertically, as the accounts' figures say
    assert -h["vz_mps"][i] > 3.0 * abs(h["vx_mps"][i])
    # the FC brakes at full thrust once it knows, too late
    low = int(np.argmax(h["altitude_m"] <= 192.0))
    assert h["cmd_throttle_pct"][low] == pytest.approx(100.0)


def test_f2_crashes_where_the_specified_3_km_lrf_lands(f2: ModelRunResults) -> None:
    assert f2.touched_down[0], f2.verdict()
    assert not f2.passed[0], f2.verdict()
    # a hard impact, not a marginal miss
    assert -f2.touchdown_vertical_speed_mps[0] > 15.0, f2.verdict()
    # the control: the same flight and navigation error with the LRF as specified
    model = load_scenario("f2-lrf-degraded").model
    control = dataclasses.replace(
        model, lrf=dataclasses.replace(model.lrf, max_valid_range_m=3000.0)
    )
    res = _fly("f2-lrf-degraded", control)
    assert res.lrf_first_valid_range_m[0] > 2500.0
    assert res.passed[0], res.verdict()


def test_f3_without_the_lrf_fails_the_touchdown_limits() -> None:
    res = _fly("f3-lrf-disabled")
    assert np.isnan(res.lrf_first_valid_range_m[0])
    assert res.lrf_accepted_count[0] == 0
    assert res.touched_down[0]
    assert not res.passed[0], res.verdict()
    assert -res.touchdown_vertical_speed_mps[0] > 2.0 or res.touchdown_tilt_deg[0] > 10.0
