"""One abstract base per device role, as the bench sees it.

* ``FlightComputer`` — the device under test: maintenance-port commands and its CAN telemetry.
* ``Imu`` — the bench's IMU emulator: writes IMU frames into the FC's IMU line.
* ``RangeFinder`` — the bench's laser range finder emulator: writes ``LRF_Range`` frames.
* ``Velocimeter`` (in :mod:`hil.drivers.velocimeter_role`) — the velocimeter emulator:
  writes ``VEL_Velocity`` frames.
* ``Engine`` — the bench's engine and ACS emulator: reads ``ENG_Cmd``/``ACS_Cmd`` from the FC,
  writes ``ENG_Status``/``ENG_Propellant``.

The public methods here own argument checks, sequence numbers, timeouts and parsing; a
backend overrides only a small private hook (``_transact``, ``_write_frames``, ``_send``).
Wire drivers and simulated backends implement the same bases, so procedures, the executive
and the GUI never know which one they hold.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self, TypeVar, runtime_checkable

import numpy as np

from hil.core.config import BenchConfig, DeviceConfig
from hil.errors import DeviceTimeout, ProtocolError
from hil.protocol.icd import FC_MODES, MESSAGE_PERIODS_S, mode_name

if TYPE_CHECKING:
    from hil.core.clock import Clock
    from hil.core.signals import SignalStore
    from hil.drivers.can import CanLink
    from hil.drivers.serial import ImuFrame

T = TypeVar("T")


@dataclass
class DeviceContext:
    """What a backend is given to build itself from: nothing is constructed behind its back."""

    bench: BenchConfig
    signals: SignalStore
    clock: Clock
    can: CanLink
    """The bench's own node on the CAN bus, shared by every bench-side device."""
    shared: Callable[[str, Callable[[], Any]], Any]
    """``shared(key, make)``: one object per bench under ``key``, made on first use and closed
    with the bench (the simulated backends share their far-end devices this way)."""
    flight_computer_class: type[Device]
    """The backend class serving the flight computer role (backends read its capabilities)."""


class Device(ABC):
    """A device role on the bench. A context manager; closing twice is harmless.

    A backend class declares what it can do; the bench reads these, never a backend's name:

    * ``simulated``: the device is a simulation, so the bench may run it on a simulated
      clock (lockstep); a bench runs lockstep only when every device is simulated;
    * ``needs_serial_port``: the backend reaches its device through the ``[serial]`` table
      of its role (a wire FC's maintenance port, a wire IMU line).

    A device that must be stepped on a simulated clock also implements ``Steppable``.
    """

    role: ClassVar[str]
    simulated: ClassVar[bool] = False
    needs_serial_port: ClassVar[bool] = False

    def __init__(self, config: DeviceConfig, context: DeviceContext) -> None:
        self.config = config
        self.context = context
        self._is_open = False

    @property
    def backend(self) -> str:
        return self.config.backend

    @property
    def is_open(self) -> bool:
        return self._is_open

    def open(self) -> Self:
        if not self._is_open:
            self._open()
            self._is_open = True
        return self

    def close(self) -> None:
        if self._is_open:
            self._is_open = False
            self._close()

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @abstractmethod
    def _open(self) -> None: ...

    @abstractmethod
    def _close(self) -> None: ...

    @abstractmethod
    def describe_link(self) -> str:
        """Where this device is attached, for humans: a port URL, a CAN channel."""

    def statistics(self) -> dict[str, float]:
        """Link counters a technician looks at: frames in/out, bad frames, rates."""
        return {}


@runtime_checkable
class Steppable(Protocol):
    """A simulated device the executive steps in lockstep (it does nothing on its own)."""

    def step(self, now_s: float) -> None:
        """Take in what has arrived on the links and send what is due at ``now_s``."""
        ...


# -- flight computer ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Heartbeat:
    """The latest ``FC_Heartbeat`` as decoded from CAN."""

    mode: str
    counter: int
    imu_ok: bool
    lrf_ok: bool
    engine_ok: bool
    nav_ok: bool
    bit_passed: bool
    lrf_accepted: bool
    lrf_rejected: bool
    cpu_load_pct: float
    uptime_s: float
    timestamp_s: float
    missed_deadlines: int = 0
    """Flight-software cycles that missed their deadline, since power-on (saturates)."""
    restarts: int = 0
    """Watchdog restarts of the flight software, since power-on (saturates)."""
    load_shed: bool = False
    """Low-priority work shed by a restart."""


