"""Conformance suites, one per device role, run over the real links.

Each suite talks to a bench through the role's public interface only. By default the bench
is the simulated one (simulated FC over a python-can virtual bus and ptys) and the simulated FC
running as a device of its own (``hil device fc``); with ``--hil-bench path/to/bench.toml``
(hil's pytest plugin) naming a bench with ``wire`` backends, the same suites also run against
that bench: hardware, or ``external`` after starting ``hil device fc`` by hand.

An FC outside the test process outlives each test: it keeps its counters, its BIT result
and its parameters. So each test starts it in STANDBY, judges what its counters count during
the test, and puts back every parameter it changed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest

from hil.bench import Bench
from hil.drivers.roles import RangeStimulus
from hil.drivers.serial import encode_line
from hil.drivers.velocimeter_role import VelocityStimulus
from hil.errors import ProtocolError
from hil.protocol.icd import FC_MODES
from hil.protocol.parameters import PARAMETERS
from hil.pytest_plugin import bench_has_wire_roles


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """sim: the in-process simulated bench; external: wire drivers against the simulated FC in
    a process of its own; hardware: the ``--hil-bench`` bench when it has wire backends."""
    if "bench_kind" in metafunc.fixturenames:
        kinds = ["sim", "external"]
        if bench_has_wire_roles(metafunc.config):
            kinds.append("hardware")
        metafunc.parametrize("bench_kind", kinds)


@pytest.fixture
def bench(request: pytest.FixtureRequest, bench_kind: str) -> Iterator[Bench]:
    if bench_kind == "hardware":
        config = request.getfixturevalue("hil_bench_config")
    elif bench_kind == "external":
        config = request.getfixturevalue("hil_external_bench_config")
    else:
        config = request.getfixturevalue("hil_sim_config")
    with Bench(config) as opened:
        fc = opened.flight_computer
        fc.safe()
        fc.set_mode("STANDBY")
        parameters = {name: fc.get_param(name) for name in WRITABLE}
        try:
            yield opened
        finally:
            for name, value in parameters.items():
                if fc.get_param(name) != value:
                    fc.set_param(name, value)


WRITABLE = [name for name, item in PARAMETERS.items() if item.writable]


def counts(bench: Bench) -> dict[str, int]:
    """The FC's STATUS counters now (compare two readings: an FC may have run for hours)."""
    status = bench.flight_computer.status()
    return {key: int(value) for key, value in status.items() if value.isdigit()}


def quiet_inputs(bench: Bench) -> None:
    """Wait until the FC's heartbeat says no sensor input is alive (a previous test's
    streams may still count as fresh for a moment)."""
    bench.signals.wait_for(
        "FC_Heartbeat.ImuOk", lambda ok: ok < 0.5, 2.0, description="IMU input quiet"
    )
    bench.signals.wait_for(
        "FC_Heartbeat.LrfOk", lambda ok: ok < 0.5, 2.0, description="LRF input quiet"
    )
    bench.signals.wait_for(
        "FC_NavVelocity.VelOk", lambda ok: ok < 0.5, 2.0, description="velocimeter input quiet"
    )


def stream_everything(bench: Bench) -> None:
    bench.imu.start_stream(bench.imu.rate_hz)
    bench.range_finder.stimulus = RangeStimulus(1234.5, valid=True, signal_strength_pct=77)
    bench.range_finder.start_stream(bench.range_finder.rate_hz)
    bench.velocimeter.stimulus = VelocityStimulus((1.5, -0.5, -2.0), valid=True)
    bench.velocimeter.start_stream(bench.velocimeter.rate_hz)
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
        assert bench.flight_computer.ping() > 0.0  # no answer raises DeviceTimeout

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
        quiet_inputs(bench)
        report = fc.run_bit()  # nothing streaming yet
        assert not report.passed
        assert {"IMU", "LRF", "VEL", "ENGINE"} <= set(report.failed_items)
        stream_everything(bench)
        wait_heartbeats(bench, 12)  # > 1 s of traffic: the FC measures the IMU rate over 1 s
        wait_full_imu_rate(bench)
        report = fc.run_bit()
        assert report.passed, report.failed_items
        assert set(report.items) >= {"IMU", "LRF", "VEL", "ENGINE", "CAN", "PARAMETERS"}
        wait_heartbeats(bench, 1)
        heartbeat = fc.heartbeat()
        assert heartbeat is not None and heartbeat.bit_passed and heartbeat.imu_ok

    def test_status_reports_mode_and_received_traffic(self, bench: Bench) -> None:
        stream_everything(bench)
        wait_heartbeats(bench, 2)  # the first frame of a session may restart the sequence
        before = counts(bench)
        wait_heartbeats(bench, 3)
        status = bench.flight_computer.status()
        after = counts(bench)
        assert status["MODE"] == "STANDBY"
        assert after["IMU_FRAMES"] - before["IMU_FRAMES"] > 50
        assert after["LRF_FRAMES"] - before["LRF_FRAMES"] >= 1
        assert after["ENG_FRAMES"] - before["ENG_FRAMES"] >= 5
        assert after["IMU_GAPS"] == before["IMU_GAPS"] and after["IMU_BAD"] == before["IMU_BAD"]

    def test_arm_is_refused_until_bit_passes_and_safe_always_works(self, bench: Bench) -> None:
        fc = bench.flight_computer
        quiet_inputs(bench)
        assert not fc.run_bit().passed  # dead sensors: whatever an earlier BIT said is gone
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
        before = counts(bench)["BAD_COMMANDS"]
        good = encode_line("PING")
        corrupted = good.replace(good[-4:-2], b"00" if good[-4:-2] != b"00" else b"11")
        assert fc.send_raw(corrupted) == ("ERR", "5", "BAD_CHECKSUM")
        assert fc.ping() > 0  # the port still works after the bad line
        assert counts(bench)["BAD_COMMANDS"] == before + 1


