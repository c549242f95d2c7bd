"""The simulated FC's maintenance command interpreter: one handler per command, and refusals.

:class:`MaintenanceCommands` executes a command line already read off the maintenance port
(the device reads and writes the port) and returns the reply words: ``OK <command> ...`` or
``ERR <number> <code>[:<detail>]`` with the ICD's error numbers. A handler refuses by raising
:class:`Refused`; an unknown command or a wrong number of arguments is refused here. It sees
the FC through :class:`CommandedComputer` and is called under the device's lock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from hil.drivers.sim.fc_health import FcCounters
from hil.drivers.sim.fc_software import FlightSoftwareAdapter, StateUplink
from hil.errors import ConfigError
from hil.protocol.icd import ERROR_NUMBERS, FC_MODES
from hil.protocol.parameters import PARAMETERS, format_value

ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    "SAFE": FC_MODES,
    "STANDBY": ("SAFE", "STANDBY", "BIT", "ARMED"),
    "BIT": ("SAFE", "STANDBY"),
    "ARMED": ("STANDBY",),
    "BRAKING": ("ARMED",),
    "ABORT": FC_MODES,
}
"""For each mode a MODE command may ask for, the modes it may be asked in; others: none."""


class CommandedComputer(Protocol):
    """What the interpreter reads and drives of the simulated FC."""

    parameters: dict[str, str | float]
    mode: str
    bit_passed: bool
    bit_items: dict[str, bool]
    counters: FcCounters
    software: FlightSoftwareAdapter
    abort_reason: str

    def set_mode(self, mode: str) -> None: ...
    def run_bit(self) -> dict[str, bool]: ...
    def uptime_s(self) -> float: ...
    def imu_bad_frames(self) -> int: ...
    def imu_rate_hz(self, window_s: float = 1.0) -> float: ...
    def can_errors(self) -> dict[str, int]: ...


class Refused(Exception):
    """A command the FC refuses: ``code`` is an ICD error code, ``text`` the detail."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


def error_reply(code: str, text: str) -> tuple[str, ...]:
    """The reply words of a refusal: ``ERR <number> <code>`` or ``ERR <number> <code>:<text>``."""
    return ("ERR", str(ERROR_NUMBERS[code]), code if text == code else f"{code}:{text}")


