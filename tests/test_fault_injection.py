"""Faults injected by the bench: the FC detects every one, and the bench counts them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from conftest import SIM_BENCH, private_bench_config

from hil.errors import ConfigError
from hil.flight.descent import DescentResult
from hil.flight.descent import fly as fly_descent
from hil.flight.faults import Injection
from hil.flight.scenario import Scenario, load_scenario

pytestmark = pytest.mark.slow


def fly(channel: str, scenario: Scenario, duration_s: float, seed: int = 0) -> DescentResult:
    scenario = dataclasses.replace(
        scenario, model=dataclasses.replace(scenario.model, max_duration_s=duration_s)
    )
    return fly_descent(private_bench_config(SIM_BENCH, channel), scenario, seed=seed)


def test_every_injected_bus_fault_is_detected_by_the_fc(channel: str) -> None:
    result = fly(channel, load_scenario("bus-faults"), 70.0)
    counts = result.fault_counts
    assert counts["injected_can_lost"] > 20  # 5 % of 1500 ENG_Status + a 0.5 s bus-off
    assert counts["injected_can_corrupt"] > 20
    assert counts["injected_imu_corrupt"] > 20
    # A corrupted frame is also missing from the sequence; the bus-off loses 25 frames of
    # ENG_Status in a row, more than the 4-bit counter can count on its own.
    assert (
        counts["detected_can_gaps"] == counts["injected_can_lost"] + counts["injected_can_corrupt"]
    )
    assert counts["detected_can_crc"] == counts["injected_can_corrupt"]
    assert counts["detected_imu_bad"] == counts["injected_imu_corrupt"]
    assert result.stop_reason == "end of run"  # the FC flew on through all of it
    texts = [text for _, text in result.events]
    assert "fault injected: bench CAN node bus-off for 0.5 s" in texts
    assert any(text.startswith("faults injected:") for text in texts)


def test_an_unplugged_imu_makes_the_fc_abort_within_three_periods(channel: str) -> None:
    scenario = load_scenario("imu-unplugged")
    scenario = dataclasses.replace(
        scenario, injections=(Injection("unplug", at_s=20.0, device="imu"),)
    )
    result = fly(channel, scenario, 22.0)
    events = dict((text.split(" at ")[0], t) for t, text in result.events)
    unplugged_s = events["fault injected: imu unplugged"]
    aborted_s = events["FC mode ABORT"]
    # The FC gives up after 50 ms of silence (checked each 20 ms step); the mode reaches the
    # bench in the next heartbeat (10 Hz), which the bench's telemetry task reads at 10 Hz.
    assert 0.0 < aborted_s - unplugged_s <= 0.05 + 0.02 + 0.1 + 0.1
    # and the verdict says why, as the FC tells it (FAULT on the maintenance port)
    assert "FC aborted: IMU silent for 50 ms in BRAKING" in result.verdict, result.verdict


def test_injections_are_checked_when_the_scenario_loads(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[scenario]\nname = "bad"\n[[injection]]\nkind = "gremlins"\nat_s = 1.0\n')
    with pytest.raises(ConfigError, match=r"\[injection #1\] kind: unknown fault 'gremlins'"):
        load_scenario(path)
    path.write_text('[scenario]\nname = "bad"\n[[injection]]\nkind = "bus_off"\n')
    with pytest.raises(ConfigError, match="give exactly one trigger"):
        load_scenario(path)
    path.write_text(
        '[scenario]\nname = "bad"\n[[injection]]\nkind = "unplug"\ndevice = "radio"\nat_s = 1.0\n'
    )
    with pytest.raises(
        ConfigError, match=r"device: must be one of imu, range_finder, velocimeter, engine"
    ):
        load_scenario(path)


def test_imu_frames_missed_by_the_fc_are_counted_as_sequence_gaps(channel: str) -> None:
    scenario = dataclasses.replace(
        load_scenario("f6-fc-overload"),
        injections=(Injection("imu_drop", at_s=12.0, for_s=4.0, probability=0.1),),
    )
    result = fly(channel, scenario, 18.0)
    counts = result.fault_counts
    assert counts["injected_imu_dropped"] > 100  # 10 % of 1600 frames
    assert counts["detected_imu_gaps"] == counts["injected_imu_dropped"]
    assert counts["detected_imu_bad"] == 0
    assert result.stop_reason == "end of run"