@dataclass(frozen=True)
class BitReport:
    """Result of the FC's built-in test: the overall verdict and one verdict per item."""

    passed: bool
    items: Mapping[str, bool]

    @property
    def failed_items(self) -> list[str]:
        return [name for name, ok in self.items.items() if not ok]


class FlightComputer(Device):
    """The flight computer under test, driven through its maintenance port.

    Every command is ``$CMD args*HH``; the FC answers ``$OK CMD results*HH`` or
    ``$ERR code text*HH``. ``$ERR`` raises ``ProtocolError``; silence raises ``DeviceTimeout``.
    """

    role = "flight_computer"
    command_timeout_s = 1.0

    @abstractmethod
    def _transact(self, command: str, args: Sequence[str], timeout_s: float) -> Sequence[str]:
        """Send one command; return the words of the ``$OK`` reply after the echoed command."""

    @abstractmethod
    def send_raw(self, line: bytes, timeout_s: float = 1.0) -> tuple[str, ...]:
        """Write ``line`` exactly as given (even with a wrong checksum); return the reply words
        (``("ERR", "5", "BAD_CHECKSUM")`` for a corrupted line)."""

    def command(self, command: str, *args: str, timeout_s: float | None = None) -> list[str]:
        """Send a maintenance-port command; returns the words of the reply after ``OK CMD``."""
        return list(self._transact(command.upper(), args, timeout_s or self.command_timeout_s))

    def ping(self) -> float:
        """Round-trip time of a PING in seconds (wall clock)."""
        started_s = time.monotonic()
        reply = self.command("PING")
        if not reply or reply[0] != "PONG":
            raise ProtocolError(f"{self.describe_link()}: PING answered {reply!r}, not PONG")
        return time.monotonic() - started_s

    def status(self) -> dict[str, str]:
        """The FC's STATUS as ``{KEY: value}`` (MODE, UPTIME, IMU_FRAMES, ...)."""
        return _key_values(self.command("STATUS"), self.describe_link(), "STATUS")

    def run_bit(self, timeout_s: float = 5.0) -> BitReport:
        """Run the built-in test; returns the overall verdict and one verdict per item."""
        reply = self.command("BIT", timeout_s=timeout_s)
        if not reply or reply[0] not in ("PASS", "FAIL"):
            raise ProtocolError(f"{self.describe_link()}: BIT answered {reply!r}")
        items = _key_values(reply[1:], self.describe_link(), "BIT")
        return BitReport(reply[0] == "PASS", {name: v == "PASS" for name, v in items.items()})

    def imu_statistics(self, samples: int = 400) -> dict[str, float]:
        """Mean and standard deviation of the last ``samples`` IMU samples the FC received:
        ``MEAN_AX`` .. ``MEAN_WZ`` (m/s^2, rad/s), ``STD_AX`` .. ``STD_WZ`` and ``N``."""
        values = _key_values(self.command("IMU", str(samples)), self.describe_link(), "IMU")
        return {key: float(value) for key, value in values.items()}

    def lrf_reading(self) -> dict[str, float]:
        """The last LRF range the FC received: ``RANGE`` (m), ``VALID``, ``STRENGTH`` (%),
        ``FRAMES``."""
        values = _key_values(self.command("LRF"), self.describe_link(), "LRF")
        return {key: float(value) for key, value in values.items()}

    def velocimeter_reading(self) -> dict[str, float]:
        """The last velocimeter reading the FC received: ``VX``, ``VY``, ``VZ`` (m/s, body),
        ``VALID``, and its counts ``FRAMES``, ``INVALID``, ``ACCEPTED``, ``REJECTED``."""
        values = _key_values(self.command("VEL"), self.describe_link(), "VEL")
        return {key: float(value) for key, value in values.items()}

    def abort_reason(self) -> str | None:
        """Why the FC went to ABORT on its own in this flight (its FAULT command), or None."""
        reply = self.command("FAULT")
        if reply and reply[0] == "ABORT":
            return " ".join(reply[1:]) or "no reason given"
        if reply == ["NONE"]:
            return None
        raise ProtocolError(f"{self.describe_link()}: FAULT answered {reply!r}")

    def set_mode(self, mode: str) -> str:
        mode = mode.upper()
        if mode not in FC_MODES:
            raise ValueError(f"unknown FC mode {mode!r}; modes: {', '.join(FC_MODES)}")
        return self.command("MODE", mode)[0]

    def get_param(self, name: str) -> str:
        reply = self.command("GET", name)
        return reply[1] if len(reply) > 1 else ""

    def set_param(self, name: str, value: str | float | int) -> str:
        reply = self.command("SET", name, str(value))
        return reply[1] if len(reply) > 1 else ""

    def arm(self) -> str:
        return self.command("ARM")[0]

    def safe(self) -> str:
        return self.command("SAFE")[0]

    def heartbeat(self) -> Heartbeat | None:
        """The latest heartbeat from CAN, or None before the first one."""
        signals = self.context.signals
        mode = signals.latest("FC_Heartbeat.Mode")
        if mode is None:
            return None

        def flag(name: str) -> bool:
            return signals.value(f"FC_Heartbeat.{name}", 0.0) >= 0.5

        mode_index = int(mode.value)
        return Heartbeat(
            mode=mode_name(mode_index) if 0 <= mode_index < len(FC_MODES) else str(mode_index),
            counter=int(signals.value("FC_Heartbeat.Counter", 0.0)),
            imu_ok=flag("ImuOk"),
            lrf_ok=flag("LrfOk"),
            engine_ok=flag("EngineOk"),
            nav_ok=flag("NavOk"),
            bit_passed=flag("BitPassed"),
            lrf_accepted=flag("LrfAccepted"),
            lrf_rejected=flag("LrfRejected"),
            cpu_load_pct=signals.value("FC_Heartbeat.CpuLoad"),
            uptime_s=signals.value("FC_Heartbeat.Uptime"),
            timestamp_s=mode.timestamp_s,
            missed_deadlines=int(signals.value("FC_Heartbeat.MissedDeadlines", 0.0)),
            restarts=int(signals.value("FC_Heartbeat.Restarts", 0.0)),
            load_shed=flag("LoadShed"),
        )

    def wait_heartbeat(self, timeout_s: float = 1.0) -> Heartbeat:
        """Wait for the next heartbeat frame; ``DeviceTimeout`` if none comes."""
        self.context.signals.wait_for(
            "FC_Heartbeat.Mode", lambda _: True, timeout_s, description="a heartbeat"
        )
        heartbeat = self.heartbeat()
        if heartbeat is None:  # pragma: no cover - wait_for returned a sample
            raise DeviceTimeout(f"{self.describe_link()}: no heartbeat within {timeout_s} s")
        return heartbeat


