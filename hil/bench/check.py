"""``hil bench check``: open every device, ping the FC, run its BIT, report link health.

The check streams the sensor emulators for a moment so the flight computer sees live
traffic (its BIT wants IMU frames at rate, LRF ranges and engine status), then reads the
link statistics on both sides. It is a service used by the CLI and by test cards alike.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from hil.bench import Bench
from hil.drivers.can import StatsRow, stats_rows
from hil.drivers.roles import BitReport, RangeStimulus
from hil.drivers.velocimeter_role import VelocityStimulus
from hil.errors import DeviceTimeout, HilError

HEARTBEAT_RATE_HZ = 10.0
RATE_TOLERANCE = 0.10


@dataclass
class CheckResult:
    """What ``bench check`` found. ``ok`` is the verdict; ``problems`` says why not."""

    devices: list[tuple[str, str, str, str]] = field(default_factory=list)
    ping_s: float | None = None
    bit: BitReport | None = None
    can_rows: list[StatsRow] = field(default_factory=list)
    serial_rows: list[tuple[str, str, float]] = field(default_factory=list)
    fc_status: dict[str, str] = field(default_factory=dict)
    fc_counts: dict[str, int] = field(default_factory=dict)
    """How much each of the FC's fault counters (``FC_COUNTERS``) grew during the check."""
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What the check saw that is no fault of the link, e.g. stalls of a periodic message
    (its sender or the machine was busy; no frame was lost)."""

    @property
    def ok(self) -> bool:
        return not self.problems


def run_check(bench: Bench, traffic_s: float = 1.2) -> CheckResult:
    """Run the check on an open bench. Device failures become problems, not exceptions."""
    result = CheckResult()
    for role, device in bench.devices.items():
        result.devices.append((role, device.backend, type(device).__name__, device.describe_link()))

    fc = bench.flight_computer
    bench.imu.start_stream(bench.imu.rate_hz)
    bench.range_finder.stimulus = RangeStimulus(1500.0, valid=True, signal_strength_pct=90.0)
    bench.range_finder.start_stream(bench.range_finder.rate_hz)
    bench.velocimeter.stimulus = VelocityStimulus((0.0, 0.0, 0.0), valid=True)
    bench.velocimeter.start_stream(bench.velocimeter.rate_hz)
    bench.engine.start_stream(bench.engine.rate_hz)
    try:
        try:
            fc.wait_heartbeat(timeout_s=1.0)
        except DeviceTimeout as err:
            result.problems.append(f"no heartbeat: {err}")
        try:
            result.ping_s = fc.ping()
            # An FC that outlives bench sessions (hardware, a standalone device) keeps its
            # counters: what this check judges is what they count while it runs.
            before = fc.status()
        except HilError as err:
            result.problems.append(f"PING failed: {err}")
            return result
        _wait_for_traffic(bench, traffic_s)
        try:
            result.bit = fc.run_bit()
            if not result.bit.passed:
                result.problems.append("BIT failed: " + ", ".join(result.bit.failed_items))
        except HilError as err:
            result.problems.append(f"BIT failed to run: {err}")
        try:
            result.fc_status = fc.status()
            result.fc_counts = {
                key: _count(result.fc_status, key) - _count(before, key) for key in FC_COUNTERS
            }
        except HilError as err:
            result.problems.append(f"STATUS failed: {err}")
    finally:
        bench.imu.stop_stream()
        bench.range_finder.stop_stream()
        bench.velocimeter.stop_stream()
        bench.engine.stop_stream()

    _link_statistics(bench, result)
    return result


def _wait_for_traffic(bench: Bench, traffic_s: float) -> None:
    """Let the FC see ``traffic_s`` of streams (its BIT measures the IMU rate over 1 s)."""
    deadline_s = time.monotonic() + traffic_s
    signals = bench.signals
    while time.monotonic() < deadline_s:
        start = signals.count("FC_Heartbeat.Mode")
        try:
            signals.wait_for("FC_Heartbeat.Mode", lambda _: True, timeout_s=0.5, since_index=start)
        except DeviceTimeout:
            return


def _link_statistics(bench: Bench, result: CheckResult) -> None:
    stats = bench.can.stats
    result.can_rows = stats_rows(stats)
    for name, item in sorted(stats.items()):
        if item.crc_failures or item.counter_gaps or item.decode_errors:
            result.problems.append(
                f"CAN {name}: {item.crc_failures} CRC failures, {item.counter_gaps} counter "
                f"gaps, {item.decode_errors} decode errors"
            )
        if item.stalls:
            result.notes.append(
                f"CAN {name}: {item.stalls} stall{'s' if item.stalls > 1 else ''} (silent for "
                f"up to {1000 * item.longest_stall_s:.0f} ms; not counted as lost frames)"
            )
    heartbeat = stats.get("FC_Heartbeat")
    if heartbeat is None or heartbeat.received == 0:
        result.problems.append("CAN: no FC_Heartbeat received")
    elif abs(heartbeat.rate_hz - HEARTBEAT_RATE_HZ) > RATE_TOLERANCE * HEARTBEAT_RATE_HZ:
        result.problems.append(
            f"CAN FC_Heartbeat rate {heartbeat.rate_hz:.1f} Hz, expected "
            f"{HEARTBEAT_RATE_HZ:g} Hz +-{RATE_TOLERANCE:.0%}"
        )
    link = bench.can.link_stats
    if link.malformed or link.error_frames:
        result.problems.append(
            f"CAN bus: {link.malformed} malformed frames, {link.error_frames} error frames"
        )
    for role, device in bench.devices.items():
        for key, value in device.statistics().items():
            result.serial_rows.append((role, key, float(value)))
            if key.startswith("bad") and value:
                result.problems.append(f"{role}: {int(value)} {key.replace('_', ' ')}")
    for key, count in result.fc_counts.items():
        if count:
            result.problems.append(f"FC counted {count} {key} during the check")


FC_COUNTERS = ("IMU_BAD", "IMU_GAPS", "BAD_COMMANDS")
"""The FC's STATUS counters of faults on its inputs; the check wants none while it runs."""


def _count(status: dict[str, str], key: str) -> int:
    try:
        return int(status.get(key, "0") or "0")
    except ValueError:
        return 0
