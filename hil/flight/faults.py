"""Fault injection in the bench: the link layer, the sensor emulators and the engine model.

Injections never touch the flight software: they change what the bench puts on the wire (frames
lost, corrupted or held back, a device unplugged), what the emulated sensors measure (LRF noise
and outliers, a velocimeter biased or stuck) and what the engine does (thrust lost, a side
force). One asks the FC itself: ``fc_overload`` starts the FC's load test over the maintenance
port (``SET LOAD_TEST_PCT``, cycles stolen from its flight software; removed: 0 again). Each
one has a trigger — a time, a truth altitude to descend below, or an FC mode — and optionally a
duration. Every injected event is counted, so a run can compare what was injected with what the
flight computer detected.

A scenario lists them as ``[[injection]]`` tables::

    [[injection]]
    kind = "can_loss"          # see KINDS
    message = "ENG_Status"     # or "*" for every message the bench sends
    probability = 0.05
    at_s = 20.0                # trigger: at_s | below_altitude_m | in_mode
    for_s = 30.0               # optional duration
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hil.core.config import TomlTable
from hil.errors import ConfigError

KINDS: Mapping[str, str] = {
    "can_loss": "bench CAN frames lost on the wire (message, probability)",
    "can_corrupt": "bench CAN frames sent with a corrupted CRC (message, probability)",
    "bus_off": "the bench's CAN node is off the bus: nothing it sends arrives",
    "serial_errors": "IMU frames with a corrupted byte on the serial line (probability)",
    "imu_drop": "IMU frames dropped before the serial line (probability): FC sees gaps",
    "unplug": "a device unplugged: imu, range_finder, velocimeter or engine stops sending",
    "lrf_outliers": "LRF noise multiplied and outliers added (noise_scale, probability)",
    "vel_bias": "velocimeter readings offset by bias_mps on each body axis, still valid",
    "vel_stuck": "velocimeter repeats its last valid reading, still flagged valid",
    "engine_degraded": "thrust scaled and a side force as a thrust-direction offset",
    "fc_overload": "FC load test: load_pct % of every flight-software cycle stolen",
}
UNPLUGGABLE = ("imu", "range_finder", "velocimeter", "engine")


@dataclass(frozen=True)
class Injection:
    """One fault, its trigger and its parameters."""

    kind: str
    at_s: float | None = None
    below_altitude_m: float | None = None
    in_mode: str | None = None
    for_s: float | None = None
    message: str = "*"
    probability: float = 1.0
    device: str = ""
    noise_scale: float = 1.0
    thrust_scale: float = 1.0
    side_deg: float = 0.0
    load_pct: float = 0.0
    bias_mps: float = 0.0

    def describe(self) -> str:
        what = {
            "can_loss": f"CAN {self.message} frames lost (p={self.probability:g})",
            "can_corrupt": f"CAN {self.message} CRC corrupted (p={self.probability:g})",
            "bus_off": "bench CAN node bus-off",
            "serial_errors": f"IMU serial byte errors (p={self.probability:g} per frame)",
            "imu_drop": f"IMU frames dropped (p={self.probability:g})",
            "unplug": f"{self.device} unplugged",
            "lrf_outliers": f"LRF noise x{self.noise_scale:g}, outliers p={self.probability:g}",
            "vel_bias": f"velocimeter biased {self.bias_mps:g} m/s per axis",
            "vel_stuck": "velocimeter stuck at its last valid reading",
            "engine_degraded": f"engine thrust x{self.thrust_scale:g}, side force "
            f"{self.side_deg:g} deg",
            "fc_overload": f"FC overload: {self.load_pct:g} % of each 20 ms cycle stolen",
        }[self.kind]
        if self.for_s is not None:
            what += f" for {self.for_s:g} s"
        return what


TRIGGERS = ("at_s", "below_altitude_m", "in_mode")


def parse_injections(top: TomlTable, key: str = "injection") -> tuple[Injection, ...]:
    """Read the ``[[injection]]`` array of a scenario. Errors name file, entry and key."""
    top._read.add(key)
    items = top.data.get(key, [])
    if not isinstance(items, list):
        raise top.error(key, "expected an array of tables ([[injection]])")
    injections = []
    for index, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise top.error(f"{key} #{index}", "expected a table")
        table = TomlTable(top.path, f"{key} #{index}", item)
        kind = table.get("kind", str)
        if kind not in KINDS:
            raise table.error("kind", f"unknown fault {kind!r}; kinds: {', '.join(KINDS)}")
        values: dict[str, Any] = {"kind": kind}
        for item_field in dataclasses.fields(Injection):
            name = item_field.name
            if name == "kind" or name not in item:
                continue
            if name in ("message", "device", "in_mode"):
                values[name] = table.get(name, str)
            else:
                values[name] = table.get(name, float)
        table.finish()
        injection = Injection(**values)
        triggers = [name for name in TRIGGERS if getattr(injection, name) is not None]
        if len(triggers) != 1:
            raise table.error("at_s", f"give exactly one trigger of {', '.join(TRIGGERS)}")
        if not 0.0 <= injection.probability <= 1.0:
            raise table.error("probability", "must be within 0 .. 1")
        if kind == "fc_overload" and not 0.0 < injection.load_pct <= 90.0:
            raise table.error("load_pct", "must be within 0 .. 90 (the FC's LOAD_TEST_PCT)")
        if kind == "unplug" and injection.device not in UNPLUGGABLE:
            raise table.error("device", f"must be one of {', '.join(UNPLUGGABLE)}")
        injections.append(injection)
    return tuple(injections)


@dataclass
class _Active:
    injection: Injection
    started_s: float | None = None
    ended: bool = False


@dataclass
class FaultInjector:
    """Applies a scenario's injections to a running bench and counts what it did."""

    injections: Sequence[Injection]
    rng: np.random.Generator
    injected: Counter[str] = field(default_factory=Counter)
    """What was injected, by counter name (e.g. ``can_loss:ENG_Status``)."""
    active: list[_Active] = field(init=False)
    _vel_last: tuple[float, float, float] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.active = [_Active(injection) for injection in self.injections]

    def attach(self, can: Any, imu: Any, where: str) -> None:
        """Hook the injections into the bench's CAN interface and IMU line. Raises
        ``ConfigError`` naming ``where`` (the scenario file) when the IMU's backend has no
        line to corrupt."""
        kinds = {injection.kind for injection in self.injections}
        if kinds & {"can_loss", "can_corrupt", "bus_off"}:
            can.tx_fault = self.can_tx
        if kinds & {"serial_errors", "imu_drop"}:
            link = getattr(imu, "link", None)
            if link is None:
                raise ConfigError(f"{where}: IMU backend cannot inject line faults")
            link.tx_fault = self.serial_tx

    def update(self, time_s: float, altitude_m: float, fc_mode: str) -> list[str]:
        """Start and stop injections for this instant; returns timeline lines for changes."""
        changes = []
        for item in self.active:
            injection = item.injection
            if item.ended:
                continue
            if item.started_s is None:
                triggered = (
                    (injection.at_s is not None and time_s >= injection.at_s)
                    or (
                        injection.below_altitude_m is not None
                        and altitude_m <= injection.below_altitude_m
                    )
                    or (injection.in_mode is not None and fc_mode == injection.in_mode.upper())
                )
                if triggered:
                    item.started_s = time_s
                    changes.append(f"fault injected: {injection.describe()}")
            elif injection.for_s is not None and time_s - item.started_s >= injection.for_s:
                item.ended = True
                changes.append(f"fault removed: {injection.describe()}")
        return changes

    def _on(self, kind: str) -> list[Injection]:
        return [
            item.injection
            for item in self.active
            if item.started_s is not None and not item.ended and item.injection.kind == kind
        ]

    def is_on(self, kind: str, device: str = "") -> bool:
        return any(not device or i.device == device for i in self._on(kind))

    # -- link layer hooks --------------------------------------------------------------------

    def can_tx(self, message: str, data: bytearray) -> bytearray | None:
        """The bench CAN link's transmit hook: lose or corrupt frames."""
        if self._on("bus_off"):
            self.injected[f"bus_off:{message}"] += 1
            return None
        for injection in self._on("can_loss"):
            if injection.message in ("*", message) and self.rng.random() < injection.probability:
                self.injected[f"can_loss:{message}"] += 1
                return None
        for injection in self._on("can_corrupt"):
            if injection.message in ("*", message) and self.rng.random() < injection.probability:
                self.injected[f"can_corrupt:{message}"] += 1
                data[-1] ^= 0x5A  # the CRC byte
                return data
        return data

    def serial_tx(self, frame: bytes) -> bytes:
        """The IMU line's transmit hook: flip one byte of a frame (never a delimiter)."""
        for injection in self._on("imu_drop"):
            if self.rng.random() < injection.probability:
                self.injected["imu_drop"] += 1
                return b""
        for injection in self._on("serial_errors"):
            if self.rng.random() < injection.probability:
                self.injected["serial_errors"] += 1
                corrupted = bytearray(frame)
                index = int(self.rng.integers(0, len(frame) - 1))  # not the 0x00 delimiter
                flipped = corrupted[index] ^ 0x10
                corrupted[index] = flipped if flipped else 0x01
                return bytes(corrupted)
        return frame

    # -- sensor and engine models ------------------------------------------------------------

    def lrf(self, range_m: float, valid: bool, nominal_noise_m: float) -> float:
        """LRF noise and outliers on a valid range."""
        for injection in self._on("lrf_outliers"):
            if not valid:
                continue
            range_m += (injection.noise_scale - 1.0) * nominal_noise_m * self.rng.standard_normal()
            if self.rng.random() < injection.probability:
                self.injected["lrf_outlier"] += 1
                range_m *= float(self.rng.uniform(0.3, 1.7))
        return max(range_m, 0.0)

    def vel(
        self, velocity_mps: tuple[float, float, float], valid: bool
    ) -> tuple[tuple[float, float, float], bool]:
        """A velocimeter reading (body axes, m/s) as the faulty unit reports it."""
        if self._on("vel_stuck") and self._vel_last is not None:
            self.injected["vel_stuck"] += 1
            return self._vel_last, True
        if valid:
            self._vel_last = velocity_mps
        for injection in self._on("vel_bias"):
            if valid:
                self.injected["vel_bias"] += 1
                velocity_mps = (
                    velocity_mps[0] + injection.bias_mps,
                    velocity_mps[1] + injection.bias_mps,
                    velocity_mps[2] + injection.bias_mps,
                )
        return velocity_mps, valid

    def load_pct(self) -> float:
        """The FC load test the active ``fc_overload`` injections ask for now, %."""
        return min(sum(i.load_pct for i in self._on("fc_overload")), 90.0)

    def engine(self) -> tuple[float, float]:
        """(thrust scale, side force as a thrust-direction yaw offset in degrees) now."""
        scale, side_deg = 1.0, 0.0
        for injection in self._on("engine_degraded"):
            scale *= injection.thrust_scale
            side_deg += injection.side_deg
        return scale, side_deg


