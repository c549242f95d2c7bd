"""Velocimeter model: a Doppler radar / lidar velocimeter's velocity relative to the surface.

Vectorised over N runs, one random stream per run (``run_generators(seeds, STREAM_VEL)``),
so run i draws the same numbers whatever batch it flies in (:mod:`hil.models.sensors`).

What it measures: the lander's velocity relative to the (non-rotating) surface, in the
lander's body axes (x, y, z of :mod:`hil.models.dynamics`: z the thrust axis, roll held at 0),
as real units deliver it once their processor has solved the beam geometry (docs/architecture.md
§ Velocimeter). Per axis: ``v + bias + sigma * n`` with ``sigma = noise_mps + noise_fraction *
|v|`` (0.05 m/s + 0.5 % of speed [A]) and a constant bias per run and axis (normal, 1 sigma
``bias_mps``, drawn at construction).

Valid range: the boresight (the LRF's mounting: -body z canted ``beam_cant_deg`` toward -body
x, :func:`hil.models.sensors.beam_direction`) must look within ``max_offvertical_deg`` of
local vertical, the slant range along it (height above the terrain below / cos(off-vertical))
must be within ``max_slant_range_m`` (7 km [A]) and the speed within ``max_speed_mps``. A
reading also drops out (invalid) with probability ``dropout_probability`` [A], as a unit that
loses lock. Invalid readings report zeros.

Every call draws four normals per run (three for the noise, one decides the dropout), valid or
not, so the stream never depends on when a run is in range.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import NDArray

from hil.models.dynamics import PITCH, VEL, YAW, Z
from hil.models.sensors import RunNormals, beam_direction
from hil.models.terrain import RunTerrain, TerrainProfile

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class VelocimeterParams:
    """Velocimeter error model and valid range ([A] = assumed, docs/architecture.md §5)."""

    rate_hz: float = 10.0
    noise_mps: float = 0.05  #: [A] white noise floor per axis, 1 sigma
    noise_fraction: float = 0.005  #: [A] white noise per axis, fraction of the speed
    bias_mps: float = 0.02  #: [A] constant bias per run and axis, 1 sigma
    max_slant_range_m: float = 7000.0  #: [A]
    max_speed_mps: float = 800.0  #: [A]
    max_offvertical_deg: float = 60.0  #: [A] boresight angle from local vertical
    beam_cant_deg: float = 30.0  #: boresight mounting, as the LRF beam
    dropout_probability: float = 0.01  #: [A] a reading invalid (lock lost), per reading
    powered: bool = True  #: False: a lander without a velocimeter (or one that never powers)

    def __post_init__(self) -> None:
        if not 0.0 <= self.dropout_probability < 1.0:
            raise ValueError(
                f"dropout_probability: must be within 0 .. 1, got {self.dropout_probability}"
            )


def body_from_enu(pitch_rad: FloatArray, yaw_rad: FloatArray, v_enu: FloatArray) -> FloatArray:
    """Vectors (N, 3) in ENU expressed in body axes (roll 0; the transpose of the rotation
    the IMU's dead reckoning uses)."""
    sp, cp = np.sin(pitch_rad), np.cos(pitch_rad)
    sy, cy = np.sin(yaw_rad), np.cos(yaw_rad)
    ve, vn, vu = v_enu[:, 0], v_enu[:, 1], v_enu[:, 2]
    return np.stack(
        (
            cp * ve + sp * vu,
            sy * sp * ve + cy * vn - sy * cp * vu,
            -cy * sp * ve + sy * vn + cy * cp * vu,
        ),
        axis=-1,
    )


class VelocimeterModel:
    """Velocimeter for N runs over ``terrain`` (one profile or a per-run :class:`RunTerrain`).

    ``generators``: one per run (stream ``STREAM_VEL``). The per-run bias is drawn from them
    at construction, before any noise.
    """

    def __init__(
        self,
        params: VelocimeterParams,
        terrain: TerrainProfile | RunTerrain,
        generators: Sequence[np.random.Generator],
    ) -> None:
        self.params = params
        self.terrain = terrain
        n = len(generators)
        self.bias_mps = np.array([g.standard_normal(3) for g in generators]).reshape(n, 3)
        self.bias_mps *= params.bias_mps
        self._normals = RunNormals(generators, 4, refill=256)
        p = params.dropout_probability
        self._dropout_below = NormalDist().inv_cdf(p) if p > 0.0 else -math.inf

    def take(self, rows: NDArray[np.intp]) -> None:
        """Keep only runs ``rows`` (their streams continue where they were)."""
        self._normals.take(rows)
        self.bias_mps = self.bias_mps[rows]
        if isinstance(self.terrain, RunTerrain):
            self.terrain = self.terrain.take(rows)

    def measure(self, state: FloatArray) -> tuple[FloatArray, BoolArray]:
        """``(velocity_body_mps (N, 3), valid (N,))`` for truth ``state`` (N, STATE_SIZE)."""
        p = self.params
        normal = self._normals.draw()
        n = state.shape[0]
        if not p.powered:
            return np.zeros((n, 3)), np.zeros(n, dtype=bool)
        pitch, yaw = state[:, PITCH], state[:, YAW]
        beam = beam_direction(pitch, yaw, math.radians(p.beam_cant_deg))
        down = -beam[:, 2]
        height_m = state[:, Z] - self.terrain.height_m(state[:, 0])
        slant_m = height_m / np.maximum(down, 1e-6)
        v_enu = state[:, VEL]
        speed = np.sqrt(v_enu[:, 0] ** 2 + v_enu[:, 1] ** 2 + v_enu[:, 2] ** 2)
        valid = down >= math.cos(math.radians(p.max_offvertical_deg))
        valid &= (slant_m <= p.max_slant_range_m) & (height_m > 0.0)
        valid &= speed <= p.max_speed_mps
        valid &= normal[:, 3] >= self._dropout_below
        sigma = p.noise_mps + p.noise_fraction * speed
        measured = body_from_enu(pitch, yaw, v_enu) + self.bias_mps + sigma[:, None] * normal[:, :3]
        return np.where(valid[:, None], measured, 0.0), valid
