"""The simulated flight computer: the far end of the bench's links, speaking the FC's protocol.

It owns its two serial lines (maintenance port and IMU line) — by default two pseudo-terminal
pairs whose slave ends the bench opens by path, exactly as it would open ``/dev/ttyUSB0``; or,
standing alone on another computer, serial ports given by path or pyserial URL
(``SerialPorts``) — and its own python-can bus on the configured channel, the threads that
serve them, the FC's mode and BIT state, and the counters of all it receives. What it does
with that is in its sibling modules:

* :mod:`~hil.drivers.sim.fc_commands`: the maintenance command interpreter;
* :mod:`~hil.drivers.sim.fc_software`: the flight software it runs once a STATE uplink
  loads it, fed with what arrives here;
* :mod:`~hil.drivers.sim.fc_telemetry`: the signals of each message it sends;
* :mod:`~hil.drivers.sim.fc_health`: counters, input health and the BIT's items.

Two ways to run, one set of handlers:

* free-running (wall clock): threads read the IMU line; CAN frames are sent by python-can's
  ``send_periodic`` with counter and CRC filled per frame;
* lockstep (simulated clock): the executive calls ``read_imu_until`` and ``step(now_s)``,
  and the device reads what has arrived and sends what is due at that instant.

In both, a thread serves the maintenance port: a command is asynchronous by nature, and the
bench blocks on the reply. One lock guards the FC's state; the sibling modules are called
under it.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hil.core.clock import Clock
from hil.core.config import CanConfig
from hil.drivers.can import CanLink, PeriodicSend, load_database
from hil.drivers.serial import ImuFrame, Line, SerialLink
from hil.drivers.sim.fc_commands import MaintenanceCommands
from hil.drivers.sim.fc_health import FcCounters, bit_items, inputs_alive
from hil.drivers.sim.fc_software import FLIGHT_MODES, IMU_TIMEOUT_S, FlightSoftwareAdapter
from hil.drivers.sim.fc_telemetry import (
    NAV_MESSAGES,
    acs_command,
    engine_command,
    heartbeat_signals,
    nav_signals,
)
from hil.drivers.sim.pty import PtyPair
from hil.errors import DeviceTimeout, FrameError, HilError
from hil.fsw import FlightSoftware, warm_up
from hil.protocol.icd import ERROR_NUMBERS, MESSAGE_PERIODS_S
from hil.protocol.parameters import PARAMETERS

log = logging.getLogger("hil.sim.fc")

HEARTBEAT_PERIOD_S = MESSAGE_PERIODS_S["FC_Heartbeat"]
NAV_PERIOD_S = MESSAGE_PERIODS_S["FC_NavAltitude"]
COMMAND_PERIOD_S = MESSAGE_PERIODS_S["ENG_Cmd"]


@dataclass(frozen=True)
class SerialPorts:
    """Where the FC's serial lines are. A line without a URL is a pseudo-terminal pair the FC
    creates (the bench opens its other end, ``maintenance_url``/``imu_url``); with a URL the
    FC opens that port itself (a USB-serial adapter, ``/dev/ttyS1``, any pyserial URL)."""

    maintenance_url: str | None = None
    maintenance_baudrate: int = 115_200
    imu_url: str | None = None
    imu_baudrate: int = 921_600


class SimulatedFlightComputer:
    """The simulated FC device. A context manager; ``close`` twice is harmless."""

    def __init__(
        self,
        can: CanConfig,
        clock: Clock,
        serial_number: str = "SIM-FC-0001",
        ports: SerialPorts | None = None,
        processing_delay_s: float = 0.0,
    ) -> None:
        """``processing_delay_s`` delays what the FC's test modes see of its inputs, as a
        slower flight computer would (the loop's transport delay grows by it)."""
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
        self.ports = ports or SerialPorts()
        self.processing_delay_s = processing_delay_s
        self._echo: deque[tuple[float, float]] = deque(maxlen=4096)
        """(arrival time, specific force X) of recent IMU frames, for ``TEST_MODE`` echo."""
        self._maintenance_pty = PtyPair() if self.ports.maintenance_url is None else None
        self._imu_pty = PtyPair() if self.ports.imu_url is None else None
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
        """True after ``hang()``: the FC has stopped, as a crashed computer would."""
        self.abort_reason = ""
        """Why the FC went to ABORT on its own (its IMU watchdog); empty otherwise."""
        self.software = FlightSoftwareAdapter()
        """The flight software inside the FC, with its inputs and last commands."""
        self._commands = MaintenanceCommands(self)

    @property
    def fsw(self) -> FlightSoftware | None:
        """The flight software, loaded by a STATE uplink; None until then."""
        return self.software.fsw

    # -- wiring ------------------------------------------------------------------------------

    @property
    def maintenance_url(self) -> str:
        """Where the bench opens the maintenance port: the pty's other end, or (a port given
        in ``SerialPorts``) the FC's own port, whose far end is wired to the bench."""
        if self._maintenance_pty is not None:
            return self._maintenance_pty.slave_path
        assert self.ports.maintenance_url is not None
        return self.ports.maintenance_url

    @property
    def imu_url(self) -> str:
        """Where the bench opens the IMU line (as ``maintenance_url``)."""
        if self._imu_pty is not None:
            return self._imu_pty.slave_path
        assert self.ports.imu_url is not None
        return self.ports.imu_url

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
        self._maintenance = _device_end(
            self._maintenance_pty,
            self.ports.maintenance_url,
            self.ports.maintenance_baudrate,
            "sim-fc maintenance",
        )
        self._imu = _device_end(
            self._imu_pty, self.ports.imu_url, self.ports.imu_baudrate, "sim-fc imu"
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
        self._can.subscribe("VEL_Velocity", self._on_vel)
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
        for pty in (self._maintenance_pty, self._imu_pty):
            if pty is not None:
                pty.close()

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
        for message in NAV_MESSAGES:
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
            *((message, NAV_PERIOD_S, self._nav_provider(message)) for message in NAV_MESSAGES),
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
            self.counters.count_imu(frames, now_s)
            if frames:
                self._echo.append((now_s, frames[-1].specific_force_mps2[0]))
            software = self.software
            software.stolen_fraction = float(self.parameters["LOAD_TEST_PCT"]) / 100.0
            # once loaded, the flight software owns the mode in flight: it may change it at
            # each guidance cycle
            if frames and software.loaded and software.on_imu(frames) and self.mode in FLIGHT_MODES:
                before = self.mode
                self.mode = software.mode
                if self.mode == "ABORT" and before != "ABORT" and not self.abort_reason:
                    # the flight software faulted itself: its navigation state went non-finite
                    self.abort_reason = f"navigation state not finite in {before}"

    def _on_lrf(self, message: str, values: dict[str, Any], timestamp_s: float) -> None:
        with self._lock:
            slant_range_m, valid = float(values["SlantRange"]), float(values["Valid"])
            strength = float(values["SignalStrength"])
            self.counters.count_lrf(slant_range_m, valid, strength, self._clock.now_s())
            self.software.on_lrf(slant_range_m, valid >= 0.5)

    def _on_vel(self, message: str, values: dict[str, Any], timestamp_s: float) -> None:
        with self._lock:
            velocity = (
                float(values["VelocityX"]),
                float(values["VelocityY"]),
                float(values["VelocityZ"]),
            )
            valid = float(values["Valid"]) >= 0.5
            self.counters.count_vel(velocity, valid, self._clock.now_s())
            self.software.on_vel(velocity, valid)

    def _on_engine_status(self, message: str, values: dict[str, Any], timestamp_s: float) -> None:
        with self._lock:
            self.counters.engine_status_frames += 1
            self.counters.last_engine_s = self._clock.now_s()
            self.software.on_engine_status(float(values["ThrottleActual"]))

    def _on_propellant(self, message: str, values: dict[str, Any], timestamp_s: float) -> None:
        with self._lock:
            self.software.on_propellant(float(values["PropellantMass"]))

    def _watchdog(self, now_s: float) -> None:
        """In powered flight, an IMU silent for 50 ms leaves navigation blind: ABORT."""
        software = self.software
        if software.imu_lost(now_s, self.mode, self.counters.last_imu_s):
            with self._lock:
                self.abort_reason = software.abort_imu_lost(self.mode)
                self.mode = software.mode

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
            return self._commands.handle(command, args)

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
            return self.counters.imu_rate_hz(now_s, window_s)

    def run_bit(self) -> dict[str, bool]:
        """Built-in test: every input alive, no corrupted traffic, parameters consistent
        (:func:`~hil.drivers.sim.fc_health.bit_items`). The FC is in BIT meanwhile."""
        now_s = self._clock.now_s()
        previous_mode = self.mode
        self.set_mode("BIT")
        items = bit_items(
            self.counters,
            now_s,
            imu_rate_hz=self.imu_rate_hz(),
            imu_bad_frames=self.imu_bad_frames(),
            can_malformed=self.can.link_stats.malformed,
            parameters=self.parameters,
        )
        self.bit_items = items
        self.bit_passed = all(items.values())
        self.set_mode(previous_mode if previous_mode != "BIT" else "STANDBY")
        return items

    # -- what goes on the bus ------------------------------------------------------------------

    def _heartbeat_signals(self) -> Mapping[str, Any]:
        now_s = self._clock.now_s()
        return heartbeat_signals(
            self.mode,
            inputs_alive(self.counters, now_s),
            self.bit_passed,
            self.software.telemetry(),
            self.uptime_s(),
            self.software.executive,
        )

    def _engine_command(self) -> Mapping[str, Any]:
        return engine_command(self.software.commands, self.mode, self.parameters)

    def _acs_command(self) -> Mapping[str, Any]:
        return acs_command(
            self.software.commands, self.mode, self.parameters, self._echoed_force_x()
        )

    def _echoed_force_x(self) -> float:
        """The newest IMU specific force X the FC has had ``processing_delay_s`` to see."""
        seen_by_s = self._clock.now_s() - self.processing_delay_s
        with self._lock:
            for arrival_s, force_x in reversed(self._echo):
                if arrival_s <= seen_by_s:
                    return force_x
        return 0.0

    def _nav_provider(self, message: str) -> Callable[[], Mapping[str, Any]]:
        return lambda: self._nav_signals()[message]

    def _nav_signals(self) -> Mapping[str, Mapping[str, Any]]:
        with self._lock:
            telemetry = self.software.telemetry()
            vel_ok = inputs_alive(self.counters, self._clock.now_s())["VEL"]
        return nav_signals(telemetry, vel_ok)


def _device_end(pty: PtyPair | None, url: str | None, baudrate: int, name: str) -> SerialLink:
    """The FC's end of one serial line: the pty's master, or the port at ``url``."""
    if pty is not None:
        return SerialLink.on_fd(pty.master_fd, name=name, read_timeout_s=0.05)
    assert url is not None
    return SerialLink(url, baudrate=baudrate, name=name, read_timeout_s=0.05).open()