class MaintenanceCommands:
    """The maintenance port's commands, executed on ``fc``."""

    def __init__(self, fc: CommandedComputer) -> None:
        self.fc = fc

    def handle(self, command: str, args: tuple[str, ...]) -> tuple[str, ...]:
        """Execute one command; returns the reply words (``OK ...`` or ``ERR ...``)."""
        self.fc.counters.commands += 1
        handler: Callable[..., tuple[str, ...]] | None = getattr(
            self, f"_cmd_{command.lower()}", None
        )
        if handler is None:
            return error_reply("UNKNOWN_COMMAND", command)
        try:
            words = handler(*args)
        except TypeError:
            return error_reply("BAD_ARGUMENTS", command)
        except Refused as refusal:
            return error_reply(refusal.code, refusal.text)
        return ("OK", command, *words)

    def _cmd_ping(self) -> tuple[str, ...]:
        return ("PONG",)

    def _cmd_status(self) -> tuple[str, ...]:
        fc = self.fc
        counters = fc.counters
        return (
            f"MODE={fc.mode}",
            f"UPTIME={fc.uptime_s():.1f}",
            f"BIT={'PASS' if fc.bit_passed else 'NONE' if not fc.bit_items else 'FAIL'}",
            f"IMU_FRAMES={counters.imu_frames}",
            f"IMU_BAD={fc.imu_bad_frames()}",
            f"IMU_GAPS={counters.imu_sequence_gaps}",
            f"IMU_RATE_HZ={fc.imu_rate_hz():.1f}",
            f"LRF_FRAMES={counters.lrf_frames}",
            f"ENG_FRAMES={counters.engine_status_frames}",
            f"BAD_COMMANDS={counters.bad_commands}",
            f"MISSED_DEADLINES={fc.software.executive.missed_deadlines}",
            f"RESTARTS={fc.software.executive.restarts}",
            f"LOAD_SHED={int(fc.software.executive.shed)}",
            *(f"{key}={value}" for key, value in fc.can_errors().items()),
        )

    def _cmd_imu(self, count: str = "400") -> tuple[str, ...]:
        """IMU [n]: mean and standard deviation of the last n samples (default 400 = 1 s)."""
        try:
            n = int(count)
        except ValueError as err:
            raise Refused("BAD_VALUE", "COUNT_NOT_AN_INTEGER") from err
        recent = list(self.fc.counters.imu_recent)[-n:]
        if len(recent) < 2:
            raise Refused("NOT_ALLOWED", "NO_IMU_DATA")
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
        counters = self.fc.counters
        last = counters.lrf_last
        if not last:
            raise Refused("NOT_ALLOWED", "NO_LRF_DATA")
        return (
            f"RANGE={last['RANGE']:.1f}",
            f"VALID={int(last['VALID'])}",
            f"STRENGTH={last['STRENGTH']:.0f}",
            f"FRAMES={counters.lrf_frames}",
        )

    def _cmd_vel(self) -> tuple[str, ...]:
        """VEL: the last velocimeter reading received (body axes, m/s; zeros and VALID=0
        before the first), its valid flag and the FC's counts: frames received, frames the
        unit flagged invalid, readings the navigation accepted and rejected (0 before the
        flight software is loaded). Not in STATUS: its reply is at the line's 256 bytes."""
        counters = self.fc.counters
        last = counters.vel_last or {"VX": 0.0, "VY": 0.0, "VZ": 0.0, "VALID": 0.0}
        fsw = self.fc.software.fsw
        return (
            f"VX={last['VX']:.2f}",
            f"VY={last['VY']:.2f}",
            f"VZ={last['VZ']:.2f}",
            f"VALID={int(last['VALID'])}",
            f"FRAMES={counters.vel_frames}",
            f"INVALID={counters.vel_invalid_frames}",
            f"ACCEPTED={int(fsw.nav.vel_accepted[0]) if fsw is not None else 0}",
            f"REJECTED={int(fsw.nav.vel_rejected[0]) if fsw is not None else 0}",
        )

    def _cmd_bit(self) -> tuple[str, ...]:
        if self.fc.mode not in ("SAFE", "STANDBY", "BIT"):
            raise Refused("NOT_ALLOWED", f"BIT_IN_{self.fc.mode}")
        items = self.fc.run_bit()
        return (
            "PASS" if all(items.values()) else "FAIL",
            *(f"{name}={'PASS' if ok else 'FAIL'}" for name, ok in items.items()),
        )

    def _cmd_mode(self, mode: str) -> tuple[str, ...]:
        fc = self.fc
        mode = mode.upper()
        if mode not in FC_MODES:
            raise Refused("BAD_VALUE", f"UNKNOWN_MODE_{mode}")
        if fc.mode not in ALLOWED_FROM.get(mode, ()):
            raise Refused("NOT_ALLOWED", f"{fc.mode}_TO_{mode}")
        if mode == "ARMED" and not fc.bit_passed:
            raise Refused("NOT_ALLOWED", "BIT_NOT_PASSED")
        if mode == "BRAKING" and not fc.software.loaded:
            raise Refused("NOT_ALLOWED", "NO_STATE_VECTOR")
        fc.software.on_mode_command(mode)
        fc.set_mode(mode)
        return (mode,)

    def _cmd_state(self, *words: str) -> tuple[str, ...]:
        """STATE t x y z vx vy vz mass pitch_deg yaw_deg: uplink the navigation state (ENU,
        SI units) and load the flight software with it."""
        fc = self.fc
        if len(words) != 10:
            raise Refused("BAD_ARGUMENTS", "STATE_NEEDS_10_VALUES")
        if fc.mode not in ("SAFE", "STANDBY"):
            raise Refused("NOT_ALLOWED", f"STATE_IN_{fc.mode}")
        try:
            t, x, y, z, vx, vy, vz, mass, pitch_deg, yaw_deg = (float(w) for w in words)
        except ValueError as err:
            raise Refused("BAD_VALUE", "STATE_NOT_NUMBERS") from err
        state = StateUplink(t, (x, y, z), (vx, vy, vz), mass, pitch_deg, yaw_deg)
        try:
            fc.software.load(state, fc.parameters)
        except ConfigError as err:
            raise Refused("BAD_VALUE", "TERRAIN_MAP_NOT_FOUND") from err
        fc.abort_reason = ""  # a new flight
        return ("LOADED",)

    def _cmd_fault(self) -> tuple[str, ...]:
        """FAULT: why the FC went to ABORT on its own since the last STATE (``ABORT`` and the
        reason's words), or ``NONE``."""
        reason = self.fc.abort_reason
        return ("ABORT", *reason.split()) if reason else ("NONE",)

    def _cmd_arm(self) -> tuple[str, ...]:
        return self._cmd_mode("ARMED")

    def _cmd_safe(self) -> tuple[str, ...]:
        return self._cmd_mode("SAFE")

    def _cmd_get(self, name: str) -> tuple[str, ...]:
        name = name.upper()
        parameters = self.fc.parameters
        if name not in parameters:
            raise Refused("UNKNOWN_PARAMETER", name)
        return (name, format_value(parameters[name]))

    def _cmd_set(self, name: str, text: str) -> tuple[str, ...]:
        name = name.upper()
        parameter = PARAMETERS.get(name)
        if parameter is None:
            raise Refused("UNKNOWN_PARAMETER", name)
        if not parameter.writable:
            raise Refused("NOT_ALLOWED", f"{name}_READ_ONLY")
        parameters = self.fc.parameters
        try:
            parameters[name] = parameter.parse(text)
        except ValueError as err:
            raise Refused("BAD_VALUE", str(err).replace(" ", "_")) from err
        return (name, format_value(parameters[name]))
