"""The simulated flight computer: the far end of the bench's links, speaking the FC's protocol.

It owns two pseudo-terminal pairs (maintenance port and IMU line; the bench opens the slave
ends by path, exactly as it would open ``/dev/ttyUSB0``) and its own python-can bus on the
bench's channel. It answers every maintenance command, sends its heartbeat and navigation
telemetry, commands the engine and ACS, runs a BIT with per-item results and counts all it
receives.

Two ways to run, one set of handlers:

* free-running (wall clock): threads read the IMU line; CAN frames are sent by python-can's
  ``send_periodic`` with counter and CRC filled per frame;
* lockstep (simulated clock): the executive calls ``read_imu_until`` and ``step(now_s)``,
  and the device reads what has arrived and sends what is due at that instant.

In both, a thread serves the maintenance port: a command is asynchronous by nature, and the
bench blocks on the reply.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hil.core.clock import Clock
from hil.core.config import CanConfig
from hil.drivers.can import CanLink, PeriodicSend, load_database
from hil.drivers.serial import ImuFrame, Line, SerialLink
from hil.drivers.sim.pty import PtyPair
from hil.errors import ConfigError, DeviceTimeout, FrameError, HilError
from hil.fsw import warm_up
from hil.fsw.flight_software import Commands, FlightSoftware, InitialEstimate
from hil.fsw.modes import Mode
from hil.fsw.parameters import fsw_params
from hil.fsw.terrain_map import TerrainMap
from hil.protocol.icd import ERROR_NUMBERS, FC_MODES, MESSAGE_PERIODS_S
from hil.protocol.parameters import PARAMETERS, format_value

log = logging.getLogger("hil.sim.fc")


FLIGHT_MODES = ("ARMED", "BRAKING", "APPROACH", "TERMINAL", "LANDED", "ABORT")
"""Modes in which the flight software, once loaded, owns the engine and the mode."""

GUIDANCE_PERIOD_S = 0.02
IMU_TIMEOUT_S = 0.05
"""An IMU silent this long in powered flight leaves the navigation blind."""
HEARTBEAT_PERIOD_S = MESSAGE_PERIODS_S["FC_Heartbeat"]
NAV_PERIOD_S = MESSAGE_PERIODS_S["FC_NavAltitude"]
COMMAND_PERIOD_S = MESSAGE_PERIODS_S["ENG_Cmd"]


@dataclass
class FcCounters:
    """What the simulated FC has received, for STATUS, BIT and the bench's checks."""

    imu_frames: int = 0
    imu_bad_frames: int = 0
    imu_sequence_gaps: int = 0
    lrf_frames: int = 0
    engine_status_frames: int = 0
    commands: int = 0
    bad_commands: int = 0
    last_imu_s: float = float("-inf")
    last_lrf_s: float = float("-inf")
    last_engine_s: float = float("-inf")
    last_imu_sequence: int = -1
    imu_times_s: list[float] = field(default_factory=list)
    imu_recent: deque[tuple[float, ...]] = field(default_factory=lambda: deque(maxlen=2000))
    """The last IMU samples: specific force (3) and angular rate (3), for the IMU command."""
    lrf_last: dict[str, float] = field(default_factory=dict)