def _key_values(words: Sequence[str], where: str, command: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep:
            raise ProtocolError(f"{where}: {command} reply word {word!r} is not KEY=VALUE")
        result[key] = value
    return result


# -- sensor and actuator emulators ---------------------------------------------------------------


MAX_CATCH_UP_S = 0.25
"""A free-running stream that wakes late (a loaded host) sends the frames it owes, each with
its own time, up to this far back; beyond that it drops them and starts again from now."""


class _Stream:
    """A free-running sender: calls ``tick(now_s)`` at ``rate_hz`` on the bench clock, in a thread.

    Used when no executive drives the device (bench check, test cards). Every failure inside
    the thread is kept and re-raised by ``stop``; the thread never dies silently.
    """

    def __init__(self, name: str, rate_hz: float, clock: Clock, tick: Callable[[float], None]):
        self._period_s = 1.0 / rate_hz
        self._catch_up_s = max(10 * self._period_s, MAX_CATCH_UP_S)
        self._clock = clock
        self._tick = tick
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        next_s = self._clock.now_s()
        try:
            while not self._stop.is_set():
                self._tick(next_s)
                next_s += self._period_s
                now_s = self._clock.now_s()
                if next_s < now_s - self._catch_up_s:  # fell far behind: do not burst
                    next_s = now_s
                self._stop.wait(max(0.0, next_s - now_s))
        except BaseException as err:  # kept for stop(); a stream must not die unseen
            self.error = err

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)


class _StreamingDevice(Device):
    """A device that can send on its own at a fixed rate when no executive drives it."""

    def __init__(self, config: DeviceConfig, context: DeviceContext) -> None:
        super().__init__(config, context)
        self._stream: _Stream | None = None

    def start_stream(self, rate_hz: float) -> None:
        """Send at ``rate_hz`` from a background thread until ``stop_stream``."""
        self.stop_stream()
        self._stream = _Stream(f"{self.role}-stream", rate_hz, self.context.clock, self._tick)

    def stop_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.stop()
            if stream.error is not None:
                raise stream.error

    @property
    def streaming(self) -> bool:
        return self._stream is not None

    def close(self) -> None:
        try:
            self.stop_stream()
        finally:
            super().close()

    @abstractmethod
    def _tick(self, now_s: float) -> None:
        """Send what is due at ``now_s`` (the stream calls this at its rate)."""


