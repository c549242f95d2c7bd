"""The plant of a descent over the links: truth dynamics and sensor models of one run (N = 1).

Truth is integrated at 1 ms in 20 ms blocks (``BLOCK_S``), one block ahead, with the command
the FC gave at the block's start; the IMU samples of the block come from the same 1 ms truth.
The plant draws the same dispersed lander, start state, terrain and sensor streams as run
``seed`` of a model-only batch (:func:`hil.flight.model_only.dispersed_start`), so a
full-stack run and a model-only run of one seed fly the same lander.
"""

from __future__ import annotations

import math

import numpy as np

from hil.flight.descent.result import Contact
from hil.flight.model_only import dispersed_start
from hil.flight.scenario import Scenario
from hil.models import dynamics as dyn

BLOCK_S = 0.02
"""Truth block and FC command period."""


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
        self.vel = start.vel
        self.vel.terrain = self.terrain
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
