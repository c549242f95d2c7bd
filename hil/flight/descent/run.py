"""Closed-loop powered descent: the bench flies the flight computer over the real links.

``DescentRun`` is given an opened bench and flies it: in lockstep when the bench runs on a
simulated clock (every device simulated, stepped by the executive), in real time otherwise.
The CLI, the cards, the GUI session and full-stack campaign runs all fly through it. The
bench side of the loop is the *plant* (:mod:`~hil.flight.descent.plant`); the executive runs
it as tasks at their rates:

========== ======= ===================================================================
task       rate    what it does
========== ======= ===================================================================
truth      1 kHz   ground contact at each 1 ms truth step; publishes truth signals
imu        400 Hz  IMU frames to the FC (serial line), contact spike after touchdown
lrf        10 Hz   ``LRF_Range`` slant range to the terrain along the beam (CAN)
vel        10 Hz   ``VEL_Velocity`` velocimeter: body-axis velocity over the surface (CAN)
engine     50 Hz   ``ENG_Status`` from the engine model, ``ENG_Propellant`` at 5 Hz (CAN)
step       50 Hz   lockstep only: the bench's steppable devices read what arrived and answer
readback   50 Hz   reads ``ENG_Cmd``/``ACS_Cmd``, checks they are fresh, propagates the
                   next 20 ms of truth with them
telemetry  10 Hz   records truth beside the FC's ``FC_Nav*`` estimate; heartbeat watchdog;
                   notes the findings the verdict is built from
procedure  10 Hz   the test conductor: BIT, ARM, PDI (:mod:`~hil.flight.descent.conductor`)
========== ======= ===================================================================

Nothing crosses between bench and FC in memory: IMU frames go over the serial line, ranges
and engine data over CAN, commands come back over CAN, and the conductor uses the
maintenance port. A run ends at LANDED after touchdown, a touchdown the FC never declares, a
lost heartbeat or silent engine commands (detected within 3 periods), or the time limit;
what was recorded up to then is always written.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hil.bench import Bench
from hil.core.clock import SimulatedClock, WallClock
from hil.core.config import BenchConfig
from hil.core.executive import Executive, Stop, Task, TimingReport
from hil.drivers.roles import EngineStatus
from hil.errors import Cancelled, HilError, LinkError
from hil.flight.descent.conductor import TestConductor
from hil.flight.descent.fc_reports import abort_finding, fault_report
from hil.flight.descent.overload import OverloadWatch
from hil.flight.descent.plant import BLOCK_S, Plant
from hil.flight.descent.recorder import (
    FlightRecorder,
    bus_log_notes,
    spread_ms,
    timing_summary,
    write_outputs,
    write_profile,
)
from hil.flight.descent.result import (
    FIRST_VALID_LRF,
    LANDED_DECLARED,
    LRF_REJECTED,
    PROPELLANT_EXHAUSTED,
    DescentResult,
    Finding,
    verdict,
)
from hil.flight.faults import FaultInjector
from hil.flight.kernels import warm_up
from hil.flight.scenario import Scenario
from hil.flight.touchdown import touchdown_checks
from hil.models import dynamics as dyn
from hil.models.engine import engine_status
from hil.protocol.icd import MESSAGE_PERIODS_S, mode_name

HEARTBEAT_PERIOD_S = MESSAGE_PERIODS_S["FC_Heartbeat"]
COMMAND_PERIOD_S = MESSAGE_PERIODS_S["ENG_Cmd"]
MISSED_PERIODS = 3
"""A heartbeat or engine command older than this many periods means the FC has stopped."""
POST_CONTACT_S = 3.0
"""How long after ground contact the FC has to declare LANDED."""

Injection = Callable[["DescentRun", float], None]
"""Called at 50 Hz with the run and its time (s): fault injections, a GUI's feed."""