DETECTION_COUNTERS = {
    "detected_can_gaps": "CAN_GAPS",
    "detected_can_crc": "CAN_CRC",
    "detected_imu_bad": "IMU_BAD",
    "detected_imu_gaps": "IMU_GAPS",
}
"""What the FC's STATUS counts of each kind of fault, by the name the run reports it under."""


def injected_counts(injector: FaultInjector) -> dict[str, int]:
    """What ``injector`` did to the links and sensors, by kind."""
    injected = injector.injected
    return {
        "injected_can_lost": sum(
            v for k, v in injected.items() if k.startswith(("can_loss", "bus_off"))
        ),
        "injected_can_corrupt": sum(v for k, v in injected.items() if k.startswith("can_corrupt")),
        "injected_imu_corrupt": injected["serial_errors"],
        "injected_imu_dropped": injected["imu_drop"],
        "injected_lrf_outliers": injected["lrf_outlier"],
        "injected_vel_biased": injected["vel_bias"],
        "injected_vel_stuck": injected["vel_stuck"],
    }


def detected_counts(before: Mapping[str, str], after: Mapping[str, str]) -> dict[str, int]:
    """How much each FC detection counter grew between two STATUS replies (-1: not reported)."""

    def count(status: Mapping[str, str], key: str) -> int:
        try:
            return int(status.get(key, "0") or "0")
        except ValueError:
            return 0

    return {
        name: count(after, key) - count(before, key) if key in after else -1
        for name, key in DETECTION_COUNTERS.items()
    }


def fault_summary(injected: Mapping[str, int], detected: Mapping[str, int]) -> str:
    """The timeline line comparing injections with detections."""
    return (
        f"faults injected: {injected['injected_can_lost']} CAN frames lost, "
        f"{injected['injected_can_corrupt']} CAN CRCs corrupted, "
        f"{injected['injected_imu_corrupt']} IMU frames corrupted, "
        f"{injected['injected_imu_dropped']} IMU frames dropped; FC detected: "
        f"{detected['detected_can_gaps']} CAN counter gaps, {detected['detected_can_crc']} CAN "
        f"CRC failures, {detected['detected_imu_bad']} bad IMU frames, "
        f"{detected['detected_imu_gaps']} IMU sequence gaps"
    )