class SimulatedFlightComputer:
    """The simulated FC device. A context manager; ``close`` twice is harmless."""

    def __init__(self, can: CanConfig, clock: Clock, serial_number: str = "SIM-FC-0001") -> None:
        self._can_config = can
        self._clock = clock
        self.parameters: dict[str, str | float] = {
            name: item.default for name, item in PARAMETERS.items()
        }
        self.parameters["SERIAL"] = serial_number
        self.mode = "STANDBY"
        self.bit_passed = False
        self.bit_items: dict[str, bool] = {}
        self.counters = FcCounters()
        self._lock = threading.RLock()
        self._started_s = clock.now_s()
        self._heartbeat_counter = 0
        self._maintenance_pty = PtyPair()
        self._imu_pty = PtyPair()
        self._maintenance: SerialLink | None = None
        self._imu: SerialLink | None = None
        self._can: CanLink | None = None
        self._threads: list[threading.Thread] = []
        self._periodic: list[PeriodicSend] = []
        self._stop = threading.Event()
        self._free_running = False
        self._next_due_s: dict[str, float] = {}
        self.thread_errors: list[BaseException] = []
        self.hung = False
        self.abort_reason = ""
        """True after ``hang()``: the FC has stopped, as a crashed computer would."""
        self.fsw: FlightSoftware | None = None
        """The flight software, loaded by a STATE uplink; None until then."""
        self._fsw_commands: Commands | None = None
        self._fsw_time_s = 0.0
        self._next_guidance_s = 0.0
        self._throttle_actual_pct = 0.0
        self._propellant_kg = float("nan")

    # -- wiring ------------------------------------------------------------------------------

    @property
    def maintenance_url(self) -> str:
        """Path of the maintenance port's bench end (open it like any serial port)."""
        return self._maintenance_pty.slave_path

    @property
    def imu_url(self) -> str:
        """Path of the IMU line's bench end."""
        return self._imu_pty.slave_path

    @property
    def can(self) -> CanLink:
        if self._can is None:
            raise HilError("simulated FC is not open")
        return self._can

    def open(self, free_running: bool) -> SimulatedFlightComputer:
        """Open the links. ``free_running`` starts threads on the wall clock; otherwise the
        device waits to be stepped (lockstep)."""
        # the flight software's compiled kernels, loaded now rather than by the first IMU
        # frame after a state uplink (a 0.1-1 s stall of the FC thread)
        warm_up()
        database = load_database(self._can_config.database)
        self._maintenance = SerialLink.on_fd(
            self._maintenance_pty.master_fd, name="sim-fc maintenance", read_timeout_s=0.05
        )
        self._imu = SerialLink.on_fd(
            self._imu_pty.master_fd, name="sim-fc imu", read_timeout_s=0.05
        )
        self._can = CanLink(
            interface=self._can_config.interface,
            channel=self._can_config.channel,
            bitrate=self._can_config.bitrate,
            database=database,
            clock=self._clock,
            name="sim-fc",
            threaded=free_running,
        ).open()
        self._can.subscribe("LRF_Range", self._on_lrf)
        self._can.subscribe("ENG_Status", self._on_engine_status)
        self._can.subscribe("ENG_Propellant", self._on_propellant)
        self._free_running = free_running
        # The maintenance port is served from its own thread in both modes: a command is
        # asynchronous by nature, and the bench blocks on the reply.
        self._start_thread("sim-fc-maintenance", self._serve_maintenance)
        if free_running:
            self._start_threads()
        return self

    def close(self) -> None:
        self._stop.set()
        for task in self._periodic:
            task.stop()
        self._periodic.clear()
        for thread in self._threads:
            thread.join(timeout=2.0)
        self._threads.clear()
        for link in (self._can, self._maintenance, self._imu):
            if link is not None:
                link.close()
        self._maintenance_pty.close()
        self._imu_pty.close()

    def __enter__(self) -> SimulatedFlightComputer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def hang(self) -> None:
        """Fault injection: stop sending and answering anything, as a crashed FC would."""
        with self._lock:
            self.hung = True
        for task in self._periodic:
            task.stop()
        self._periodic.clear()

    # -- free-running ------------------------------------------------------------------------

    def _start_thread(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=self._guarded(target), name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _start_threads(self) -> None:
        self._start_thread("sim-fc-imu", self._serve_imu)
        can = self.can
        self._periodic.append(
            can.start_periodic("FC_Heartbeat", HEARTBEAT_PERIOD_S, self._heartbeat_signals)
        )
        for message in ("FC_NavAltitude", "FC_NavPosition", "FC_NavVelocity"):
            self._periodic.append(
                can.start_periodic(message, NAV_PERIOD_S, self._nav_provider(message))
            )
        self._periodic.append(can.start_periodic("ENG_Cmd", COMMAND_PERIOD_S, self._engine_command))
        self._periodic.append(can.start_periodic("ACS_Cmd", COMMAND_PERIOD_S, self._acs_command))

    def _guarded(self, target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except BaseException as err:  # kept and reported by the bench; never silent
                log.exception("simulated FC thread failed")
                self.thread_errors.append(err)

        return run

    def _serve_maintenance(self) -> None:
        assert self._maintenance is not None
        while not self._stop.is_set():
            self.poll_maintenance(timeout_s=0.05)

    def _serve_imu(self) -> None:
        assert self._imu is not None
        while not self._stop.is_set():
            payloads = self._imu.read_frames(timeout_s=IMU_TIMEOUT_S / 2)
            if payloads:
                self._on_imu_payloads(payloads)
            self._watchdog(self._clock.now_s())  # the IMU reader is the one to notice silence

    # -- lockstep ----------------------------------------------------------------------------

    def step(self, now_s: float) -> None:
        """Lockstep: handle what has arrived and send what is due at ``now_s``."""
        if self.hung:
            return
        self.can.pump()
        self._watchdog(now_s)
        for message, period_s, provider in self._schedule():
            due_s = self._next_due_s.get(message, now_s)
            if now_s + 1e-9 >= due_s:
                self.can.send(message, provider())
                self._next_due_s[message] = due_s + period_s

    def read_imu_until(self, sequence: int, timeout_s: float = 1.0) -> list[ImuFrame]:
        """Lockstep: read IMU frames until ``sequence`` has arrived (the pty may lag a write).

        Returns at once when that frame is already in (nothing new was written), and gives up
        on it when it arrived corrupted (a malformed frame, then a quiet line)."""
        assert self._imu is not None
        last = self.counters.last_imu_sequence
        if sequence < 0 or (last >= 0 and (last - sequence) & 0xFFFF < 0x8000):
            return []
        frames = self._imu.read_until_sequence(sequence, timeout_s, corrupted_quiet_s=0.02)
        self._on_imu_frames(frames)
        return frames

    def _schedule(self) -> list[tuple[str, float, Callable[[], Mapping[str, Any]]]]:
        return [
            ("ENG_Cmd", COMMAND_PERIOD_S, self._engine_command),
            ("ACS_Cmd", COMMAND_PERIOD_S, self._acs_command),
            ("FC_Heartbeat", HEARTBEAT_PERIOD_S, self._heartbeat_signals),
            ("FC_NavAltitude", NAV_PERIOD_S, self._nav_provider("FC_NavAltitude")),
            ("FC_NavPosition", NAV_PERIOD_S, self._nav_provider("FC_NavPosition")),
            ("FC_NavVelocity", NAV_PERIOD_S, self._nav_provider("FC_NavVelocity")),
        ]

    # -- reception ---------------------------------------------------------------------------

    def _on_imu_payloads(self, payloads: list[bytes]) -> None:
        frames = []
        for payload in payloads:
            try:
                frames.append(ImuFrame.unpack(payload))
            except FrameError:
                with self._lock:
                    self.counters.imu_bad_frames += 1
        self._on_imu_frames(frames)

    def _on_imu_frames(self, frames: list[ImuFrame]) -> None:
        now_s = self._clock.now_s()
        with self._lock:
            counters = self.counters
            for frame in frames:
                if counters.last_imu_sequence >= 0:
                    expected = (counters.last_imu_sequence + 1) & 0xFFFF
                    counters.imu_sequence_gaps += (frame.sequence - expected) & 0xFFFF
                counters.last_imu_sequence = frame.sequence
            counters.imu_frames += len(frames)
            if not frames:
                return
            counters.last_imu_s = now_s
            counters.imu_times_s.extend([now_s] * len(frames))
            del counters.imu_times_s[:-1000]
            counters.imu_recent.extend(
                (*frame.specific_force_mps2, *frame.angular_rate_radps) for frame in frames
            )
            if self.fsw is not None:
                self._feed_imu(frames)

    def _feed_imu(self, frames: list[ImuFrame]) -> None:
        """Hand IMU samples to the flight software; run guidance each time the IMU clock
        crosses a 20 ms boundary (the FC's time base is its IMU's)."""
        assert self.fsw is not None
        times_s = np.array([frame.time_us for frame in frames], dtype=np.float64) * 1e-6
        forces = np.array([frame.specific_force_mps2 for frame in frames])[None]
        rates = np.array([frame.angular_rate_radps for frame in frames])[None]
        self.fsw.on_imu(times_s, forces, rates)
        self._fsw_time_s = float(times_s[-1])
        if self._fsw_time_s + 1e-9 >= self._next_guidance_s:
            self._guidance_tick(self._fsw_time_s)

    def _guidance_tick(self, time_s: float) -> None:
        assert self.fsw is not None
        fsw = self.fsw
        fsw.on_engine_status(
            time_s, np.array([self._throttle_actual_pct]), np.array([self._propellant_kg])
        )
        self._fsw_commands = fsw.step(time_s)
        if self.mode in FLIGHT_MODES:
            self.mode = Mode(int(fsw.mode[0])).name
        self._next_guidance_s = time_s + GUIDANCE_PERIOD_S

    def _on_lrf(self, message: str, values: dict[str, Any], timestamp_s: float) -> None:
        with self._lock:
            self.counters.lrf_frames += 1
            self.counters.last_lrf_s = self._clock.now_s()
            self.counters.lrf_last = {
                "RANGE": float(values["SlantRange"]),
                "VALID": float(values["Valid"]),
                "STRENGTH": float(values["SignalStrength"]),
            }
            if self.fsw is not None:
                self.fsw.on_lrf(
                    self._fsw_time_s,
                    np.array([float(values["SlantRange"])]),
                    np.array([float(values["Valid"]) >= 0.5]),
                )

    def _on_engine_status(self, message: str, values: dict[str, Any], timestamp_s: float) -> None:
        with self._lock:
            self.counters.engine_status_frames += 1
            self.counters.last_engine_s = self._clock.now_s()
            self._throttle_actual_pct = float(values["ThrottleActual"])

    def _on_propellant(self, message: str, values: dict[str, Any], timestamp_s: float) -> None:
        with self._lock:
            self._propellant_kg = float(values["PropellantMass"])

    # -- maintenance port ------------------------------------------------------------------

    def poll_maintenance(self, timeout_s: float) -> None:
        """Answer the commands that have arrived (waiting up to ``timeout_s`` for one)."""
        link = self._maintenance
        assert link is not None
        bad_before = link.stats.bad_lines
        try:
            line: Line | None = link.read_line(timeout_s)
        except DeviceTimeout:
            line = None
        for _ in range(link.stats.bad_lines - bad_before):
            with self._lock:
                self.counters.bad_commands += 1
            link.write_line("ERR", str(ERROR_NUMBERS["BAD_CHECKSUM"]), "BAD_CHECKSUM")
        if line is not None and not self.hung:
            reply = self.handle_command(line.command, line.args)
            link.write_line(*reply)

    def handle_command(self, command: str, args: tuple[str, ...]) -> tuple[str, ...]:
        """Execute one maintenance command; returns the reply words (``OK ...`` or ``ERR ...``)."""
        with self._lock:
            self.counters.commands += 1
            handler = getattr(self, f"_cmd_{command.lower()}", None)
            if handler is None:
                return _error("UNKNOWN_COMMAND", command)
            try:
                words: tuple[str, ...] = handler(*args)
            except TypeError:
                return _error("BAD_ARGUMENTS", command)
            except _Refused as refusal:
                return _error(refusal.code, refusal.text)
            return ("OK", command, *words)

    def _cmd_ping(self) -> tuple[str, ...]:
        return ("PONG",)

    def _cmd_status(self) -> tuple[str, ...]:
        counters = self.counters
        return (
            f"MODE={self.mode}",
            f"UPTIME={self.uptime_s():.1f}",
            f"BIT={'PASS' if self.bit_passed else 'NONE' if not self.bit_items else 'FAIL'}",
            f"IMU_FRAMES={counters.imu_frames}",
            f"IMU_BAD={self.imu_bad_frames()}",
            f"IMU_GAPS={counters.imu_sequence_gaps}",
            f"IMU_RATE_HZ={self.imu_rate_hz():.1f}",
            f"LRF_FRAMES={counters.lrf_frames}",
            f"ENG_FRAMES={counters.engine_status_frames}",
            f"BAD_COMMANDS={counters.bad_commands}",
            *(f"{key}={value}" for key, value in self.can_errors().items()),
        )

    def _cmd_imu(self, count: str = "400") -> tuple[str, ...]:
        """IMU [n]: mean and standard deviation of the last n samples (default 400 = 1 s)."""
        try:
            n = int(count)
        except ValueError as err:
            raise _Refused("BAD_VALUE", "COUNT_NOT_AN_INTEGER") from err
        recent = list(self.counters.imu_recent)[-n:]
        if len(recent) < 2:
            raise _Refused("NOT_ALLOWED", "NO_IMU_DATA")
        samples = np.array(recent)
        mean, std = samples.mean(axis=0), samples.std(axis=0, ddof=1)
        names = ("AX", "AY", "AZ", "WX", "WY", "WZ")
        return (
            f"N={len(recent)}",
            *(f"MEAN_{name}={value:.6g}" for name, value in zip(names, mean, strict=True)),
            *(f"STD_{name}={value:.6g}" for name, value in zip(names, std, strict=True)),
        )

    def _cmd_lrf(self) -> tuple[str, ...]:
        """LRF: the last range received, its valid flag and signal strength."""
        last = self.counters.lrf_last
        if not last:
            raise _Refused("NOT_ALLOWED", "NO_LRF_DATA")
        return (
            f"RANGE={last['RANGE']:.1f}",
            f"VALID={int(last['VALID'])}",
            f"STRENGTH={last['STRENGTH']:.0f}",
            f"FRAMES={self.counters.lrf_frames}",
        )

    def _cmd_bit(self) -> tuple[str, ...]:
        if self.mode not in ("SAFE", "STANDBY", "BIT"):
            raise _Refused("NOT_ALLOWED", f"BIT_IN_{self.mode}")
        items = self.run_bit()
        return (
            "PASS" if all(items.values()) else "FAIL",
            *(f"{name}={'PASS' if ok else 'FAIL'}" for name, ok in items.items()),
        )

    def _cmd_mode(self, mode: str) -> tuple[str, ...]:
        mode = mode.upper()
        if mode not in FC_MODES:
            raise _Refused("BAD_VALUE", f"UNKNOWN_MODE_{mode}")
        allowed = {
            "SAFE": FC_MODES,
            "STANDBY": ("SAFE", "STANDBY", "BIT", "ARMED"),
            "BIT": ("SAFE", "STANDBY"),
            "ARMED": ("STANDBY",),
            "BRAKING": ("ARMED",),
            "ABORT": FC_MODES,
        }.get(mode, ())
        if self.mode not in allowed:
            raise _Refused("NOT_ALLOWED", f"{self.mode}_TO_{mode}")
        if mode == "ARMED" and not self.bit_passed:
            raise _Refused("NOT_ALLOWED", "BIT_NOT_PASSED")
        if mode == "BRAKING" and self.fsw is None:
            raise _Refused("NOT_ALLOWED", "NO_STATE_VECTOR")
        fsw = self.fsw
        if fsw is not None:
            if mode == "ARMED":
                fsw.arm()
            elif mode == "BRAKING":
                fsw.start_descent(self._fsw_time_s)
            elif mode in ("SAFE", "ABORT"):
                fsw.safe() if mode == "SAFE" else fsw.fault()
        self.set_mode(mode)
        return (mode,)

    def _cmd_state(self, *words: str) -> tuple[str, ...]:
        """STATE t x y z vx vy vz mass pitch_deg yaw_deg: uplink the navigation state (ENU,
        SI units) and load the flight software with it."""
        if len(words) != 10:
            raise _Refused("BAD_ARGUMENTS", "STATE_NEEDS_10_VALUES")
        if self.mode not in ("SAFE", "STANDBY"):
            raise _Refused("NOT_ALLOWED", f"STATE_IN_{self.mode}")
        try:
            t, x, y, z, vx, vy, vz, mass, pitch_deg, yaw_deg = (float(w) for w in words)
        except ValueError as err:
            raise _Refused("BAD_VALUE", "STATE_NOT_NUMBERS") from err
        try:
            terrain_map = TerrainMap.load(str(self.parameters["TERRAIN_MAP"]))
        except ConfigError as err:
            raise _Refused("BAD_VALUE", "TERRAIN_MAP_NOT_FOUND") from err
        params = fsw_params(self.parameters)
        estimate = InitialEstimate(
            position_m=np.array([[x, y, z]]),
            velocity_mps=np.array([[vx, vy, vz]]),
            mass_kg=np.array([mass]),
            pitch_rad=np.radians([pitch_deg]),
            yaw_rad=np.radians([yaw_deg]),
            time_s=t,
        )
        self.fsw = FlightSoftware(params, estimate, terrain_map, 1)
        self._fsw_time_s = t
        self._next_guidance_s = t + GUIDANCE_PERIOD_S
        # From now on the flight software owns the engine and thrust direction, in every
        # mode: before ignition it holds the uplinked attitude with the engine off.
        self._fsw_commands = self.fsw.step(t)
        return ("LOADED",)

    def _cmd_arm(self) -> tuple[str, ...]:
        return self._cmd_mode("ARMED")

    def _cmd_safe(self) -> tuple[str, ...]:
        return self._cmd_mode("SAFE")

    def _cmd_get(self, name: str) -> tuple[str, ...]:
        name = name.upper()
        if name not in self.parameters:
            raise _Refused("UNKNOWN_PARAMETER", name)
        return (name, format_value(self.parameters[name]))

    def _cmd_set(self, name: str, text: str) -> tuple[str, ...]:
        name = name.upper()
        parameter = PARAMETERS.get(name)
        if parameter is None:
            raise _Refused("UNKNOWN_PARAMETER", name)
        if not parameter.writable:
            raise _Refused("NOT_ALLOWED", f"{name}_READ_ONLY")
        try:
            self.parameters[name] = parameter.parse(text)
        except ValueError as err:
            raise _Refused("BAD_VALUE", str(err).replace(" ", "_")) from err
        return (name, format_value(self.parameters[name]))

    # -- behaviour ---------------------------------------------------------------------------

    def set_mode(self, mode: str) -> None:
        with self._lock:
            if mode != self.mode:
                log.info("mode %s -> %s", self.mode, mode)
            self.mode = mode

    def imu_bad_frames(self) -> int:
        """Malformed IMU frames: bad CRC, COBS or length on the line, or not an IMU frame."""
        link_bad = self._imu.stats.bad_frames if self._imu is not None else 0
        return link_bad + self.counters.imu_bad_frames

    def can_errors(self) -> dict[str, int]:
        """What the FC's CAN node has detected: frames lost (counter gaps), CRC failures,
        malformed frames."""
        stats = self.can.stats.values()
        return {
            "CAN_GAPS": sum(item.counter_gaps for item in stats),
            "CAN_CRC": sum(item.crc_failures for item in stats),
            "CAN_MALFORMED": self.can.link_stats.malformed,
        }

    def uptime_s(self) -> float:
        return self._clock.now_s() - self._started_s

    def imu_rate_hz(self, window_s: float = 1.0) -> float:
        """IMU frames per second received over the last ``window_s``."""
        now_s = self._clock.now_s()
        with self._lock:
            recent = [t for t in self.counters.imu_times_s if t >= now_s - window_s]
        return len(recent) / window_s

    def run_bit(self) -> dict[str, bool]:
        """Built-in test: every input alive, no corrupted traffic, parameters consistent."""
        now_s = self._clock.now_s()
        previous_mode = self.mode
        self.set_mode("BIT")
        counters = self.counters
        can_stats = self.can.link_stats
        minimum_imu_rate_hz = float(self.parameters["IMU_MIN_RATE_HZ"])
        items = {
            "IMU": now_s - counters.last_imu_s < 0.1
            and self.imu_rate_hz() >= minimum_imu_rate_hz
            and self.imu_bad_frames() == 0,
            "LRF": now_s - counters.last_lrf_s < 0.5,
            "ENGINE": now_s - counters.last_engine_s < 0.2,
            "CAN": can_stats.malformed == 0,
            "PARAMETERS": all(name in self.parameters for name in PARAMETERS),
        }
        self.bit_items = items
        self.bit_passed = all(items.values())
        self.set_mode(previous_mode if previous_mode != "BIT" else "STANDBY")
        return items

    # -- what goes on the bus ------------------------------------------------------------------

    def _watchdog(self, now_s: float) -> None:
        """In powered flight, an IMU silent for 50 ms leaves navigation blind: ABORT."""
        fsw = self.fsw
        if fsw is None or self.mode not in ("BRAKING", "APPROACH", "TERMINAL"):
            return
        if now_s - self.counters.last_imu_s > IMU_TIMEOUT_S:
            with self._lock:
                log.warning("IMU silent for %.0f ms in %s: ABORT", 1000 * IMU_TIMEOUT_S, self.mode)
                fsw.fault()
                self._fsw_commands = fsw.step(self._fsw_time_s)
                self.mode = Mode(int(fsw.mode[0])).name
                self.abort_reason = f"IMU silent for {1000 * IMU_TIMEOUT_S:.0f} ms"

    def _heartbeat_signals(self) -> Mapping[str, Any]:
        now_s = self._clock.now_s()
        counters = self.counters
        nav = self.fsw.nav if self.fsw is not None else None
        cpu_load_pct = self.fsw.telemetry().cpu_load_pct if self.fsw is not None else 5.0
        return {
            "Mode": FC_MODES.index(self.mode),
            "ImuOk": int(now_s - counters.last_imu_s < 0.1),
            "LrfOk": int(now_s - counters.last_lrf_s < 0.5),
            "EngineOk": int(now_s - counters.last_engine_s < 0.2),
            "NavOk": 1,
            "BitPassed": int(self.bit_passed),
            "LrfAccepted": int(bool(nav is not None and nav.lrf_last_accepted[0])),
            "LrfRejected": int(bool(nav is not None and nav.lrf_latched[0])),
            "CpuLoad": _clip(cpu_load_pct, 0.0, 100.0, 0.5),
            "Uptime": round(min(self.uptime_s(), 6553.5), 1),
        }

    def _engine_command(self) -> Mapping[str, Any]:
        commands = self._fsw_commands
        if commands is not None:
            return {
                "ThrottleCmd": _clip(float(commands.throttle_pct[0]), 0.0, 100.0, 0.1),
                "Arm": int(commands.arm[0]),
                "Fire": int(commands.fire[0]),
            }
        testing = self.mode == "ARMED"
        throttle_pct = float(self.parameters["TEST_THROTTLE_PCT"]) if testing else 0.0
        return {
            "ThrottleCmd": throttle_pct,
            "Arm": int(testing),
            "Fire": int(testing and throttle_pct > 0),
        }

    def _acs_command(self) -> Mapping[str, Any]:
        commands = self._fsw_commands
        if commands is not None:
            return {
                "ThrustPitch": _clip(float(commands.pitch_deg[0]), -180.0, 180.0, 0.01),
                "ThrustYaw": _clip(float(commands.yaw_deg[0]), -180.0, 180.0, 0.01),
            }
        testing = self.mode == "ARMED"
        return {
            "ThrustPitch": float(self.parameters["TEST_PITCH_DEG"]) if testing else 0.0,
            "ThrustYaw": float(self.parameters["TEST_YAW_DEG"]) if testing else 0.0,
        }

    def _nav_provider(self, message: str) -> Callable[[], Mapping[str, Any]]:
        return lambda: self._nav_signals()[message]

    def _nav_signals(self) -> Mapping[str, Mapping[str, Any]]:
        with self._lock:
            if self.fsw is None:
                return IDLE_NAV
            t = self.fsw.telemetry()
        return {
            "FC_NavAltitude": {
                "Altitude": _clip(float(t.altitude_est_m[0]), -100_000.0, 800_000.0, 0.1),
                "TimeToGo": _clip(float(t.time_to_go_s[0]), 0.0, 6500.0, 0.1),
            },
            "FC_NavPosition": {
                "Downrange": _clip(float(t.downrange_m[0]), -8e6, 8e6, 1.0),
                "Crossrange": _clip(float(t.crossrange_m[0]), -32000.0, 32000.0, 1.0),
                "GuidancePhase": int(t.phase[0]),
            },
            "FC_NavVelocity": {
                "VelocityDownrange": _clip(float(t.velocity_downrange_mps[0]), -3000, 3000, 0.1),
                "VelocityCrossrange": _clip(float(t.velocity_crossrange_mps[0]), -200, 200, 0.1),
                "VelocityVertical": _clip(float(t.velocity_vertical_mps[0]), -300, 300, 0.01),
            },
        }


IDLE_NAV: Mapping[str, Mapping[str, Any]] = {
    "FC_NavAltitude": {"Altitude": 0.0, "TimeToGo": 0.0},
    "FC_NavPosition": {"Downrange": 0, "Crossrange": 0, "GuidancePhase": 0},
    "FC_NavVelocity": {
        "VelocityDownrange": 0.0,
        "VelocityCrossrange": 0.0,
        "VelocityVertical": 0.0,
    },
}


def _clip(value: float, low: float, high: float, resolution: float) -> float:
    """Clip to a CAN signal's range and round to its resolution (strict encoding)."""
    if not np.isfinite(value):
        return 0.0
    return round(min(max(value, low), high) / resolution) * resolution


class _Refused(Exception):
    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


def _error(code: str, text: str) -> tuple[str, ...]:
    return ("ERR", str(ERROR_NUMBERS[code]), code if text == code else f"{code}:{text}")
