"""Conformance suites, one per device role, run over the real links.

Each suite talks to a bench through the role's public interface only. By default the bench
is the simulated one (simulated FC over a python-can virtual bus and ptys); with
``HIL_HARDWARE=1 HIL_BENCH=path/to/bench.toml`` the same suites run against hardware.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import numpy as np
import pytest
from conftest import SIM_BENCH, private_bench_config

from hil.bench import Bench
from hil.core.config import load_bench
from hil.drivers.roles import RangeStimulus
from hil.drivers.serial import encode_line
from hil.errors import ProtocolError
from hil.protocol.icd import FC_MODES

BENCHES = ["sim"] + (["hardware"] if os.environ.get("HIL_HARDWARE") == "1" else [])


@pytest.fixture(params=BENCHES)
def bench(request: pytest.FixtureRequest, channel: str) -> Iterator[Bench]:
    if request.param == "hardware":
        config = load_bench(os.environ["HIL_BENCH"])
    else:
        config = private_bench_config(SIM_BENCH, channel)
    with Bench(config) as opened:
        yield opened


def stream_everything(bench: Bench) -> None:
    bench.imu.start_stream(bench.imu.rate_hz)
    bench.range_finder.stimulus = RangeStimulus(1234.5, valid=True, signal_strength_pct=77)
    bench.range_finder.start_stream(bench.range_finder.rate_hz)
    bench.engine.start_stream(bench.engine.rate_hz)


def wait_full_imu_rate(bench: Bench, timeout_s: float = 5.0) -> None:
    """Wait, as a technician does before BIT, until the FC reports the full IMU input rate
    over its last second (the bench's stream threads may start late on a loaded host)."""
    deadline_s = time.monotonic() + timeout_s
    rate_hz = 0.0
    while time.monotonic() < deadline_s:
        rate_hz = float(bench.flight_computer.status()["IMU_RATE_HZ"])
        if rate_hz >= 0.95 * bench.imu.rate_hz:
            return
        time.sleep(0.1)
    raise AssertionError(f"FC IMU input rate stayed at {rate_hz:.0f} Hz for {timeout_s:g} s")


def wait_heartbeats(bench: Bench, count: int) -> None:
    for _ in range(count):
        bench.flight_computer.wait_heartbeat(timeout_s=1.0)


class TestFlightComputer:
    def test_ping_answers_pong(self, bench: Bench) -> None:
        assert 0.0 < bench.flight_computer.ping() < 0.5

    def test_heartbeat_arrives_at_ten_hertz_with_mode_and_counter(self, bench: Bench) -> None:
        fc = bench.flight_computer
        first = fc.wait_heartbeat()
        start = bench.signals.count("FC_Heartbeat.Mode")
        bench.signals.wait_for("FC_Heartbeat.Mode", lambda _: True, 3.0, since_index=start + 10)
        times, _ = bench.signals.history("FC_Heartbeat.Mode", since_index=start)
        period_s = float(np.median(np.diff(times)))
        assert period_s == pytest.approx(0.1, rel=0.1)
        assert first.mode in FC_MODES
        assert bench.can.stats["FC_Heartbeat"].counter_gaps == 0
        assert bench.can.stats["FC_Heartbeat"].crc_failures == 0

    def test_bit_passes_with_live_sensors_and_names_dead_ones(self, bench: Bench) -> None:
        fc = bench.flight_computer
        report = fc.run_bit()  # nothing streaming yet
        assert not report.passed
        assert {"IMU", "LRF", "ENGINE"} <= set(report.failed_items)
        stream_everything(bench)
        wait_heartbeats(bench, 12)  # > 1 s of traffic: the FC measures the IMU rate over 1 s
        wait_full_imu_rate(bench)
        report = fc.run_bit()
        assert report.passed, report.failed_items
        assert set(report.items) >= {"IMU", "LRF", "ENGINE", "CAN", "PARAMETERS"}
        wait_heartbeats(bench, 1)
        heartbeat = fc.heartbeat()
        assert heartbeat is not None and heartbeat.bit_passed and heartbeat.imu_ok

    def test_status_reports_mode_and_received_traffic(self, bench: Bench) -> None:
        stream_everything(bench)
        wait_heartbeats(bench, 3)
        status = bench.flight_computer.status()
        assert status["MODE"] == "STANDBY"
        assert int(status["IMU_FRAMES"]) > 50
        assert int(status["LRF_FRAMES"]) >= 1
        assert int(status["ENG_FRAMES"]) >= 5
        assert status["IMU_GAPS"] == "0" and status["IMU_BAD"] == "0"

    def test_arm_is_refused_until_bit_passes_and_safe_always_works(self, bench: Bench) -> None:
        fc = bench.flight_computer
        with pytest.raises(ProtocolError, match="NOT_ALLOWED:BIT_NOT_PASSED"):
            fc.arm()
        stream_everything(bench)
        wait_heartbeats(bench, 12)
        wait_full_imu_rate(bench)
        assert fc.run_bit().passed
        assert fc.arm() == "ARMED"
        bench.signals.wait_for("FC_Heartbeat.Mode", lambda m: m == FC_MODES.index("ARMED"), 1.0)
        assert fc.safe() == "SAFE"
        with pytest.raises(ProtocolError, match="NOT_ALLOWED:SAFE_TO_BRAKING"):
            fc.set_mode("BRAKING")

    def test_parameters_read_write_and_refusals(self, bench: Bench) -> None:
        fc = bench.flight_computer
        assert fc.get_param("GATE_POLICY") in ("latch", "recover")
        assert fc.set_param("GATE_POLICY", "latch") == "latch"
        assert fc.get_param("gate_policy") == "latch"
        with pytest.raises(ProtocolError, match="UNKNOWN_PARAMETER"):
            fc.get_param("WARP_DRIVE")
        with pytest.raises(ProtocolError, match="BAD_VALUE"):
            fc.set_param("GATE_POLICY", "ignore")
        with pytest.raises(ProtocolError, match="NOT_ALLOWED:SERIAL_READ_ONLY"):
            fc.set_param("SERIAL", "X")
        with pytest.raises(ProtocolError, match="UNKNOWN_COMMAND"):
            fc.command("LAUNCH")

    def test_corrupted_checksum_is_rejected_and_counted(self, bench: Bench) -> None:
        fc = bench.flight_computer
        good = encode_line("PING")
        corrupted = good.replace(good[-4:-2], b"00" if good[-4:-2] != b"00" else b"11")
        assert fc.send_raw(corrupted) == ("ERR", "5", "BAD_CHECKSUM")
        assert fc.ping() > 0  # the port still works after the bad line
        assert fc.status()["BAD_COMMANDS"] == "1"


class TestImu:
    def test_frames_reach_the_fc_in_sequence_at_rate(self, bench: Bench) -> None:
        bench.imu.start_stream(bench.imu.rate_hz)
        wait_heartbeats(bench, 13)
        status = bench.flight_computer.status()
        assert float(status["IMU_RATE_HZ"]) == pytest.approx(400, rel=0.1)
        assert status["IMU_GAPS"] == "0" and status["IMU_BAD"] == "0"

    def test_block_of_samples_keeps_sequence_numbers(self, bench: Bench) -> None:
        times = np.arange(8) * 0.0025
        forces = np.tile([0.0, 0.0, 1.62], (8, 1))
        rates = np.zeros((8, 3))
        first = bench.imu.send_samples(times, forces, rates)
        second = bench.imu.send_samples(times + 0.02, forces, rates)
        assert (first, second) == (7, 15) and bench.imu.last_sequence == 15
        bench.signals.wait_for("FC_Heartbeat.Mode", lambda _: True, 1.0)
        bench.flight_computer.wait_heartbeat()
        assert bench.flight_computer.status()["IMU_FRAMES"] == "16"


class TestRangeFinder:
    def test_ranges_reach_the_fc_and_decode_on_the_bus(self, bench: Bench) -> None:
        before = bench.can.stats.get("LRF_Range")
        bench.range_finder.send_range(2999.9, valid=True, signal_strength_pct=55)
        bench.range_finder.send_range(150_000.0, valid=True)  # beyond the LRF: sent invalid
        wait_heartbeats(bench, 2)
        assert int(bench.flight_computer.status()["LRF_FRAMES"]) == 2
        assert bench.can.stats["LRF_Range"].sent == (before.sent if before else 0) + 2


class TestEngine:
    def test_engine_follows_commanded_throttle_with_lag(self, bench: Bench) -> None:
        fc = bench.flight_computer
        stream_everything(bench)
        wait_heartbeats(bench, 12)
        wait_full_imu_rate(bench)
        assert fc.run_bit().passed
        fc.set_param("TEST_THROTTLE_PCT", 60)
        fc.set_param("TEST_PITCH_DEG", 5)
        fc.arm()
        sample = bench.signals.wait_for(
            "ENG_Status.ThrottleActual", lambda pct: pct > 59.0, 2.0, description="throttle > 59 %"
        )
        command = bench.engine.command()
        assert command.throttle_pct == pytest.approx(60.0) and command.arm and command.fire
        assert command.pitch_deg == pytest.approx(5.0)
        assert sample.value <= 60.05
        fc.safe()
        bench.signals.wait_for(
            "ENG_Status.ThrottleActual", lambda pct: pct < 1.0, 2.0, description="throttle off"
        )
        assert int(fc.status()["ENG_FRAMES"]) > 20


class TestFcSensorReadback:
    def test_imu_statistics_reflect_what_the_emulator_sends(self, bench: Bench) -> None:
        bench.imu.start_stream(bench.imu.rate_hz)
        wait_heartbeats(bench, 3)
        stats = bench.flight_computer.imu_statistics(100)
        assert stats["N"] == 100
        assert stats["MEAN_AZ"] == pytest.approx(1.62, abs=1e-6)
        assert stats["STD_AZ"] == pytest.approx(0.0, abs=1e-9)

    def test_lrf_reading_is_the_last_range_sent(self, bench: Bench) -> None:
        with pytest.raises(ProtocolError, match="NO_LRF_DATA"):
            bench.flight_computer.lrf_reading()
        bench.range_finder.send_range(2999.9, valid=True, signal_strength_pct=42)
        wait_heartbeats(bench, 1)
        reading = bench.flight_computer.lrf_reading()
        assert reading == {"RANGE": 2999.9, "VALID": 1.0, "STRENGTH": 42.0, "FRAMES": 1.0}
