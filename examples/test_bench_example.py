"""Bench tests a lab writes with hil's pytest plugin: copy this file into your own tests.

Run against the simulated bench (the default)::

    pytest examples/test_bench_example.py

and against your hardware bench (or the simulated FC started with ``hil device fc``)::

    pytest examples/test_bench_example.py --hil-bench path/to/my-bench.toml

The fixtures (``hil_bench``, ``hil_fc``, ``hil_signals``, ``hil_card``, ``hil_records``) and
the ``hil_hardware`` marker come from the plugin that installing ``hil`` registers.
"""

from __future__ import annotations

import time

import pytest

from hil.bench import Bench
from hil.core.signals import SignalStore
from hil.drivers.roles import FlightComputer
from hil.pytest_plugin import CardRunner
from hil.records.store import RecordStore
from hil.records.verify import verify

LANDER = "HR-M3-SN002"


def test_fc_answers_on_its_maintenance_port(hil_fc: FlightComputer) -> None:
    round_trip_s = hil_fc.ping()
    assert round_trip_s < 1.0
    assert hil_fc.status()["MODE"] in {"SAFE", "STANDBY", "ARMED", "DESCENT", "LANDED"}


def test_fc_built_in_test_passes_with_live_sensors(
    hil_bench: Bench, hil_fc: FlightComputer
) -> None:
    """BIT judges live traffic: the bench's IMU, LRF, velocimeter and engine emulators stream
    first."""
    hil_fc.safe()
    hil_fc.set_mode("STANDBY")
    for device in (hil_bench.imu, hil_bench.range_finder, hil_bench.velocimeter, hil_bench.engine):
        device.start_stream(device.rate_hz)
    hil_bench.signals.wait_for(
        "FC_Heartbeat.ImuOk", lambda ok: ok > 0.5, 3.0, description="the FC sees the IMU"
    )
    time.sleep(1.5)  # BIT looks back over 1.2 s of traffic
    report = hil_fc.run_bit()
    assert report.passed, f"BIT items failed: {report.failed_items}"


def test_fc_heartbeat_reaches_the_bench(hil_bench: Bench, hil_signals: SignalStore) -> None:
    hil_signals.wait_for(
        "FC_Heartbeat.Mode", lambda mode: mode >= 0, 2.0, description="an FC heartbeat"
    )
    assert hil_bench.flight_computer.heartbeat() is not None


def test_a_library_card_passes_and_its_record_verifies(
    hil_card: CardRunner, hil_records: RecordStore
) -> None:
    record = hil_card("LL-31-10-00-740-801", lander=LANDER)  # FC power-on and BIT
    assert record.outcome.value == "PASS", record.summary()
    (run,) = hil_records.runs()
    assert verify(hil_records, run.run_id).ok


@pytest.mark.hil_hardware
def test_the_fc_keeps_its_parameters_across_a_reconnect(hil_fc: FlightComputer) -> None:
    """Only where the FC is a device on the wire: the simulated bench skips it."""
    before = hil_fc.get_param("LRF_GATE_M")
    assert hil_fc.get_param("LRF_GATE_M") == before
