"""The simulated flight software: navigation + guidance + mode machine for N runs, no I/O.

The simulated flight computer (and the model-only loop) feeds it sensor data through
``on_imu`` / ``on_lrf`` / ``on_vel`` / ``on_engine_status``, gives it operator commands (``arm``,
``start_descent``, ``safe``) and calls ``step`` at 50 Hz for engine and thrust-direction
commands. Everything is an array over a leading batch axis of N runs.

Touchdown detection (``FswParams.touchdown_rule``):

* ``"altitude"`` (naive): estimated altitude <= ``landed_altitude_m`` while descending. A wrong
  altitude estimate makes the software *believe* it landed (scenario F1, docs/architecture.md §6).
* ``"signature"`` (default): estimated altitude <= ``touchdown_window_m`` *and* a contact spike
  in the IMU (|specific force| > ``touchdown_spike_mps2`` since the last guidance cycle).

The engine is commanded off in LANDED, ABORT, SAFE and before ignition. ABORT is entered on a
non-finite navigation state (``fault`` raises it on demand).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from hil.fsw.guidance import (
    GuidanceParams,
    approach_time,
    braking_time,
    terminal_accel,
    thrust_command,
    zem_zev_accel,
)
from hil.fsw.modes import ARMED_MODES, FIRING_MODES, PHASE_OF_MODE, Event, Mode, next_mode
from hil.fsw.navigation import Navigation, NavParams
from hil.fsw.terrain_map import TerrainMap
from hil.fsw.thrust import ThrustEstimator, ThrustEstimatorParams

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int8]

TOUCHDOWN_RULES = ("signature", "altitude")

_any = np.logical_or.reduce  # ndarray.any() without the Python wrapper
_all = np.logical_and.reduce
_FIRING = tuple(bool(f) for f in FIRING_MODES)  #: per mode value, as Python bools

# plain ints: IntEnum attribute access is slow in the 50 Hz loop
_ARMED, _BRAKING, _APPROACH, _TERMINAL = (
    int(Mode.ARMED),
    int(Mode.BRAKING),
    int(Mode.APPROACH),
    int(Mode.TERMINAL),
)


@dataclass(frozen=True)
class FswParams:
    """Flight-software configuration (onboard constants, guidance, navigation, detection)."""

    gate_policy: str = "recover"  #: "recover" or "latch", see hil.fsw.navigation
    touchdown_rule: str = "signature"  #: "signature" or "altitude"
    landed_altitude_m: float = 1.0
    touchdown_window_m: float = 15.0
    touchdown_spike_mps2: float = 12.0
    dry_mass_kg: float = 340.0
    max_thrust_n: float = 2000.0
    isp_s: float = 310.0
    min_throttle: float = 0.2
    period_s: float = 0.02  #: guidance cycle (50 Hz), used for the CPU-load proxy
    guidance: GuidanceParams = field(default_factory=GuidanceParams)
    nav: NavParams = field(default_factory=NavParams)
    thrust: ThrustEstimatorParams = field(default_factory=ThrustEstimatorParams)

    def __post_init__(self) -> None:
        if self.gate_policy not in ("latch", "recover"):
            raise ValueError(f"FswParams.gate_policy: {self.gate_policy!r} is not latch/recover")
        if self.touchdown_rule not in TOUCHDOWN_RULES:
            raise ValueError(
                f"FswParams.touchdown_rule: {self.touchdown_rule!r} is not one of {TOUCHDOWN_RULES}"
            )


@dataclass(frozen=True)
class InitialEstimate:
    """Navigation estimate at start (powered-descent start or earlier), per run."""

    position_m: FloatArray  #: (N, 3)
    velocity_mps: FloatArray  #: (N, 3)
    mass_kg: FloatArray  #: (N,)
    pitch_rad: FloatArray  #: (N,) known initial attitude
    yaw_rad: FloatArray  #: (N,)
    time_s: float = 0.0


@dataclass(frozen=True)
class Commands:
    """Actuator commands for N runs (ENG_Cmd, ACS_Cmd)."""

    throttle_pct: FloatArray  #: 0 (off) or 20 .. 100
    arm: BoolArray
    fire: BoolArray
    pitch_deg: FloatArray
    yaw_deg: FloatArray


@dataclass(frozen=True)
class Telemetry:
    """Per-run flight-software state for FC_Heartbeat / FC_Nav; arrays of shape (N,)."""

    time_s: float
    mode: IntArray
    phase: IntArray
    altitude_est_m: FloatArray
    downrange_m: FloatArray
    crossrange_m: FloatArray
    velocity_downrange_mps: FloatArray
    velocity_crossrange_mps: FloatArray
    velocity_vertical_mps: FloatArray
    time_to_go_s: FloatArray
    mass_est_kg: FloatArray
    lrf_accepted: BoolArray  #: last reading accepted
    lrf_rejected: BoolArray  #: LRF rejected for good (latched)
    lrf_accepted_count: NDArray[np.int64]
    lrf_rejected_count: NDArray[np.int64]
    lrf_reanchor_count: NDArray[np.int64]
    lrf_first_accept_time_s: FloatArray
    cpu_load_pct: float
    thrust_efficiency: FloatArray  #: achieved / predicted thrust (:mod:`hil.fsw.thrust`)
    vel_accepted: BoolArray  #: last velocimeter reading accepted
    vel_accepted_count: NDArray[np.int64]
    vel_rejected_count: NDArray[np.int64]


class FlightSoftware:
    """Navigation, guidance and modes for N runs (N = 1 for the simulated flight computer)."""

    def __init__(
        self,
        params: FswParams,
        initial_estimate: InitialEstimate,
        terrain_map: TerrainMap,
        n: int = 1,
    ) -> None:
        self.params = params
        self.n = n
        nav_params = params.nav
        if nav_params.gate_policy != params.gate_policy:
            from dataclasses import replace

            nav_params = replace(nav_params, gate_policy=params.gate_policy)
        est = initial_estimate
        shape_ok = np.shape(est.position_m) == (n, 3) and np.shape(est.velocity_mps) == (n, 3)
        if not shape_ok:
            raise ValueError(f"FlightSoftware: initial estimate arrays must be (n={n}, 3)")
        self.nav = Navigation(
            nav_params,
            est.position_m,
            est.velocity_mps,
            est.pitch_rad,
            est.yaw_rad,
            est.time_s,
            terrain_map,
        )
        self.mode: IntArray = np.full(n, Mode.STANDBY, dtype=np.int8)
        self.mass_est_kg = np.broadcast_to(np.asarray(est.mass_kg, dtype=np.float64), (n,)).copy()
        self.throttle_actual_pct = np.zeros(n)
        self.thrust = ThrustEstimator(params.thrust, n)
        self.time_s = est.time_s
        self._high_gate_time_s = np.full(n, np.inf)
        self._low_gate_time_s = np.full(n, np.inf)
        self._reanchors_seen = np.zeros(n, dtype=np.int64)
        self.time_to_go_s = np.zeros(n)
        self.landed_time_s = np.full(n, np.nan)
        g = params.guidance
        self._hg_pos = np.array(g.high_gate_position_m)
        self._hg_vel = np.array(g.high_gate_velocity_mps)
        self._lg_pos = np.array(g.low_gate_position_m)
        self._lg_vel = np.array(g.low_gate_velocity_mps)
        self._tilt_brake = math.radians(g.max_tilt_braking_deg)
        self._tilt_approach = math.radians(g.max_tilt_approach_deg)
        self._tilt_terminal = math.radians(g.max_tilt_terminal_deg)
        self._busy_s = 0.0
        self._cpu_load_pct = 0.0
        self._last_cmd = Commands(
            np.zeros(n),
            np.zeros(n, bool),
            np.zeros(n, bool),
            np.degrees(self.nav.pitch_rad),
            np.degrees(self.nav.yaw_rad),
        )

    def take(self, rows: NDArray[np.intp]) -> None:
        """Keep only runs ``rows`` (in that order), e.g. to drop runs that have landed."""
        self.nav.take(rows)
        self.n = len(rows)
        self.mode = self.mode[rows]
        self.mass_est_kg = self.mass_est_kg[rows]
        self.throttle_actual_pct = self.throttle_actual_pct[rows]
        self.thrust.take(rows)
        self._high_gate_time_s = self._high_gate_time_s[rows]
        self._low_gate_time_s = self._low_gate_time_s[rows]
        self._reanchors_seen = self._reanchors_seen[rows]
        self.time_to_go_s = self.time_to_go_s[rows]
        self.landed_time_s = self.landed_time_s[rows]
        c = self._last_cmd
        self._last_cmd = Commands(
            c.throttle_pct[rows], c.arm[rows], c.fire[rows], c.pitch_deg[rows], c.yaw_deg[rows]
        )

    # -- operator commands ------------------------------------------------------------------
    def arm(self) -> None:
        """STANDBY -> ARMED; starts the accelerometer calibration (engine off, coasting)."""
        was = self.mode == Mode.STANDBY
        self.mode = next_mode(self.mode, Event.ARM)
        self.nav.start_calibration(was & (self.mode == Mode.ARMED))

    def start_descent(self, time_s: float) -> None:
        """ARMED -> BRAKING at ``time_s`` (ignition at PDI); freezes the calibration."""
        starting = self.mode == Mode.ARMED
        self.nav.finish_calibration(starting)
        self.mode = next_mode(self.mode, Event.START)
        self._high_gate_time_s = np.where(
            starting, time_s + self.params.guidance.braking_time_s, self._high_gate_time_s
        )

    def safe(self) -> None:
        """Any mode -> SAFE (engine off)."""
        self.mode = next_mode(self.mode, Event.SAFE)

    def fault(self, where: BoolArray | None = None) -> None:
        """Declare a fault: flight modes -> ABORT for runs ``where`` (all if None)."""
        self.mode = next_mode(self.mode, Event.FAULT, where)

    # -- sensor inputs ----------------------------------------------------------------------
    def on_imu(
        self,
        time_s: FloatArray,
        specific_force_mps2: FloatArray,
        angular_rate_radps: FloatArray,
    ) -> None:
        """k IMU samples for every run: times (k,), specific force and rate (N, k, 3) body."""
        t0 = time.perf_counter()
        self.nav.propagate(time_s, specific_force_mps2, angular_rate_radps)
        self.thrust.add(specific_force_mps2)
        self._busy_s += time.perf_counter() - t0

    def on_lrf(self, time_s: float, slant_range_m: FloatArray, valid: BoolArray) -> None:
        """One LRF reading per run (m) with its valid flag; used only in descent modes."""
        t0 = time.perf_counter()
        self.nav.lrf_update(time_s, slant_range_m, valid & FIRING_MODES[self.mode])
        self._busy_s += time.perf_counter() - t0

    def on_vel(self, velocity_body_mps: FloatArray, valid: BoolArray) -> None:
        """One velocimeter reading per run, (N, 3) m/s body axes, with its valid flag; used
        only in descent modes."""
        t0 = time.perf_counter()
        self.nav.vel_update(velocity_body_mps, valid & FIRING_MODES[self.mode])
        self._busy_s += time.perf_counter() - t0

    def on_engine_status(
        self, time_s: float, throttle_actual_pct: FloatArray, propellant_kg: FloatArray
    ) -> None:
        """Engine status: actual throttle (%) and gauged propellant (kg) per run."""
        self.throttle_actual_pct = np.asarray(throttle_actual_pct, dtype=np.float64)
        self.mass_est_kg = self.params.dry_mass_kg + np.asarray(propellant_kg, dtype=np.float64)

    # -- 50 Hz cycle ------------------------------------------------------------------------
    def _uniform_mode(self, mode: IntArray) -> int | None:
        """The mode every run is in, or None if the runs are in different modes."""
        m0 = int(mode[0])
        if self.n == 1 or _all(mode == m0):
            return m0
        return None

    def step(self, time_s: float) -> Commands:
        """Run modes and guidance for ``time_s``; returns the commands for every run.

        When every run is in the same mode (always for N = 1) the per-mode masks are skipped
        and only that mode's guidance is evaluated; the results are the same.
        """
        t0 = time.perf_counter()
        p = self.params
        g = p.guidance
        nav = self.nav
        self.time_s = time_s
        mode = self.mode
        # what the engine gave over the last cycle (learnt during the braking burn only)
        self.thrust.update(
            mode == _BRAKING,
            0.01 * self.throttle_actual_pct,
            self.mass_est_kg,
            p.max_thrust_n,
            nav.accel_bias_mps2,
            p.period_s,
        )
        # guidance plans and commands with the thrust there is: the mass the nominal engine
        # would push as hard as the real one pushes the estimated mass
        command_mass_kg = self.mass_est_kg / self.thrust.efficiency
        # faults
        if not math.isfinite(float(np.add.reduce(nav.position_m + nav.velocity_mps, axis=None))):
            bad = np.asarray(~np.isfinite(nav.position_m + nav.velocity_mps).all(axis=1))
            mode = next_mode(mode, Event.FAULT, bad)
        uniform = self._uniform_mode(mode)
        # a navigation jump (altitude re-anchored on the LRF) while braking, to a state still
        # above the high gate: re-plan the time to the gate from there. Below the gate there
        # is no gate to re-plan toward; the plan goes on (scenario F2: too low, too fast)
        reanchored = nav.lrf_reanchored
        if _any(reanchored != self._reanchors_seen):
            jumped = (reanchored != self._reanchors_seen) & (mode == _BRAKING)
            jumped &= nav.position_m[:, 2] > self._hg_pos[2]
            self._reanchors_seen = reanchored.copy()
            if _any(jumped):
                tgo = braking_time(
                    nav.position_m,
                    nav.velocity_mps,
                    nav.vertical_gravity_mps2(),
                    command_mass_kg,
                    p.max_thrust_n,
                    self._high_gate_time_s - time_s,
                    p.isp_s,
                    g,
                )
                self._high_gate_time_s = np.where(jumped, time_s + tgo, self._high_gate_time_s)
        # gates
        if uniform is None or uniform == _BRAKING:
            hg = time_s >= self._high_gate_time_s
            if uniform is None:
                hg &= mode == _BRAKING
            if _any(hg):
                mode = next_mode(mode, Event.HIGH_GATE, hg)
                duration = approach_time(
                    nav.position_m,
                    nav.velocity_mps,
                    nav.vertical_gravity_mps2(),
                    command_mass_kg,
                    p.max_thrust_n,
                    g,
                )
                self._low_gate_time_s = np.where(hg, time_s + duration, self._low_gate_time_s)
                uniform = self._uniform_mode(mode)
        if uniform is None or uniform == _APPROACH:
            lg = time_s >= self._low_gate_time_s
            if uniform is None:
                lg &= mode == _APPROACH
            if _any(lg):
                mode = next_mode(mode, Event.LOW_GATE, lg)
                uniform = self._uniform_mode(mode)
        # touchdown (the IMU's peak since the last guidance cycle, however it arrived)
        peak_mps2 = nav.take_peak()
        altitude = nav.altitude_m()
        if uniform is None or _FIRING[uniform]:
            if p.touchdown_rule == "altitude":
                down = altitude <= p.landed_altitude_m
            else:
                down = altitude <= p.touchdown_window_m
            if uniform is None:
                down &= FIRING_MODES[mode]
            if p.touchdown_rule != "altitude" and _any(down):
                down &= peak_mps2 > p.touchdown_spike_mps2
            if _any(down):
                mode = next_mode(mode, Event.TOUCHDOWN, down)
                self.landed_time_s = np.where(down, time_s, self.landed_time_s)
                uniform = self._uniform_mode(mode)
        self.mode = mode
        # guidance
        n = self.n
        if uniform is not None and not _FIRING[uniform]:  # nobody fires: hold the direction
            tgo = np.zeros(n)
            thr = np.zeros(n)
            pitch = np.radians(self._last_cmd.pitch_deg)
            yaw = np.radians(self._last_cmd.yaw_deg)
        else:
            grav = nav.vertical_gravity_mps2()
            if uniform is not None:
                acc, tgo, tilt = self._guide(uniform, time_s, altitude, grav)
                thr, pitch, yaw = thrust_command(acc, command_mass_kg, p.max_thrust_n, tilt)
                thr = np.minimum(np.maximum(thr, p.min_throttle), 1.0)
            else:
                thr, pitch, yaw, tgo = self._guide_mixed(
                    mode, time_s, altitude, grav, command_mass_kg
                )
        self.time_to_go_s = np.maximum(tgo, 0.0)
        cmd = Commands(
            throttle_pct=100.0 * thr,
            arm=ARMED_MODES[mode],
            fire=FIRING_MODES[mode],
            pitch_deg=np.degrees(pitch),
            yaw_deg=np.degrees(yaw),
        )
        self._last_cmd = cmd
        self._busy_s += time.perf_counter() - t0
        self._cpu_load_pct = 100.0 * self._busy_s / p.period_s
        self._busy_s = 0.0
        return cmd

    def _guide(
        self, mode: int, time_s: float, altitude: FloatArray, grav: FloatArray
    ) -> tuple[FloatArray, FloatArray, float]:
        """Thrust acceleration, time to go and tilt limit when every run is in ``mode``."""
        g = self.params.guidance
        nav = self.nav
        if mode == _BRAKING:
            tgo = self._high_gate_time_s - time_s
            acc = zem_zev_accel(
                nav.position_m,
                nav.velocity_mps,
                self._hg_pos,
                self._hg_vel,
                np.maximum(tgo, g.tgo_floor_s),
                grav,
            )
            return acc, tgo, self._tilt_brake
        if mode == _APPROACH:
            tgo = self._low_gate_time_s - time_s
            acc = zem_zev_accel(
                nav.position_m,
                nav.velocity_mps,
                self._lg_pos,
                self._lg_vel,
                np.maximum(tgo, g.tgo_floor_s),
                grav,
            )
            return acc, tgo, self._tilt_approach
        return (
            terminal_accel(nav.velocity_mps, altitude, grav, g),
            np.zeros(self.n),
            (self._tilt_terminal),
        )

    def _guide_mixed(
        self,
        mode: IntArray,
        time_s: float,
        altitude: FloatArray,
        grav: FloatArray,
        command_mass_kg: FloatArray,
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Throttle, pitch, yaw, time to go for runs in different modes (masks per mode)."""
        p = self.params
        g = p.guidance
        nav = self.nav
        n = self.n
        firing = FIRING_MODES[mode]
        acc = np.zeros((n, 3))
        tilt = np.full(n, self._tilt_brake)
        tgo = np.zeros(n)
        braking = mode == _BRAKING
        if braking.any():
            tgo = np.where(braking, self._high_gate_time_s - time_s, tgo)
            a = zem_zev_accel(
                nav.position_m,
                nav.velocity_mps,
                self._hg_pos,
                self._hg_vel,
                np.maximum(tgo, g.tgo_floor_s),
                grav,
            )
            acc = np.where(braking[:, None], a, acc)
        approach = mode == _APPROACH
        if approach.any():
            tgo = np.where(approach, self._low_gate_time_s - time_s, tgo)
            a = zem_zev_accel(
                nav.position_m,
                nav.velocity_mps,
                self._lg_pos,
                self._lg_vel,
                np.maximum(tgo, g.tgo_floor_s),
                grav,
            )
            acc = np.where(approach[:, None], a, acc)
            tilt = np.where(approach, self._tilt_approach, tilt)
        terminal = mode == _TERMINAL
        if terminal.any():
            a = terminal_accel(nav.velocity_mps, altitude, grav, g)
            acc = np.where(terminal[:, None], a, acc)
            tilt = np.where(terminal, self._tilt_terminal, tilt)
        thr, pitch, yaw = thrust_command(acc, command_mass_kg, p.max_thrust_n, tilt)
        thr = np.where(firing, np.minimum(np.maximum(thr, p.min_throttle), 1.0), 0.0)
        hold = ~firing
        if hold.any():  # keep the last direction when not firing
            pitch = np.where(hold, np.radians(self._last_cmd.pitch_deg), pitch)
            yaw = np.where(hold, np.radians(self._last_cmd.yaw_deg), yaw)
        return thr, pitch, yaw, tgo

    def telemetry(self) -> Telemetry:
        """Snapshot of the per-run state (copies)."""
        nav = self.nav
        pos, vel = nav.position_m, nav.velocity_mps
        return Telemetry(
            time_s=self.time_s,
            mode=self.mode.copy(),
            phase=PHASE_OF_MODE[self.mode],
            altitude_est_m=nav.altitude_m(),
            downrange_m=pos[:, 0].copy(),
            crossrange_m=pos[:, 1].copy(),
            velocity_downrange_mps=vel[:, 0].copy(),
            velocity_crossrange_mps=vel[:, 1].copy(),
            velocity_vertical_mps=vel[:, 2].copy(),
            time_to_go_s=self.time_to_go_s.copy(),
            mass_est_kg=self.mass_est_kg.copy(),
            lrf_accepted=nav.lrf_last_accepted.copy(),
            lrf_rejected=nav.lrf_latched.copy(),
            lrf_accepted_count=nav.lrf_accepted.copy(),
            lrf_rejected_count=nav.lrf_rejected.copy(),
            lrf_reanchor_count=nav.lrf_reanchored.copy(),
            lrf_first_accept_time_s=nav.lrf_first_accept_time_s.copy(),
            cpu_load_pct=self._cpu_load_pct,
            thrust_efficiency=self.thrust.efficiency.copy(),
            vel_accepted=nav.vel_last_accepted.copy(),
            vel_accepted_count=nav.vel_accepted.copy(),
            vel_rejected_count=nav.vel_rejected.copy(),
        )