class TestImu:
    def test_frames_reach_the_fc_in_sequence_at_rate(self, bench: Bench) -> None:
        bench.imu.start_stream(bench.imu.rate_hz)
        wait_heartbeats(bench, 2)  # the first frame of a session may restart the sequence
        before = counts(bench)
        wait_heartbeats(bench, 11)
        status = bench.flight_computer.status()
        after = counts(bench)
        assert float(status["IMU_RATE_HZ"]) == pytest.approx(400, rel=0.1)
        assert after["IMU_GAPS"] == before["IMU_GAPS"] and after["IMU_BAD"] == before["IMU_BAD"]

    def test_block_of_samples_keeps_sequence_numbers(self, bench: Bench) -> None:
        before = counts(bench)["IMU_FRAMES"]
        times = np.arange(8) * 0.0025
        forces = np.tile([0.0, 0.0, 1.62], (8, 1))
        rates = np.zeros((8, 3))
        first = bench.imu.send_samples(times, forces, rates)
        second = bench.imu.send_samples(times + 0.02, forces, rates)
        assert (first, second) == (7, 15) and bench.imu.last_sequence == 15
        bench.signals.wait_for("FC_Heartbeat.Mode", lambda _: True, 1.0)
        bench.flight_computer.wait_heartbeat()
        assert counts(bench)["IMU_FRAMES"] == before + 16


class TestRangeFinder:
    def test_ranges_reach_the_fc_and_decode_on_the_bus(self, bench: Bench) -> None:
        before = bench.can.stats.get("LRF_Range")
        frames_before = counts(bench)["LRF_FRAMES"]
        bench.range_finder.send_range(2999.9, valid=True, signal_strength_pct=55)
        bench.range_finder.send_range(150_000.0, valid=True)  # beyond the LRF: sent invalid
        wait_heartbeats(bench, 2)
        assert counts(bench)["LRF_FRAMES"] == frames_before + 2
        assert bench.can.stats["LRF_Range"].sent == (before.sent if before else 0) + 2


class TestVelocimeter:
    def test_velocities_reach_the_fc_and_decode_on_the_bus(self, bench: Bench) -> None:
        before = bench.can.stats.get("VEL_Velocity")
        fc = bench.flight_computer
        frames_before = fc.velocimeter_reading()
        bench.velocimeter.send_velocity((512.34, -7.5, -40.02), valid=True)
        bench.velocimeter.send_velocity((2000.0, 0.0, 0.0), valid=True)  # beyond: invalid
        wait_heartbeats(bench, 2)
        after = fc.velocimeter_reading()
        assert after["FRAMES"] == frames_before["FRAMES"] + 2
        assert after["INVALID"] == frames_before["INVALID"] + 1
        assert bench.can.stats["VEL_Velocity"].sent == (before.sent if before else 0) + 2
        bench.velocimeter.send_velocity((512.34, -7.5, -40.02), valid=True)
        wait_heartbeats(bench, 1)
        reading = fc.velocimeter_reading()
        assert (reading["VX"], reading["VY"], reading["VZ"]) == pytest.approx(
            (512.34, -7.5, -40.02), abs=0.011
        )
        assert reading["VALID"] == 1.0


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
        assert counts(bench)["ENG_FRAMES"] > 20


class TestFcSensorReadback:
    def test_imu_statistics_reflect_what_the_emulator_sends(self, bench: Bench) -> None:
        before = counts(bench)["IMU_FRAMES"]
        bench.imu.start_stream(bench.imu.rate_hz)
        deadline_s = time.monotonic() + 10.0  # a busy machine streams late, never fewer
        while counts(bench)["IMU_FRAMES"] - before < 100 and time.monotonic() < deadline_s:
            wait_heartbeats(bench, 1)
        stats = bench.flight_computer.imu_statistics(100)
        assert stats["N"] == 100
        assert stats["MEAN_AZ"] == pytest.approx(1.62, abs=1e-6)
        assert stats["STD_AZ"] == pytest.approx(0.0, abs=1e-9)

    def test_lrf_reading_is_the_last_range_sent(self, bench: Bench) -> None:
        try:
            frames_before = bench.flight_computer.lrf_reading()["FRAMES"]
        except ProtocolError as err:  # an FC that never heard the LRF says so
            assert "NO_LRF_DATA" in str(err)
            frames_before = 0.0
        bench.range_finder.send_range(2999.9, valid=True, signal_strength_pct=42)
        wait_heartbeats(bench, 1)
        reading = bench.flight_computer.lrf_reading()
        assert reading == {
            "RANGE": 2999.9,
            "VALID": 1.0,
            "STRENGTH": 42.0,
            "FRAMES": frames_before + 1,
        }