@dataclass(frozen=True)
class ImuSample:
    """One IMU measurement in the body frame."""

    specific_force_mps2: tuple[float, float, float]
    angular_rate_radps: tuple[float, float, float]
    status: int = 0


LUNAR_SURFACE_SAMPLE = ImuSample((0.0, 0.0, 1.62), (0.0, 0.0, 0.0))
"""What an IMU at rest, upright, on the lunar surface measures."""


class Imu(_StreamingDevice):
    """The bench's IMU emulator: writes frames (sequence, time, specific force, rate) to the FC."""

    role = "imu"
    rate_hz = 400.0

    def __init__(self, config: DeviceConfig, context: DeviceContext) -> None:
        super().__init__(config, context)
        self._next_sequence = 0
        self.last_written_sequence = -1
        """Sequence number of the last frame that went on the wire (a fault may lose some)."""
        self.stimulus = LUNAR_SURFACE_SAMPLE
        """What the free-running stream sends."""

    @property
    def last_sequence(self) -> int:
        """Sequence number of the last frame written (-1 before the first)."""
        return (self._next_sequence - 1) & 0xFFFF if self._next_sequence else -1

    def send_samples(
        self,
        time_s: np.ndarray,
        specific_force_mps2: np.ndarray,
        angular_rate_radps: np.ndarray,
        status: int = 0,
    ) -> int:
        """Write k samples (times shape (k,), vectors (k, 3)); returns the last sequence number."""
        from hil.drivers.serial import ImuFrame

        frames = []
        sequence = self._next_sequence
        forces = specific_force_mps2.tolist()
        rates = angular_rate_radps.tolist()
        for index, sample_time_s in enumerate(time_s.tolist()):
            frames.append(
                ImuFrame(
                    sequence & 0xFFFF,
                    int(sample_time_s * 1e6) & 0xFFFFFFFF,
                    tuple(forces[index]),
                    tuple(rates[index]),
                    status,
                )
            )
            sequence += 1
        written = self._write_frames(frames)
        for frame, on_wire in zip(frames, written, strict=True):
            if on_wire:
                self.last_written_sequence = frame.sequence
        self._next_sequence = sequence
        return (sequence - 1) & 0xFFFF

    def send_sample(self, time_s: float, sample: ImuSample) -> int:
        return self.send_samples(
            np.array([time_s]),
            np.array([sample.specific_force_mps2]),
            np.array([sample.angular_rate_radps]),
            sample.status,
        )

    def _tick(self, now_s: float) -> None:
        self.send_sample(now_s, self.stimulus)

    @abstractmethod
    def _write_frames(self, frames: Sequence[ImuFrame]) -> Sequence[bool]:
        """Write the frames; return, per frame, whether it went on the wire."""


@dataclass(frozen=True)
class RangeStimulus:
    slant_range_m: float
    valid: bool = True
    signal_strength_pct: float = 80.0


class RangeFinder(_StreamingDevice):
    """The bench's laser range finder emulator: ``LRF_Range`` frames at 10 Hz."""

    role = "range_finder"
    rate_hz = 1.0 / MESSAGE_PERIODS_S["LRF_Range"]
    max_range_m = 100_000.0

    def __init__(self, config: DeviceConfig, context: DeviceContext) -> None:
        super().__init__(config, context)
        self.stimulus = RangeStimulus(0.0, valid=False, signal_strength_pct=0.0)
        """What the free-running stream sends."""

    def send_range(
        self, slant_range_m: float, valid: bool, signal_strength_pct: float = 80.0
    ) -> None:
        """Send one range; an out-of-range value is clipped and flagged invalid, as a real LRF."""
        if not 0.0 <= slant_range_m <= self.max_range_m:
            slant_range_m = min(max(slant_range_m, 0.0), self.max_range_m)
            valid = False
        self._send(
            {
                "SlantRange": round(slant_range_m, 1),
                "Valid": int(valid),
                "SignalStrength": round(min(max(signal_strength_pct, 0.0), 100.0)),
            }
        )

    def _tick(self, now_s: float) -> None:
        stimulus = self.stimulus
        self.send_range(stimulus.slant_range_m, stimulus.valid, stimulus.signal_strength_pct)

    @abstractmethod
    def _send(self, signals: Mapping[str, float]) -> None: ...


