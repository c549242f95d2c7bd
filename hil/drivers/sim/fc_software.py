"""The simulated FC's flight-software adapter: what runs the flight software inside the FC.

:class:`FlightSoftwareAdapter` loads :class:`~hil.fsw.FlightSoftware` when a STATE uplink
arrives (its settings from the FC's parameter table, :func:`hil.fsw.fsw_params`; its map the
one ``TERRAIN_MAP`` names), feeds it IMU frames, LRF ranges, velocimeter readings and engine
status, runs a guidance cycle each time the IMU clock crosses a 20 ms boundary (the FC's time
base is its IMU's), passes mode commands on, and keeps the engine and thrust-direction commands
of the last cycle. Its watchdog faults the flight software when the IMU falls silent in powered
flight. Each guidance cycle is accounted for by the FC's executive
(:mod:`~hil.drivers.sim.fc_scheduler`): with cycles stolen by a load test a cycle may miss its
deadline (a late guidance output reaches the engine one cycle late) and the watchdog may
restart the software, shedding low-priority work while guidance keeps its state.

It holds no lock of its own: the device calls it under its lock, except for read-only looks
(the watchdog's check, the heartbeat's telemetry snapshot).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from hil.drivers.serial import ImuFrame
from hil.drivers.sim.fc_scheduler import CycleOutcome, Executive
from hil.fsw import Commands, FlightSoftware, InitialEstimate, Telemetry, TerrainMap, fsw_params
from hil.fsw.modes import Mode

log = logging.getLogger("hil.sim.fc")

FLIGHT_MODES = ("ARMED", "BRAKING", "APPROACH", "TERMINAL", "LANDED", "ABORT")
"""Modes in which the flight software, once loaded, owns the engine and the mode."""
POWERED_MODES = ("BRAKING", "APPROACH", "TERMINAL")
"""Modes in which the flight software needs its IMU (the watchdog watches)."""

GUIDANCE_PERIOD_S = 0.02
IMU_TIMEOUT_S = 0.05
"""An IMU silent this long in powered flight leaves the navigation blind."""


@dataclass(frozen=True)
class StateUplink:
    """A STATE uplink: navigation state at ``time_s``, ENU, SI units, attitude in degrees."""

    time_s: float
    position_m: tuple[float, float, float]
    velocity_mps: tuple[float, float, float]
    mass_kg: float
    pitch_deg: float
    yaw_deg: float


class FlightSoftwareAdapter:
    """The flight software inside the simulated FC, once loaded; its inputs and commands."""

    def __init__(self) -> None:
        self.fsw: FlightSoftware | None = None
        """The flight software, loaded by a STATE uplink; None until then."""
        self.commands: Commands | None = None
        """Engine and thrust-direction commands of the last cycle; None until loaded."""
        self.time_s = 0.0
        """The flight software's time: the last IMU sample's (or the uplink's), s."""
        self._next_guidance_s = 0.0
        self._throttle_actual_pct = 0.0
        self._propellant_kg = float("nan")
        self.executive = Executive()
        """The FC's cycle accounting: missed deadlines, watchdog restarts, shed work."""
        self.stolen_fraction = 0.0
        """Share of each cycle a load test steals (the device sets it from LOAD_TEST_PCT)."""
        self.last_cycle = CycleOutcome()
        """What the last guidance cycle did."""
        self._late: Commands | None = None

    @property
    def loaded(self) -> bool:
        return self.fsw is not None

    @property
    def mode(self) -> str:
        """The flight software's mode (an FC mode name). Only when loaded."""
        assert self.fsw is not None
        return Mode(int(self.fsw.mode[0])).name

    def telemetry(self) -> Telemetry | None:
        """The flight software's telemetry, its CPU load the executive's once a load test
        has started (None before it is loaded)."""
        if self.fsw is None:
            return None
        telemetry = self.fsw.telemetry()
        if self.stolen_fraction > 0.0 or self.executive.restarts:
            telemetry = dataclasses.replace(telemetry, cpu_load_pct=self.executive.load_pct)
        return telemetry

    def load(self, state: StateUplink, parameters: Mapping[str, str | float]) -> None:
        """Load the flight software with ``state``, configured by the FC's ``parameters``.

        From then on it owns the engine and thrust direction, in every mode: before ignition
        it holds the uplinked attitude with the engine off. Raises ``ConfigError`` when the
        onboard map ``TERRAIN_MAP`` names is missing; nothing changes then.
        """
        terrain_map = TerrainMap.load(str(parameters["TERRAIN_MAP"]))
        estimate = InitialEstimate(
            position_m=np.array([state.position_m]),
            velocity_mps=np.array([state.velocity_mps]),
            mass_kg=np.array([state.mass_kg]),
            pitch_rad=np.radians([state.pitch_deg]),
            yaw_rad=np.radians([state.yaw_deg]),
            time_s=state.time_s,
        )
        self.fsw = FlightSoftware(fsw_params(parameters), estimate, terrain_map, 1)
        self.time_s = state.time_s
        self._next_guidance_s = state.time_s + GUIDANCE_PERIOD_S
        self.commands = self.fsw.step(state.time_s)

    def on_mode_command(self, mode: str) -> None:
        """A mode command the FC accepted, as the flight software hears it (if loaded)."""
        fsw = self.fsw
        if fsw is None:
            return
        if mode == "ARMED":
            fsw.arm()
        elif mode == "BRAKING":
            fsw.start_descent(self.time_s)
        elif mode == "SAFE":
            fsw.safe()
        elif mode == "ABORT":
            fsw.fault()

    def on_imu(self, frames: list[ImuFrame]) -> bool:
        """Hand IMU samples to the flight software and run guidance if a 20 ms boundary was
        crossed; True when a guidance cycle ran. Only when loaded."""
        assert self.fsw is not None
        times_s = np.array([frame.time_us for frame in frames], dtype=np.float64) * 1e-6
        forces = np.array([frame.specific_force_mps2 for frame in frames])[None]
        rates = np.array([frame.angular_rate_radps for frame in frames])[None]
        self.fsw.on_imu(times_s, forces, rates)
        self.time_s = float(times_s[-1])
        if self.time_s + 1e-9 >= self._next_guidance_s:
            self._guidance_tick(self.time_s)
            return True
        return False

    def _guidance_tick(self, time_s: float) -> None:
        assert self.fsw is not None
        fsw = self.fsw
        fsw.on_engine_status(
            time_s, np.array([self._throttle_actual_pct]), np.array([self._propellant_kg])
        )
        commands = fsw.step(time_s)
        outcome = self.executive.cycle(self.stolen_fraction)
        if outcome.guidance_late:  # this cycle's output reaches the engine one cycle late
            self.commands, self._late = self._late or self.commands, commands
        else:
            self.commands, self._late = commands, None
        if outcome.restarted:
            log.warning(
                "executive overflow at t=%.2f s: restart %d, low-priority work shed",
                time_s,
                self.executive.restarts,
            )
        self.last_cycle = outcome
        self._next_guidance_s = time_s + GUIDANCE_PERIOD_S

    def on_lrf(self, slant_range_m: float, valid: bool) -> None:
        """An LRF range, taken at the flight software's current time (if loaded)."""
        if self.fsw is not None:
            self.fsw.on_lrf(self.time_s, np.array([slant_range_m]), np.array([valid]))

    def on_vel(self, velocity_body_mps: tuple[float, float, float], valid: bool) -> None:
        """A velocimeter reading (body axes, m/s), at the flight software's time (if loaded)."""
        if self.fsw is not None:
            self.fsw.on_vel(np.array([velocity_body_mps]), np.array([valid]))

    def on_engine_status(self, throttle_actual_pct: float) -> None:
        """The engine's reported throttle, for the next guidance cycle."""
        self._throttle_actual_pct = throttle_actual_pct

    def on_propellant(self, propellant_kg: float) -> None:
        """The propellant gauge's reading, for the next guidance cycle."""
        self._propellant_kg = propellant_kg

    def imu_lost(self, now_s: float, mode: str, last_imu_s: float) -> bool:
        """Watchdog: in powered flight, has the IMU been silent longer than IMU_TIMEOUT_S?"""
        return self.fsw is not None and mode in POWERED_MODES and now_s - last_imu_s > IMU_TIMEOUT_S

    def abort_imu_lost(self, mode: str) -> str:
        """The watchdog tripped in ``mode``: fault the flight software (it goes to ABORT) and
        take its commands. Returns why, for the device's abort reason."""
        assert self.fsw is not None
        log.warning("IMU silent for %.0f ms in %s: ABORT", 1000 * IMU_TIMEOUT_S, mode)
        self.fsw.fault()
        self.commands = self.fsw.step(self.time_s)
        return f"IMU silent for {1000 * IMU_TIMEOUT_S:.0f} ms in {mode}"
