"""The test conductor of a descent: what the ground does to the flight computer.

Before the clock starts it uplinks the scenario's FC parameters, the onboard terrain map's
name and the state vector (truth plus the scenario's navigation error). Then, as the
``procedure`` task at 10 Hz, it runs the FC's BIT, arms it and initiates powered descent at
the scenario's coast time, all over the maintenance port. In lockstep each command runs at
its simulated time; in real time a command goes to a worker thread, so the 1 kHz loop never
waits on the maintenance port, and its outcome is taken up on a later tick.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import math
from collections.abc import Callable

import numpy as np

from hil.core.executive import Stop
from hil.drivers.roles import FlightComputer
from hil.errors import HilError
from hil.flight.descent.plant import Plant
from hil.flight.scenario import Scenario
from hil.fsw.parameters import FSW_PARAMETERS
from hil.models import dynamics as dyn
from hil.protocol.parameters import PARAMETERS, format_value

BIT_TIME_S = 1.5
ARM_TIME_S = 1.6

Step = tuple[str, float, Callable[[], Stop | None]]


class TestConductor:
    """Drives ``fc`` through one descent. ``event(text)`` adds to the run's timeline and
    ``stop(reason)`` ends the run with that reason. ``close()`` ends the worker thread."""

    __test__ = False  # not a pytest class

    def __init__(
        self,
        fc: FlightComputer,
        scenario: Scenario,
        plant: Plant,
        event: Callable[[str], None],
        stop: Callable[[str], Stop],
        realtime: bool,
    ) -> None:
        self.fc = fc
        self.scenario = scenario
        self.plant = plant
        self.event = event
        self.stop = stop
        self._done: set[str] = set()
        self._worker: concurrent.futures.ThreadPoolExecutor | None = None
        if realtime:
            self._worker = concurrent.futures.ThreadPoolExecutor(
                1, thread_name_prefix="hil-procedure"
            )
        self._pending: concurrent.futures.Future[Stop | None] | None = None

    def close(self) -> None:
        if self._worker is not None:
            self._worker.shutdown(wait=True, cancel_futures=True)
            self._worker = None

    # -- before the clock starts ---------------------------------------------------------

    def uplink(self) -> None:
        """The FC to SAFE and STANDBY (an FC outside the bench may still be armed from an
        earlier run), the scenario's FC parameters, the terrain map's name, then the state
        vector. Every parameter the flight software is built from is set, to the ICD's
        default where the scenario names none: an FC that flew another scenario before (a
        device of its own, the GUI's bench) keeps no guidance targets of that flight, and
        flies what the scenario's model-only run flies."""
        fc = self.fc
        fc.safe()
        fc.set_mode("STANDBY")
        for name in FSW_PARAMETERS:
            if name not in self.scenario.fc_parameters:
                fc.set_param(name, format_value(PARAMETERS[name].default))
        for name, value in self.scenario.fc_parameters.items():
            fc.set_param(name, value)
        fc.set_param("TERRAIN_MAP", self.scenario.fc_terrain_map)
        fc.command("STATE", *self.state_vector(0.0))

    def state_vector(self, time_s: float) -> list[str]:
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

    def make_safe(self) -> None:
        """After a run that did not land: command SAFE (engine off), as a conductor would.
        An FC that no longer answers is left as it is."""
        with contextlib.suppress(HilError):
            self.fc.safe()

    # -- the procedure task --------------------------------------------------------------

    def task(self, instants: np.ndarray) -> Stop | None:
        t = float(instants[-1])
        pending = self._pending
        if pending is not None:
            if not pending.done():
                return None
            self._pending = None
            stop = pending.result()
            if stop is not None:
                return stop
        for step, due_s, action in self._steps():
            if t >= due_s and step not in self._done:
                self._done.add(step)
                if self._worker is None:
                    return action()
                self._pending = self._worker.submit(action)
                return None
        return None

    def _steps(self) -> list[Step]:
        fc = self.fc

        def bit() -> Stop | None:
            report = fc.run_bit()
            failed = ", ".join(report.failed_items)
            self.event("BIT " + ("passed" if report.passed else f"FAILED: {failed}"))
            return None if report.passed else self.stop(f"BIT failed: {failed}")

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