@dataclass(frozen=True)
class EngineCommand:
    """What the FC commands the engine and the ACS to do (latest ``ENG_Cmd`` + ``ACS_Cmd``)."""

    throttle_pct: float
    arm: bool
    fire: bool
    pitch_deg: float
    yaw_deg: float
    engine_timestamp_s: float
    acs_timestamp_s: float


@dataclass(frozen=True)
class EngineStatus:
    throttle_actual_pct: float
    valve_position_pct: float
    chamber_pressure_kpa: float
    tank_pressure_kpa: float
    fault_flags: int = 0


class Engine(_StreamingDevice):
    """The bench's engine and ACS emulator.

    Reads the FC's ``ENG_Cmd`` and ``ACS_Cmd`` (through the signal store) and reports
    ``ENG_Status`` (50 Hz) and ``ENG_Propellant`` (5 Hz).
    """

    role = "engine"
    rate_hz = 1.0 / MESSAGE_PERIODS_S["ENG_Status"]
    propellant_every = round(MESSAGE_PERIODS_S["ENG_Propellant"] / MESSAGE_PERIODS_S["ENG_Status"])
    """Send ``ENG_Propellant`` on every n-th status tick (50 Hz / 10 = 5 Hz)."""

    def __init__(self, config: DeviceConfig, context: DeviceContext) -> None:
        super().__init__(config, context)
        self._ticks = 0
        self.propellant_kg = 410.0
        self.tank_temperature_c = 20.0
        self._reporter: Callable[[float], EngineStatus] | None = None

    def command(self) -> EngineCommand:
        """The latest commands from the FC (zeros before the first frame)."""
        signals = self.context.signals
        throttle = signals.latest("ENG_Cmd.ThrottleCmd")
        pitch = signals.latest("ACS_Cmd.ThrustPitch")
        return EngineCommand(
            throttle_pct=throttle.value if throttle else 0.0,
            arm=signals.value("ENG_Cmd.Arm", 0.0) >= 0.5,
            fire=signals.value("ENG_Cmd.Fire", 0.0) >= 0.5,
            pitch_deg=pitch.value if pitch else 0.0,
            yaw_deg=signals.value("ACS_Cmd.ThrustYaw", 0.0),
            engine_timestamp_s=throttle.timestamp_s if throttle else float("nan"),
            acs_timestamp_s=pitch.timestamp_s if pitch else float("nan"),
        )

    def command_count(self) -> int:
        """How many ``ENG_Cmd`` frames have been received (for lockstep handshakes)."""
        return self.context.signals.count("ENG_Cmd.ThrottleCmd")

    def report_status(self, status: EngineStatus) -> None:
        self._send(
            "ENG_Status",
            {
                "ThrottleActual": round(_clip(status.throttle_actual_pct, 0, 100), 1),
                "ValvePosition": round(_clip(status.valve_position_pct, 0, 100), 1),
                "ChamberPressure": round(_clip(status.chamber_pressure_kpa, 0, 2000) * 2) / 2,
                "TankPressure": round(_clip(status.tank_pressure_kpa, 0, 4000)),
                "FaultFlags": status.fault_flags,
            },
        )

    def report_propellant(self, propellant_kg: float, tank_temperature_c: float) -> None:
        self._send(
            "ENG_Propellant",
            {
                "PropellantMass": round(_clip(propellant_kg, 0, 655), 2),
                "TankTemperature": round(_clip(tank_temperature_c, -200, 200), 1),
            },
        )

    def follow_commands(self, reporter: Callable[[float], EngineStatus]) -> None:
        """Set what the free-running stream reports: ``reporter(now_s)`` -> status."""
        self._reporter = reporter

    def _tick(self, now_s: float) -> None:
        status = self._reporter(now_s) if self._reporter else EngineStatus(0, 0, 0, 1800)
        self.report_status(status)
        if self._ticks % self.propellant_every == 0:
            self.report_propellant(self.propellant_kg, self.tank_temperature_c)
        self._ticks += 1

    @abstractmethod
    def _send(self, message: str, signals: Mapping[str, Any]) -> None: ...


def _clip(value: float, low: float, high: float) -> float:
    return min(max(float(value), low), high)