def descent_bench(config: BenchConfig, *, realtime: bool, out_dir: Path | None = None) -> Bench:
    """A bench (not yet open) to fly a descent on: a simulated clock for lockstep, the wall
    clock for real time; the bus log goes to ``out_dir/bus.blf``. Lockstep on a bench with
    hardware devices is a ``ConfigError`` naming them."""
    log_path = None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        log_path = out_dir / "bus.blf"
    clock = WallClock() if realtime else SimulatedClock()
    return Bench(config, clock=clock, can_log_path=log_path)


def fly(
    config: BenchConfig,
    scenario: Scenario,
    *,
    seed: int = 0,
    realtime: bool = False,
    out_dir: Path | None = None,
    **options: Any,
) -> DescentResult:
    """Open a bench for ``config`` (``descent_bench``), fly one descent on it, close it."""
    with descent_bench(config, realtime=realtime, out_dir=out_dir) as bench:
        return DescentRun(bench, scenario, seed=seed, out_dir=out_dir, **options).run()


class DescentRun:
    """One descent of ``scenario`` on an opened ``bench``. ``run()`` returns the result and
    writes the files of ``out_dir`` (``plot=False`` leaves the profile plot to
    ``write_profile``).

    ``progress(time_s, altitude_m, mode)`` is called at 10 Hz; each ``injections`` hook at
    50 Hz. ``pause_gc`` turns the garbage collector off while a real-time loop runs. Raises
    ``ConfigError`` when a scenario's injection needs a link the bench's backend lacks.
    """

    def __init__(
        self,
        bench: Bench,
        scenario: Scenario,
        seed: int = 0,
        out_dir: Path | None = None,
        progress: Callable[[float, float, str], None] | None = None,
        injections: list[Injection] | None = None,
        plot: bool = True,
        pause_gc: bool = False,
    ) -> None:
        self.bench = bench
        self.scenario = scenario
        self.seed = seed
        self.realtime = not bench.lockstep
        self.out_dir = out_dir
        self.progress = progress
        self.injections = injections or []
        self.plot = plot
        self.pause_gc = pause_gc
        self.plant = Plant(scenario, seed)
        self.faults = FaultInjector(scenario.injections, np.random.default_rng([seed, 0xFA17]))
        self._base_lander = self.plant.lander
        self.events: list[tuple[float, str]] = []
        self.findings: list[Finding] = []
        self.recorder = FlightRecorder()
        self.fault_counts: dict[str, int] = {}
        self._lrf_last = (0.0, False)
        self._last_mode = ""
        self._abort_s: float | None = None
        self._heartbeat_lost = False
        self._start_clock_s: float | None = None
        self._executive: Executive | None = None
        self._conductor: TestConductor | None = None
        self.link_error: str | None = None
        self._imu_write_delays_s: list[float] = []
        self._status_before: dict[str, str] = {}
        self._overload = OverloadWatch(self.faults, bench.flight_computer, self.find)
        self._stalls = 0
        self._command_ages_s: list[float] = []
        """What went away, when a link error ended the run."""

    # -- public ---------------------------------------------------------------------------

    def run(self) -> DescentResult:
        # compile or load the numba kernels now, not at the first real-time tick
        warm_up()
        bench = self.bench
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        stop_reason = "not started"
        executive: Executive | None = None
        try:
            self._start_clock_s = bench.clock.now_s()
            self.faults.attach(bench.can, bench.imu, str(self.scenario.path))
            self._conductor = TestConductor(
                bench.flight_computer,
                self.scenario,
                self.plant,
                self.event,
                self._stop,
                realtime=self.realtime,
            )
            self._conductor.uplink()
            if self.faults.injections:
                self._status_before = bench.flight_computer.status()
            self.event("FC parameters set, state vector uplinked", 0.0)
            executive = Executive(
                bench.clock,
                self._tasks(),
                lockstep_frame_s=BLOCK_S,
                pause_gc=self.pause_gc,
                realtime=bench.config.realtime,
            )
            self._executive = executive
            try:
                stop_reason = executive.run(0.0, self.scenario.model.max_duration_s)
            finally:
                self._conductor.close()
            self._report_faults()
            self._report_abort()
        except KeyboardInterrupt:
            stop_reason = "interrupted by the operator"
            self.event("run interrupted by the operator")
            raise
        except Cancelled as err:  # the operator stopped the run: no fault of the bench
            stop_reason = str(err)
            self.event(stop_reason)
        except LinkError as err:  # a port or the CAN interface went away
            self.link_error = str(err)
            stop_reason = f"interrupted by a link error: {err}"
            self.event(stop_reason)
        except HilError as err:
            stop_reason = f"bench error: {err}"
            self.event(stop_reason)
        finally:
            result = self._result(stop_reason, executive.timing if executive else None)
            if stop_reason != "landed" and self.link_error is None and self._conductor:
                self._conductor.make_safe()
            if self.out_dir is not None:
                write_outputs(
                    self.out_dir,
                    result,
                    self.trajectory(),
                    self.bench.config.path,
                    self.plot,
                    bus_log_notes(self.bench.can),
                )
        return result

    def elapsed_s(self) -> float:
        """Run time now: seconds on the bench's clock since the executive's run time 0 (since
        the run started, before the executive runs; 0 before that)."""
        executive = self._executive
        if executive is not None and executive.origin_s is not None:
            return self.bench.clock.now_s() - executive.origin_s
        if self._start_clock_s is None:
            return 0.0
        return self.bench.clock.now_s() - self._start_clock_s

    def trajectory(self) -> np.ndarray:
        """What the recorder holds: rows of ``RECORD_COLUMNS``."""
        return self.recorder.table()

    def write_profile(self, result: DescentResult) -> None:
        """Draw the profile plot of a finished run into its ``out_dir`` (when ``plot=False``
        deferred it, e.g. to a GUI thread)."""
        if self.out_dir is not None:
            write_profile(self.out_dir, result, self.trajectory())

    def event(self, text: str, time_s: float | None = None) -> None:
        """Add a line to the run's timeline (seconds since the start)."""
        when = self.elapsed_s() if time_s is None else time_s
        self.events.append((round(when, 3), text))

    def find(self, kind: str, text: str, **values: float) -> None:
        """Note a finding now: into the findings and, as its text, into the timeline."""
        when = round(self.elapsed_s(), 3)
        self.findings.append(Finding(kind, when, text, values))
        self.events.append((when, text))

    # -- tasks ----------------------------------------------------------------------------

    def _tasks(self) -> list[Task]:
        tasks = [
            Task("truth", 1000.0, self._truth_task),
            Task("imu", 400.0, self._imu_task),
            Task("lrf", 10.0, self._lrf_task),
            Task("vel", 10.0, self._vel_task),
            Task("engine", 50.0, self._engine_task),
        ]
        if not self.realtime:
            steppers = self.bench.steppers
            clock = self.bench.clock

            def step_task(instants: np.ndarray) -> None:
                now_s = clock.now_s()
                for device in steppers:
                    device.step(now_s)

            tasks.append(Task("step", 50.0, step_task))
        assert self._conductor is not None
        tasks += [
            Task("readback", 50.0, self._readback_task),
            Task("telemetry", 10.0, self._telemetry_task),
            Task("procedure", 10.0, self._conductor.task),
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
            if self.realtime:  # each frame's due instant until its bytes were written
                self._imu_write_delays_s.extend((self.elapsed_s() - instants).tolist())

    def _lrf_task(self, instants: np.ndarray) -> None:
        if self.faults.is_on("unplug", "range_finder"):
            return
        plant = self.plant
        slant_range, valid, strength = plant.lrf.measure(plant.block_end_state)
        range_m, is_valid = float(slant_range[0]), bool(valid[0]) and plant.contact is None
        lrf = plant.lrf.params
        range_m = self.faults.lrf(range_m, is_valid, lrf.noise_m + lrf.noise_fraction * range_m)
        if is_valid and self.findings_of(FIRST_VALID_LRF) is None:
            state = plant.block_end_state
            vx, vy, vz = (float(v) for v in np.ravel(state[..., dyn.VEL]))
            fc_altitude_m = self.bench.signals.value("FC_NavAltitude.Altitude", float("nan"))
            speed_mps = math.sqrt(vx * vx + vy * vy + vz * vz)
            altitude_m = plant.altitude_m(state)
            self.find(
                FIRST_VALID_LRF,
                f"first valid LRF range {range_m:.0f} m at altitude {altitude_m:.0f} m "
                f"(FC estimate {fc_altitude_m:.0f} m); speed {speed_mps:.0f} m/s, "
                f"descending {-vz:.0f} m/s",
                range_m=range_m,
                altitude_m=altitude_m,
                fc_altitude_m=fc_altitude_m,
                speed_mps=speed_mps,
                descent_rate_mps=-vz,
            )
        self._lrf_last = (range_m, is_valid)
        self.bench.range_finder.send_range(range_m, is_valid, 100.0 * float(strength[0]))

    def _vel_task(self, instants: np.ndarray) -> None:
        plant = self.plant  # measured even when unplugged: its stream stays the model-only one
        velocity, valid = plant.vel.measure(plant.block_end_state)
        if self.faults.is_on("unplug", "velocimeter"):
            return
        reading = (float(velocity[0, 0]), float(velocity[0, 1]), float(velocity[0, 2]))
        reading, ok = self.faults.vel(reading, bool(valid[0]) and plant.contact is None)
        self.bench.velocimeter.send_velocity(reading, ok)

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
        bench.can.raise_if_failed()
        for injection in self.injections:
            injection(self, float(instants[-1]))
        self._update_faults(float(instants[-1]))
        command = bench.engine.command()
        now_s = bench.clock.now_s()
        if self.realtime and instants[-1] > 0.1:  # how old the command flying this block is
            self._command_ages_s.append(now_s - command.engine_timestamp_s)
        if (
            instants[-1] > 0.1
            and not now_s - command.engine_timestamp_s <= MISSED_PERIODS * COMMAND_PERIOD_S + 1e-9
            and not self._bench_stalled()
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
        mode = mode_name(mode_index)
        altitude_m = plant.altitude_m(state)
        fc_altitude_m = signals.value("FC_NavAltitude.Altitude")
        self.recorder.append(
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
            or (
                now_s - heartbeat.timestamp_s > MISSED_PERIODS * HEARTBEAT_PERIOD_S + 1e-9
                and not self._bench_stalled()
            )
        ):
            self._heartbeat_lost = True
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

    def _bench_stalled(self) -> bool:
        """True when the bench itself is behind, so silence from the FC is judged at the next
        check instead: this frame started more than a command period late, or frames have
        arrived on the CAN interface that the bench's receive path has not taken in yet. FC
        frames are timed by their monotonic receive time, so once taken in they are fresh."""
        executive = self._executive
        if executive is not None and executive.late_s > COMMAND_PERIOD_S:
            self._stalls += 1
            return True
        if self.realtime and self.bench.can.frames_waiting():
            self._stalls += 1
            return True
        return False

    def findings_of(self, kind: str) -> Finding | None:
        """The first finding of ``kind`` so far, or None."""
        return next((item for item in self.findings if item.kind == kind), None)

    def _note_mode(self, mode: str, altitude_m: float, fc_altitude_m: float) -> None:
        if mode == self._last_mode:
            return
        self._last_mode = mode
        if mode == "ABORT" and self._abort_s is None:
            self._abort_s = round(self.elapsed_s(), 3)
        text = f"FC mode {mode} at altitude {altitude_m:.0f} m (FC estimate {fc_altitude_m:.0f} m)"
        if mode == "LANDED" and self.findings_of(LANDED_DECLARED) is None:
            self.find(
                LANDED_DECLARED,
                text,
                altitude_m=altitude_m,
                fc_altitude_m=fc_altitude_m,
                altitude_error_m=fc_altitude_m - altitude_m,
            )
        else:
            self.event(text)

    def _note_findings(self, signals: Any, altitude_m: float, fc_altitude_m: float) -> None:
        """Findings an engineer reads the run by: LRF rejected for good, propellant gone."""
        if (
            signals.value("FC_Heartbeat.LrfRejected", 0.0) >= 0.5
            and self.findings_of(LRF_REJECTED) is None
        ):
            self.find(
                LRF_REJECTED,
                f"FC rejected the LRF for good at altitude {altitude_m:.0f} m "
                f"(FC estimate {fc_altitude_m:.0f} m, error {fc_altitude_m - altitude_m:+.0f} m)",
                altitude_m=altitude_m,
                fc_altitude_m=fc_altitude_m,
            )
        if self.plant.propellant_kg() <= 0.0 and self.findings_of(PROPELLANT_EXHAUSTED) is None:
            self.find(
                PROPELLANT_EXHAUSTED,
                f"propellant exhausted at altitude {altitude_m:.0f} m "
                f"(FC estimate {fc_altitude_m:.0f} m)",
                altitude_m=altitude_m,
                fc_altitude_m=fc_altitude_m,
            )

    # -- faults ---------------------------------------------------------------------------

    def _update_faults(self, time_s: float) -> None:
        if not self.faults.injections:
            return
        heartbeat = self.bench.signals.latest("FC_Heartbeat.Mode")
        mode = mode_name(heartbeat.value) if heartbeat else "STANDBY"
        altitude_m = self.plant.altitude_m()
        for change in self.faults.update(time_s, altitude_m, mode):
            self.event(change)
        for change in self._overload.update(time_s, altitude_m):
            self.event(change)

    def _report_faults(self) -> None:
        if self.faults.injections:
            self.fault_counts, lines = fault_report(
                self.bench.flight_computer,
                self.faults,
                self._status_before,
                self._overload,
                fc_answering=not self._heartbeat_lost,
            )
            for line in lines:
                self.event(line)

    def _report_abort(self) -> None:
        if self._abort_s is not None and not self._heartbeat_lost:
            finding = abort_finding(self.bench.flight_computer, self._abort_s)
            self.findings.append(finding)
            # into the timeline beside the mode change it explains
            bisect.insort(self.events, (finding.time_s, finding.text), key=lambda e: e[0])

    # -- the result -----------------------------------------------------------------------

    def _stop(self, reason: str) -> Stop:
        self.event(reason)
        return Stop(reason)

    def _result(self, stop_reason: str, timing: TimingReport | None) -> DescentResult:
        contact = self.plant.contact
        checks = []
        if contact is not None:
            checks = touchdown_checks(
                contact.vertical_speed_mps,
                contact.horizontal_speed_mps,
                contact.tilt_deg,
                contact.propellant_kg,
            )
        passed = (
            contact is not None
            and stop_reason == "landed"
            and all(check.passed for check in checks)
        )
        heartbeat = self.bench.signals.latest("FC_Heartbeat.Mode")
        first_valid = self.findings_of(FIRST_VALID_LRF)
        landed = self.findings_of(LANDED_DECLARED)
        return DescentResult(
            scenario=self.scenario.name,
            seed=self.seed,
            mode="realtime" if self.realtime else "lockstep",
            stop_reason=stop_reason,
            verdict=verdict(
                stop_reason, contact, checks, passed, self.findings, self.plant.altitude_m()
            ),
            passed=passed,
            contact=contact,
            checks=checks,
            events=list(self.events),
            timing={
                **timing_summary(timing),
                **spread_ms("imu_write_delay", self._imu_write_delays_s),
                **spread_ms("command_age", self._command_ages_s),
                "bench_stalls": float(self._stalls),
            },
            fc_final_mode=mode_name(heartbeat.value) if heartbeat else "unknown",
            lrf_first_valid_range_m=first_valid.values["range_m"] if first_valid else None,
            fault_counts=dict(self.fault_counts),
            landed_altitude_error_m=landed.values["altitude_error_m"] if landed else None,
            out_dir=self.out_dir,
            findings=list(self.findings),
            link_error=self.link_error,
        )
