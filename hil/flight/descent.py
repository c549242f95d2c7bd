"""Closed-loop powered descent: the bench flies the flight computer over the real links.

The bench side of the loop is the *plant*: truth dynamics (1 ms steps), the IMU, LRF and
propellant-gauge models, and ground contact. The executive runs it as tasks at their rates:

========== ======= ===================================================================
task       rate    what it does
========== ======= ===================================================================
truth      1 kHz   ground contact at each 1 ms truth step; publishes truth signals
imu        400 Hz  IMU frames to the FC (serial line), contact spike after touchdown
lrf        10 Hz   ``LRF_Range`` slant range to the terrain along the beam (CAN)
engine     50 Hz   ``ENG_Status`` from the engine model, ``ENG_Propellant`` at 5 Hz (CAN)
fc         50 Hz   lockstep only: the simulated FC reads what arrived and answers
readback   50 Hz   reads ``ENG_Cmd``/``ACS_Cmd``, checks they are fresh, propagates the
                   next 20 ms of truth with them
telemetry  10 Hz   records truth beside the FC's ``FC_Nav*`` estimate; heartbeat watchdog
procedure  10 Hz   the test conductor: parameters, state-vector uplink, BIT, ARM, PDI
========== ======= ===================================================================

Truth is integrated at 1 ms in 20 ms blocks, one block ahead, with the command the
readback task took at the block's start (the FC commands at 50 Hz), so sensors sample
exactly the 1 ms truth. Nothing crosses between bench and FC in memory: IMU frames go over
the pty, ranges and engine data over CAN, commands come back over CAN, and the procedure
uses the maintenance port.

A run ends at LANDED after touchdown, a touchdown the FC never declares, a lost heartbeat
or silent engine commands (detected within 3 periods), or the time limit; what was
recorded up to then is always written.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hil import __version__
from hil.bench import Bench
from hil.core.clock import SimulatedClock, WallClock
from hil.core.config import BenchConfig
from hil.core.executive import Executive, Stop, Task, TimingReport
from hil.drivers.roles import FC_MODES, EngineStatus
from hil.errors import ConfigError, HilError
from hil.flight.faults import FaultInjector
from hil.flight.kernels import warm_up
from hil.flight.model_only import (
    MAX_HORIZONTAL_SPEED_MPS,
    MAX_TILT_DEG,
    MAX_VERTICAL_SPEED_MPS,
    dispersed_start,
)
from hil.flight.scenario import Scenario
from hil.models import dynamics as dyn
from hil.models.engine import engine_status

BLOCK_S = 0.02
"""Truth block and FC command period."""

BIT_TIME_S = 1.5
ARM_TIME_S = 1.6
HEARTBEAT_PERIOD_S = 0.1
COMMAND_PERIOD_S = 0.02
MISSED_PERIODS = 3
"""A heartbeat or engine command older than this many periods means the FC has stopped."""
POST_CONTACT_S = 3.0
"""How long after ground contact the FC has to declare LANDED."""


# -- the plant -----------------------------------------------------------------------------


@dataclass
class Contact:
    """Truth at the first 1 ms step on or below the terrain."""

    time_s: float
    vertical_speed_mps: float
    horizontal_speed_mps: float
    tilt_deg: float
    propellant_kg: float
    landing_error_m: float
    speed_mps: float


class Plant:
    """Truth dynamics and sensor models of one descent (N = 1), bench side."""

    def __init__(self, scenario: Scenario, seed: int) -> None:
        params = scenario.model
        self.params = params
        self.lander = params.lander
        # the same dispersed lander, start state, terrain and sensor streams as run seed
        # ``seed`` of a model-only batch (hil.flight.model_only.dispersed_start)
        start = dispersed_start(params, scenario.truth_terrain_profile(), [seed])
        self.terrain = start.terrain.profile_of(0)
        self.run_lander = start.lander
        self.dry_mass_kg = float(start.dispersions.lander.dry_mass_kg[0])
        self.uplink_mass_kg = self.lander.wet_mass_kg  # the FC knows the nominal mass
        self.imu = start.imu
        self.lrf = start.lrf
        self.lrf.terrain = self.terrain
        self.gauge = start.gauge
        self.state = start.state
        self.initial_state = self.state.copy()
        self.command = np.zeros((1, dyn.COMMAND_SIZE))
        self.command[0, dyn.CMD_PITCH] = self.state[0, dyn.PITCH]
        self.block_start_s = 0.0
        self.block: dyn.BlockSamples
        self.block_end_state = self.state
        self.imu_times_s: np.ndarray = np.empty(0)
        self.imu_force = np.empty((0, 3))
        self.imu_rate = np.empty((0, 3))
        self.contact: Contact | None = None
        self._spike_pending = False
        self.gauge_kg = float(self.gauge.read(np.array([self.propellant_kg(self.state)]))[0])
        self.advance(0.0)

    def advance(self, start_s: float) -> None:
        """Propagate truth over ``[start_s, start_s + 20 ms]`` with the current command."""
        self.block_start_s = start_s
        if self.contact is not None:  # on the ground: nothing moves any more
            self.block_end_state = self.state
            self.imu_times_s = start_s + np.arange(1, 9) * 0.0025
            self.imu_force = np.tile([0.0, 0.0, self.lander.moon_gravity_mps2], (8, 1))
            self.imu_rate = np.zeros((8, 3))
            if self._spike_pending:
                self.imu_force[0, 2] += self.contact.speed_mps / 0.0025
                self._spike_pending = False
            return
        self.state, self.block = dyn.propagate(
            self.state, self.command, self.lander, 0.001, round(BLOCK_S / 0.001), self.run_lander
        )
        self.block_end_state = self.state
        times_s, force, rate = self.imu.sample(self.block)
        self.imu_times_s = times_s
        self.imu_force = force[0]
        self.imu_rate = rate[0]

    def check_contact(self, instants_s: np.ndarray) -> Contact | None:
        """Look for ground contact at the given 1 ms instants of the current block."""
        if self.contact is not None:
            return self.contact
        index = np.rint((instants_s - self.block_start_s) / 0.001).astype(int) - 1
        index = index[(index >= 0) & (index < self.block.time_s.shape[1])]
        if index.size == 0:
            return None
        position = self.block.position_m[0, index]
        if position[:, 2].min() > self.terrain.max_height_m:
            return None
        altitude = position[:, 2] - self.terrain.height_m(position[:, 0])
        below = np.flatnonzero(altitude <= 0.0)
        if below.size == 0:
            return None
        j = int(index[below[0]])
        block = self.block
        velocity = block.velocity_mps[0, j]
        contact_position = block.position_m[0, j]
        self.contact = Contact(
            time_s=float(block.time_s[0, j]),
            vertical_speed_mps=float(velocity[2]),
            horizontal_speed_mps=float(math.hypot(velocity[0], velocity[1])),
            tilt_deg=float(np.degrees(dyn.tilt_rad(block.pitch_rad[0, j], block.yaw_rad[0, j]))),
            propellant_kg=float(block.mass_kg[0, j] - self.dry_mass_kg),
            landing_error_m=float(math.hypot(contact_position[0], contact_position[1])),
            speed_mps=float(np.linalg.norm(velocity)),
        )
        # Freeze the lander where it touched down.
        frozen = self.state.copy()
        frozen[0, dyn.POS] = contact_position
        frozen[0, dyn.VEL] = 0.0
        frozen[0, dyn.MASS] = block.mass_kg[0, j]
        frozen[0, dyn.THROTTLE] = 0.0
        self.state = frozen
        self._spike_pending = True
        return self.contact

    def altitude_m(self, state: np.ndarray | None = None) -> float:
        s = self.state if state is None else state
        return float(s[0, dyn.Z] - self.terrain.height_m(s[0, dyn.X]))

    def propellant_kg(self, state: np.ndarray | None = None) -> float:
        s = self.block_end_state if state is None else state
        return float(s[0, dyn.MASS] - self.dry_mass_kg)


# -- results -------------------------------------------------------------------------------


@dataclass
class TouchdownCheck:
    quantity: str
    value: float
    limit: str
    unit: str
    passed: bool


@dataclass
class DescentResult:
    scenario: str
    seed: int
    mode: str
    stop_reason: str
    verdict: str
    passed: bool
    contact: Contact | None
    checks: list[TouchdownCheck]
    events: list[tuple[float, str]]
    timing: dict[str, Any]
    fc_final_mode: str
    lrf_first_valid_range_m: float | None
    landed_altitude_error_m: float | None
    out_dir: Path | None = None
    files: dict[str, str] = field(default_factory=dict)
    fault_counts: dict[str, int] = field(default_factory=dict)
    """Faults injected and what the FC detected of them (empty without injections)."""

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data["out_dir"] = str(self.out_dir) if self.out_dir else None
        return data


# -- the run -------------------------------------------------------------------------------


RECORD_COLUMNS = (
    "time_s",
    "true_x_m",
    "true_z_m",
    "true_altitude_m",
    "true_vx_mps",
    "true_vz_mps",
    "true_mass_kg",
    "true_throttle_pct",
    "true_pitch_deg",
    "terrain_height_m",
    "fc_altitude_m",
    "fc_downrange_m",
    "fc_velocity_downrange_mps",
    "fc_velocity_vertical_mps",
    "fc_mode",
    "fc_lrf_accepted",
    "fc_lrf_rejected",
    "cmd_throttle_pct",
    "cmd_pitch_deg",
    "lrf_range_m",
    "lrf_valid",
)


class DescentRun:
    """One descent of ``scenario`` on a bench. ``run()`` returns the result and writes files."""

    def __init__(
        self,
        config: BenchConfig,
        scenario: Scenario,
        seed: int = 0,
        realtime: bool = False,
        out_dir: Path | None = None,
        progress: Callable[[float, float, str], None] | None = None,
        injections: list[Callable[[DescentRun, float], None]] | None = None,
    ) -> None:
        if not realtime and not config.is_simulated:
            hardware = [
                f"{role}: {device.backend}"
                for role, device in config.devices.items()
                if device.backend != "sim"
            ]
            raise ConfigError(
                f"{config.path}: bench {config.name!r} has hardware devices "
                f"({', '.join(hardware)}); lockstep needs simulated devices, use --realtime"
            )
        self.config = config
        self.scenario = scenario
        self.seed = seed
        self.realtime = realtime
        self.out_dir = out_dir
        self.progress = progress
        self.injections = injections or []
        self.plant = Plant(scenario, seed)
        self.faults = FaultInjector(scenario.injections, np.random.default_rng([seed, 0xFA17]))
        self._base_lander = self.plant.lander
        self.events: list[tuple[float, str]] = []
        self.records: list[tuple[float, ...]] = []
        self._lrf_last = (0.0, False)
        self._first_valid_range_m: float | None = None
        self._landed_altitude_error_m: float | None = None
        self._landed_declared_s: float | None = None
        self._started_wall_s = 0.0
        self._procedure_done: set[str] = set()
        self._last_mode = ""
        self._procedure_worker: concurrent.futures.ThreadPoolExecutor | None = None
        self._procedure_pending: concurrent.futures.Future[Stop | None] | None = None
        self.fault_counts: dict[str, int] = {}
        self._lrf_latched = False
        self._propellant_exhausted = False
        self._run_start_clock_s = 0.0

    # -- public ---------------------------------------------------------------------------

    def run(self) -> DescentResult:
        # compile or load the plant's and the FSW's kernels now, not at the first real-time tick
        warm_up()
        clock = WallClock() if self.realtime else SimulatedClock()
        log_path = None
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            log_path = self.out_dir / "bus.blf"
        bench = Bench(self.config, clock=clock, can_log_path=log_path)
        self.bench = bench
        stop_reason = "not started"
        executive: Executive | None = None
        try:
            with bench:
                self._run_start_clock_s = clock.now_s()
                self._attach_faults(bench)
                self._uplink(bench)
                if self.realtime:
                    self._procedure_worker = concurrent.futures.ThreadPoolExecutor(
                        1, thread_name_prefix="hil-procedure"
                    )
                executive = Executive(clock, self._tasks(bench), lockstep_frame_s=BLOCK_S)
                self._started_wall_s = time.perf_counter()
                try:
                    stop_reason = executive.run(0.0, self.scenario.model.max_duration_s)
                finally:
                    if self._procedure_worker is not None:
                        self._procedure_worker.shutdown(wait=True, cancel_futures=True)
                self._report_faults(bench)
        except KeyboardInterrupt:
            stop_reason = "interrupted by the operator"
            self.event("run interrupted by the operator")
            raise
        except HilError as err:
            stop_reason = f"bench error: {err}"
            self.event(stop_reason)
        finally:
            result = self._result(stop_reason, executive.timing if executive else None)
            if self.out_dir is not None:
                self._write_outputs(result)
        return result

    def event(self, text: str, time_s: float | None = None) -> None:
        """Add a line to the run's timeline (simulated seconds since the start)."""
        when = self._now() if time_s is None else time_s
        self.events.append((round(when, 3), text))

    # -- tasks ----------------------------------------------------------------------------

    def _tasks(self, bench: Bench) -> list[Task]:
        tasks = [
            Task("truth", 1000.0, self._truth_task),
            Task("imu", 400.0, self._imu_task),
            Task("lrf", 10.0, self._lrf_task),
            Task("engine", 50.0, self._engine_task),
        ]
        harness = bench.harness
        if not self.realtime and harness is not None:
            device = harness.flight_computer

            def fc_task(instants: np.ndarray) -> None:
                device.read_imu_until(bench.imu.last_written_sequence)
                device.step(bench.clock.now_s())

            tasks.append(Task("fc", 50.0, fc_task))
        tasks += [
            Task("readback", 50.0, self._readback_task),
            Task("telemetry", 10.0, self._telemetry_task),
            Task("procedure", 10.0, self._procedure_task),
        ]
        return tasks

    def _truth_task(self, instants: np.ndarray) -> None:
        plant = self.plant
        had_contact = plant.contact is not None
        contact = plant.check_contact(instants)
        if contact is not None and not had_contact:
            self.event(
                f"ground contact: vertical {contact.vertical_speed_mps:.2f} m/s, horizontal "
                f"{contact.horizontal_speed_mps:.2f} m/s, tilt {contact.tilt_deg:.1f} deg",
                contact.time_s,
            )
        state = plant.state if plant.contact else plant.block_end_state
        self.bench.signals.publish_many(
            {
                "truth.altitude_m": plant.altitude_m(state),
                "truth.downrange_m": float(state[0, dyn.X]),
                "truth.vertical_speed_mps": float(state[0, dyn.VZ]),
                "truth.horizontal_speed_mps": float(abs(state[0, dyn.VX])),
                "truth.propellant_kg": plant.propellant_kg(),
            },
            self.bench.clock.now_s(),
        )

    def _imu_task(self, instants: np.ndarray) -> None:
        if self.faults.is_on("unplug", "imu"):
            return
        plant = self.plant
        index = np.rint((instants - plant.block_start_s) / 0.0025).astype(int) - 1
        index = index[(index >= 0) & (index < plant.imu_times_s.size)]
        if index.size:
            self.bench.imu.send_samples(
                plant.imu_times_s[index], plant.imu_force[index], plant.imu_rate[index]
            )

    def _lrf_task(self, instants: np.ndarray) -> None:
        if self.faults.is_on("unplug", "range_finder"):
            return
        plant = self.plant
        slant_range, valid, strength = plant.lrf.measure(plant.block_end_state)
        range_m, is_valid = float(slant_range[0]), bool(valid[0]) and plant.contact is None
        lrf = plant.lrf.params
        range_m = self.faults.lrf(range_m, is_valid, lrf.noise_m + lrf.noise_fraction * range_m)
        if is_valid and self._first_valid_range_m is None:
            self._first_valid_range_m = range_m
            state = plant.block_end_state
            vx, vy, vz = (float(v) for v in np.ravel(state[..., dyn.VEL]))
            fc_altitude_m = self.bench.signals.value("FC_NavAltitude.Altitude", float("nan"))
            speed_mps = math.sqrt(vx * vx + vy * vy + vz * vz)
            altitude_m = plant.altitude_m(state)
            self.event(
                f"first valid LRF range {range_m:.0f} m at altitude {altitude_m:.0f} m "
                f"(FC estimate {fc_altitude_m:.0f} m); speed {speed_mps:.0f} m/s, "
                f"descending {-vz:.0f} m/s"
            )
        self._lrf_last = (range_m, is_valid)
        self.bench.range_finder.send_range(range_m, is_valid, 100.0 * float(strength[0]))

    def _engine_task(self, instants: np.ndarray) -> None:
        if self.faults.is_on("unplug", "engine"):
            return
        plant = self.plant
        state = plant.block_end_state
        propellant_kg = np.array([plant.propellant_kg()])
        status = engine_status(state[:, dyn.THROTTLE], propellant_kg, plant.lander)
        engine = self.bench.engine
        engine.report_status(
            EngineStatus(
                throttle_actual_pct=float(status.throttle_actual_pct[0]),
                valve_position_pct=float(status.valve_position_pct[0]),
                chamber_pressure_kpa=float(status.chamber_pressure_kpa[0]),
                tank_pressure_kpa=float(status.tank_pressure_kpa[0]),
            )
        )
        tick = round(instants[-1] / COMMAND_PERIOD_S)
        if tick % engine.propellant_every == 0:
            plant.gauge_kg = float(plant.gauge.read(propellant_kg)[0])
            engine.report_propellant(plant.gauge_kg, float(status.tank_temperature_c[0]))

    def _readback_task(self, instants: np.ndarray) -> Stop | None:
        bench = self.bench
        if not self.realtime:
            bench.can.pump()
        for injection in self.injections:
            injection(self, float(instants[-1]))
        self._update_faults(float(instants[-1]))
        command = bench.engine.command()
        now_s = bench.clock.now_s()
        if instants[-1] > 0.1 and not now_s - command.engine_timestamp_s <= (
            MISSED_PERIODS * COMMAND_PERIOD_S + 1e-9
        ):
            return self._stop(
                "FC stopped commanding the engine: no ENG_Cmd for "
                f"{MISSED_PERIODS} periods ({MISSED_PERIODS * COMMAND_PERIOD_S * 1000:.0f} ms)"
            )
        plant = self.plant
        firing = command.arm and command.fire
        plant.command[0, dyn.CMD_THROTTLE] = command.throttle_pct / 100.0 if firing else 0.0
        plant.command[0, dyn.CMD_PITCH] = math.radians(command.pitch_deg)
        thrust_scale, side_deg = self.faults.engine()
        plant.command[0, dyn.CMD_YAW] = math.radians(command.yaw_deg + side_deg)
        if plant.lander.max_thrust_n != self._base_lander.max_thrust_n * thrust_scale:
            plant.lander = dataclasses.replace(
                self._base_lander, max_thrust_n=self._base_lander.max_thrust_n * thrust_scale
            )
        plant.advance(float(instants[-1]))
        return None

    def _telemetry_task(self, instants: np.ndarray) -> Stop | None:
        bench = self.bench
        signals = bench.signals
        now_s = bench.clock.now_s()
        plant = self.plant
        state = plant.block_end_state
        heartbeat = signals.latest("FC_Heartbeat.Mode")
        mode_index = int(heartbeat.value) if heartbeat else 1
        mode = FC_MODES[mode_index] if 0 <= mode_index < len(FC_MODES) else "?"
        altitude_m = plant.altitude_m(state)
        fc_altitude_m = signals.value("FC_NavAltitude.Altitude")
        self.records.append(
            (
                float(instants[-1]),
                float(state[0, dyn.X]),
                float(state[0, dyn.Z]),
                altitude_m,
                float(state[0, dyn.VX]),
                float(state[0, dyn.VZ]),
                float(state[0, dyn.MASS]),
                100.0 * float(state[0, dyn.THROTTLE]),
                math.degrees(float(state[0, dyn.PITCH])),
                float(plant.terrain.height_m(state[0, dyn.X])),
                fc_altitude_m,
                signals.value("FC_NavPosition.Downrange"),
                signals.value("FC_NavVelocity.VelocityDownrange"),
                signals.value("FC_NavVelocity.VelocityVertical"),
                float(mode_index),
                signals.value("FC_Heartbeat.LrfAccepted", 0.0),
                signals.value("FC_Heartbeat.LrfRejected", 0.0),
                signals.value("ENG_Cmd.ThrottleCmd", 0.0),
                signals.value("ACS_Cmd.ThrustPitch", 0.0),
                self._lrf_last[0],
                float(self._lrf_last[1]),
            )
        )
        if self.progress is not None:
            self.progress(float(instants[-1]), altitude_m, mode)
        if instants[-1] > 0.5 and (
            heartbeat is None
            or now_s - heartbeat.timestamp_s > MISSED_PERIODS * HEARTBEAT_PERIOD_S + 1e-9
        ):
            return self._stop(
                f"FC heartbeat lost: none for {MISSED_PERIODS} periods "
                f"({MISSED_PERIODS * HEARTBEAT_PERIOD_S:.1f} s)"
            )
        self._note_mode(mode, altitude_m, fc_altitude_m)
        self._note_findings(signals, altitude_m, fc_altitude_m)
        contact = plant.contact
        if contact is not None:
            if mode == "LANDED":
                return Stop("landed")
            if instants[-1] - contact.time_s > POST_CONTACT_S:
                return self._stop(f"touchdown, but the FC had not declared LANDED ({mode})")
        return None

    def _note_mode(self, mode: str, altitude_m: float, fc_altitude_m: float) -> None:
        if mode == self._last_mode:
            return
        self._last_mode = mode
        self.event(
            f"FC mode {mode} at altitude {altitude_m:.0f} m (FC estimate {fc_altitude_m:.0f} m)"
        )
        if mode == "LANDED" and self._landed_declared_s is None:
            self._landed_declared_s = self._now()
            self._landed_altitude_error_m = fc_altitude_m - altitude_m

    def _note_findings(self, signals: Any, altitude_m: float, fc_altitude_m: float) -> None:
        """Events an engineer reads the run by: LRF rejected for good, propellant gone."""
        if not self._lrf_latched and signals.value("FC_Heartbeat.LrfRejected", 0.0) >= 0.5:
            self._lrf_latched = True
            self.event(
                f"FC rejected the LRF for good at altitude {altitude_m:.0f} m "
                f"(FC estimate {fc_altitude_m:.0f} m, error {fc_altitude_m - altitude_m:+.0f} m)"
            )
        if not self._propellant_exhausted and self.plant.propellant_kg() <= 0.0:
            self._propellant_exhausted = True
            self.event(
                f"propellant exhausted at altitude {altitude_m:.0f} m "
                f"(FC estimate {fc_altitude_m:.0f} m)"
            )

    def _procedure_task(self, instants: np.ndarray) -> Stop | None:
        """The test conductor: BIT, ARM, then PDI over the maintenance port.

        In lockstep each command runs here, at its simulated time. In real time a command
        goes to a worker thread, so the 1 kHz loop never waits on the maintenance port; its
        outcome is taken up on a later tick.
        """
        t = float(instants[-1])
        pending = self._procedure_pending
        if pending is not None:
            if not pending.done():
                return None
            self._procedure_pending = None
            stop = pending.result()
            if stop is not None:
                return stop
        for step, due_s, action in self._procedure_steps():
            if t >= due_s and step not in self._procedure_done:
                self._procedure_done.add(step)
                if self._procedure_worker is None:
                    return action()
                self._procedure_pending = self._procedure_worker.submit(action)
                return None
        return None

    def _procedure_steps(self) -> list[tuple[str, float, Callable[[], Stop | None]]]:
        fc = self.bench.flight_computer

        def bit() -> Stop | None:
            report = fc.run_bit()
            failed = ", ".join(report.failed_items)
            self.event("BIT " + ("passed" if report.passed else f"FAILED: {failed}"))
            return None if report.passed else self._stop(f"BIT failed: {failed}")

        def arm() -> None:
            fc.arm()
            self.event("FC armed")

        def pdi() -> None:
            fc.set_mode("BRAKING")
            self.event(f"powered descent initiated at altitude {self.plant.altitude_m():.0f} m")

        return [
            ("bit", BIT_TIME_S, bit),
            ("arm", ARM_TIME_S, arm),
            ("pdi", self.scenario.model.coast_s, pdi),
        ]

    def _attach_faults(self, bench: Bench) -> None:
        """Hook the scenario's injections into the bench's links."""
        kinds = {injection.kind for injection in self.faults.injections}
        if kinds & {"can_loss", "can_corrupt", "bus_off"}:
            bench.can.tx_fault = self.faults.can_tx
        if kinds & {"serial_errors", "imu_drop"}:
            link = getattr(bench.imu, "link", None)
            if link is None:
                raise ConfigError(f"{self.scenario.path}: IMU backend cannot inject line faults")
            link.tx_fault = self.faults.serial_tx

    def _update_faults(self, time_s: float) -> None:
        if not self.faults.injections:
            return
        heartbeat = self.bench.signals.latest("FC_Heartbeat.Mode")
        mode = FC_MODES[int(heartbeat.value)] if heartbeat else "STANDBY"
        for change in self.faults.update(time_s, self.plant.altitude_m(), mode):
            self.event(change)

    def _report_faults(self, bench: Bench) -> None:
        """Compare what was injected with what the FC says it detected (its STATUS)."""
        if not self.faults.injections:
            return
        injected = self.faults.injected
        can_lost = sum(v for k, v in injected.items() if k.startswith(("can_loss", "bus_off")))
        can_corrupt = sum(v for k, v in injected.items() if k.startswith("can_corrupt"))
        self.fault_counts = {
            "injected_can_lost": can_lost,
            "injected_can_corrupt": can_corrupt,
            "injected_imu_corrupt": injected["serial_errors"],
            "injected_imu_dropped": injected["imu_drop"],
            "injected_lrf_outliers": injected["lrf_outlier"],
        }
        harness = bench.harness
        if harness is not None and harness.flight_computer.hung:
            self.event("faults: FC not answering, detection counts not read")
            return
        try:
            status = bench.flight_computer.status()
        except HilError as err:
            self.event(f"faults: FC STATUS failed: {err}")
            return
        detected = {
            "detected_can_gaps": int(status.get("CAN_GAPS", "-1")),
            "detected_can_crc": int(status.get("CAN_CRC", "-1")),
            "detected_imu_bad": int(status.get("IMU_BAD", "-1")),
            "detected_imu_gaps": int(status.get("IMU_GAPS", "-1")),
        }
        self.fault_counts.update(detected)
        self.event(
            f"faults injected: {can_lost} CAN frames lost, {can_corrupt} CAN CRCs corrupted, "
            f"{injected['serial_errors']} IMU frames corrupted, {injected['imu_drop']} IMU "
            f"frames dropped; FC detected: {detected['detected_can_gaps']} CAN counter gaps, "
            f"{detected['detected_can_crc']} CAN CRC failures, {detected['detected_imu_bad']} "
            f"bad IMU frames, {detected['detected_imu_gaps']} IMU sequence gaps"
        )

    def _uplink(self, bench: Bench) -> None:
        """Before the clock starts: FC parameters of the scenario, then the state vector."""
        fc = bench.flight_computer
        for name, value in self.scenario.fc_parameters.items():
            fc.set_param(name, value)
        fc.set_param("TERRAIN_MAP", self.scenario.fc_terrain_map)
        fc.command("STATE", *self._state_vector(0.0))
        self.event("FC parameters set, state vector uplinked", 0.0)

    def _state_vector(self, time_s: float) -> list[str]:
        """The navigation state the ground would uplink: truth plus the scenario's error."""
        state = self.plant.initial_state[0]
        errors = self.scenario.model.errors
        position = state[dyn.POS] + np.array(
            [errors.downrange_m, errors.crossrange_m, errors.altitude_m]
        )
        velocity = state[dyn.VEL] + np.array(errors.velocity_mps)
        values = [
            time_s,
            *position,
            *velocity,
            self.plant.uplink_mass_kg,
            math.degrees(state[dyn.PITCH]),
            math.degrees(state[dyn.YAW]),
        ]
        return [f"{value:.6f}" for value in values]

    # -- helpers --------------------------------------------------------------------------

    def _now(self) -> float:
        return self.bench.clock.now_s() - self._run_start_clock_s if hasattr(self, "bench") else 0.0

    def _stop(self, reason: str) -> Stop:
        self.event(reason)
        return Stop(reason)

    def _result(self, stop_reason: str, timing: TimingReport | None) -> DescentResult:
        contact = self.plant.contact
        checks: list[TouchdownCheck] = []
        if contact is not None:
            checks = [
                TouchdownCheck(
                    "vertical speed",
                    abs(contact.vertical_speed_mps),
                    f"<= {MAX_VERTICAL_SPEED_MPS:g}",
                    "m/s",
                    abs(contact.vertical_speed_mps) <= MAX_VERTICAL_SPEED_MPS,
                ),
                TouchdownCheck(
                    "horizontal speed",
                    contact.horizontal_speed_mps,
                    f"<= {MAX_HORIZONTAL_SPEED_MPS:g}",
                    "m/s",
                    contact.horizontal_speed_mps <= MAX_HORIZONTAL_SPEED_MPS,
                ),
                TouchdownCheck(
                    "tilt",
                    contact.tilt_deg,
                    f"<= {MAX_TILT_DEG:g}",
                    "deg",
                    contact.tilt_deg <= MAX_TILT_DEG,
                ),
                TouchdownCheck(
                    "propellant left", contact.propellant_kg, "> 0", "kg", contact.propellant_kg > 0
                ),
            ]
        passed = (
            contact is not None
            and stop_reason == "landed"
            and all(check.passed for check in checks)
        )
        verdict = self._verdict(stop_reason, contact, checks, passed)
        heartbeat = (
            self.bench.signals.latest("FC_Heartbeat.Mode") if hasattr(self, "bench") else None
        )
        fc_mode = FC_MODES[int(heartbeat.value)] if heartbeat else "unknown"
        timing_summary: dict[str, Any] = {}
        if timing is not None:
            timing_summary = {
                "simulated_s": timing.simulated_s,
                "wall_s": timing.wall_s,
                "real_time_factor": timing.real_time_factor,
                "frames": float(timing.frames),
                "overruns": float(timing.overruns),
                "lateness_p50_ms": 1000 * timing.percentile_s(50),
                "lateness_p99_ms": 1000 * timing.percentile_s(99),
                "lateness_max_ms": 1000 * float(timing.lateness_s.max())
                if timing.lateness_s.size
                else 0.0,
                "priority": timing.priority,
            }
        return DescentResult(
            scenario=self.scenario.name,
            seed=self.seed,
            mode="realtime" if self.realtime else "lockstep",
            stop_reason=stop_reason,
            verdict=verdict,
            passed=passed,
            contact=contact,
            checks=checks,
            events=list(self.events),
            timing=timing_summary,
            fc_final_mode=fc_mode,
            lrf_first_valid_range_m=self._first_valid_range_m,
            fault_counts=dict(self.fault_counts),
            landed_altitude_error_m=self._landed_altitude_error_m,
            out_dir=self.out_dir,
        )

    def _verdict(
        self, stop_reason: str, contact: Contact | None, checks: list[TouchdownCheck], passed: bool
    ) -> str:
        if passed and contact is not None:
            return (
                f"PASS: landed {contact.landing_error_m:.0f} m from the site at "
                f"{abs(contact.vertical_speed_mps):.2f} m/s vertical, "
                f"{contact.horizontal_speed_mps:.2f} m/s horizontal, "
                f"tilt {contact.tilt_deg:.1f} deg, "
                f"{contact.propellant_kg:.1f} kg propellant left"
            )
        parts = [stop_reason]
        failed = [check for check in checks if not check.passed]
        parts += [f"{c.quantity} {c.value:.2f} {c.unit} (limit {c.limit})" for c in failed]
        if contact is None:
            parts.append(f"no touchdown; truth altitude {self.plant.altitude_m():.0f} m")
        else:
            parts.append(f"impact {contact.speed_mps:.1f} m/s")
        # The findings of the timeline, in the order they happened.
        keys = (
            "first valid LRF range",
            "FC rejected the LRF",
            "FC mode LANDED",
            "propellant exhausted",
        )
        parts += [f"{text} (t={t:.1f} s)" for t, text in self.events if text.startswith(keys)]
        return "FAIL: " + "; ".join(parts)

    def _write_outputs(self, result: DescentResult) -> None:
        assert self.out_dir is not None
        out = self.out_dir
        table = np.array(self.records, dtype=np.float64).reshape(-1, len(RECORD_COLUMNS))
        columns: dict[str, Any] = {name: table[:, i] for i, name in enumerate(RECORD_COLUMNS)}
        np.savez_compressed(out / "trajectory.npz", **columns)
        np.savetxt(
            out / "trajectory.csv",
            table,
            delimiter=",",
            header=",".join(RECORD_COLUMNS),
            comments="",
            fmt="%.6g",
        )
        result.files = {
            "trajectory": "trajectory.npz",
            "trajectory_csv": "trajectory.csv",
            "bus_log": "bus.blf",
            "summary": "summary.json",
        }
        try:
            from hil.flight.plots import descent_profile_png

            descent_profile_png(table, RECORD_COLUMNS, out / "profile.png", title=result.verdict)
            result.files["profile"] = "profile.png"
        except Exception as err:  # a plot must never cost the run its record
            self.events.append((self._now(), f"profile plot not written: {err}"))
        summary = result.summary()
        summary["software_version"] = __version__
        summary["bench"] = str(self.config.path)
        (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
