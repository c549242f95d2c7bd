"""Sensor models: IMU, laser range finder (LRF) and propellant gauge, vectorised over N runs.

Every model draws from a ``numpy.random.Generator`` it is given, so a run is reproducible for
a seed. Conventions (see :mod:`hil.models.dynamics` for the frames):

* **IMU** (400 Hz): each sample is the *average* specific force and body rate over its sample
  interval (as an integrating IMU delivers delta-v / delta-angle), computed exactly from the
  truth steps of a block, plus a constant accelerometer bias (each axis +-0.5 mg, random sign
  per run), accelerometer white noise (velocity random walk 0.05 m/s/sqrt(h) [A]) and gyro
  angle random walk 0.1 deg/sqrt(h) (white rate noise; no gyro bias).
* **LRF** (10 Hz): slant range along the beam to the terrain. The beam points down the thrust
  axis (-body z) canted by ``beam_cant_deg`` toward -body x, i.e. toward local vertical while
  braking (30 deg [A]: at 70 deg pitch the beam is 40 deg off vertical, at 0 pitch 30 deg).
  Valid only when range <= ``max_valid_range_m`` and incidence <= ``max_incidence_deg``;
  noise sigma = 1 m + 0.2 % of range; signal strength ``cos(incidence) / (1 + (r / r_max)^2)``.
* **Propellant gauge**: true propellant times (1 + e), e uniform in +-3 % fixed per run, plus
  0.5 kg white noise [A].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from hil.models.dynamics import PITCH, POS, YAW, BlockSamples
from hil.models.terrain import TerrainProfile

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

MG_MPS2 = 9.80665e-3  #: one milli-g, m/s^2


# --- geometry ------------------------------------------------------------------------------
def beam_direction(pitch_rad: FloatArray, yaw_rad: FloatArray, cant_rad: float) -> FloatArray:
    """Unit LRF beam in ENU, shape (N, 3): -body z rotated by ``cant_rad`` toward -body x."""
    sp, cp = np.sin(pitch_rad), np.cos(pitch_rad)
    sy, cy = np.sin(yaw_rad), np.cos(yaw_rad)
    cc, sc = math.cos(cant_rad), math.sin(cant_rad)
    return np.stack((cc * sp * cy - sc * cp, -cc * sy, -cc * cp * cy - sc * sp), axis=-1)


# --- IMU -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImuParams:
    """IMU error model (DESIGN 5; [A] = assumed)."""

    rate_hz: float = 400.0
    accel_bias_mps2: float = 0.5 * MG_MPS2  #: per-axis constant bias magnitude
    accel_vrw_mps_per_sqrt_h: float = 0.05  #: accelerometer white noise [A]
    gyro_arw_deg_per_sqrt_h: float = 0.1  #: angle random walk

    @property
    def accel_noise_sigma_mps2(self) -> float:
        """Per-sample accelerometer noise sigma, m/s^2."""
        return self.accel_vrw_mps_per_sqrt_h / 60.0 * math.sqrt(self.rate_hz)

    @property
    def gyro_noise_sigma_radps(self) -> float:
        """Per-sample gyro noise sigma, rad/s."""
        return math.radians(self.gyro_arw_deg_per_sqrt_h) / 60.0 * math.sqrt(self.rate_hz)


@lru_cache(maxsize=8)
def _averaging_matrix(n_steps: int, dt_s: float, period_s: float) -> FloatArray:
    """(k, n_steps) weights turning per-step values into per-IMU-interval averages."""
    k_float = n_steps * dt_s / period_s
    k = round(k_float)
    if k < 1 or abs(k - k_float) > 1e-9:
        raise ValueError(
            f"IMU period {period_s} s does not divide the block of {n_steps} x {dt_s} s"
        )
    edges_step = dt_s * np.arange(n_steps + 1)
    edges_imu = period_s * np.arange(k + 1)
    lo = np.maximum(edges_imu[:-1, None], edges_step[None, :-1])
    hi = np.minimum(edges_imu[1:, None], edges_step[None, 1:])
    w = np.maximum(hi - lo, 0.0) / period_s
    w.setflags(write=False)
    return w


class ImuModel:
    """IMU for N runs; the per-run bias is drawn from ``rng`` at construction."""

    def __init__(self, params: ImuParams, n: int, rng: np.random.Generator) -> None:
        self.params = params
        self.n = n
        self.rng = rng
        self.accel_bias_mps2 = params.accel_bias_mps2 * rng.choice((-1.0, 1.0), size=(n, 3))

    def sample(self, samples: BlockSamples) -> tuple[FloatArray, FloatArray, FloatArray]:
        """IMU samples for one truth block: ``(time_s (k,), f (N, k, 3), w (N, k, 3))``.

        Sample i is stamped at the end of its interval. Raises ValueError if the IMU period
        does not divide the block. ``f`` and ``w`` are views of one (6, k, N) array.
        """
        n_steps = samples.time_s.shape[1]
        p = self.params
        period = 1.0 / p.rate_hz
        w = _averaging_matrix(n_steps, samples.dt_s, period)
        k = w.shape[0]
        both = samples.force_rate_component_major
        if both is None:
            both = np.concatenate(
                (samples.specific_force_body_mps2, samples.angular_rate_body_radps), axis=2
            ).T
        avg = np.matmul(w, both)  # (6, k, N)
        noise = self.rng.standard_normal((self.n, k, 6)).T
        noise *= _noise_sigmas(p.accel_noise_sigma_mps2, p.gyro_noise_sigma_radps)
        noise[:3] += self.accel_bias_mps2.T[:, None, :]
        avg += noise
        times = _sample_offsets(k, period) + (samples.time_s[0, 0] - samples.dt_s)
        return times, avg[:3].T, avg[3:].T


@lru_cache(maxsize=8)
def _noise_sigmas(accel_sigma: float, gyro_sigma: float) -> FloatArray:
    sig = np.array([accel_sigma] * 3 + [gyro_sigma] * 3)[:, None, None]
    sig.setflags(write=False)
    return sig


@lru_cache(maxsize=8)
def _sample_offsets(k: int, period_s: float) -> FloatArray:
    offsets = period_s * np.arange(1, k + 1, dtype=np.float64)
    offsets.setflags(write=False)
    return offsets


# --- LRF -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LrfParams:
    """Laser range finder (DESIGN 5; [A] = assumed)."""

    rate_hz: float = 10.0
    max_valid_range_m: float = 3000.0
    max_incidence_deg: float = 60.0  #: [A]
    noise_m: float = 1.0
    noise_fraction: float = 0.002
    beam_cant_deg: float = 30.0  #: [A] see module docstring
    powered: bool = True  #: False models an LRF that never powers up (DESIGN F3)


class LrfModel:
    """LRF for N runs measuring slant range to ``terrain`` along the truth beam."""

    def __init__(
        self, params: LrfParams, terrain: TerrainProfile, rng: np.random.Generator
    ) -> None:
        self.params = params
        self.terrain = terrain
        self.rng = rng

    def measure(self, state: NDArray[np.float64]) -> tuple[FloatArray, BoolArray, FloatArray]:
        """Return ``(slant_range_m, valid, signal_strength)``, each (N,), for truth ``state``.

        Invalid readings report range 0 and signal 0. Noise is drawn for every run every call
        so the random stream does not depend on which runs are in range.
        """
        p = self.params
        n = state.shape[0]
        noise = self.rng.standard_normal(n)
        if not p.powered:
            zeros = np.zeros(n)
            return zeros, np.zeros(n, dtype=bool), zeros
        beam = beam_direction(state[:, PITCH], state[:, YAW], math.radians(p.beam_cant_deg))
        true_range = self.terrain.slant_range_m(state[:, POS], beam, p.max_valid_range_m)
        hit = np.isfinite(true_range)
        rng = np.where(hit, true_range, 0.0)
        slope = self.terrain.slope(state[:, 0] + rng * beam[:, 0])
        # incidence: angle between the reversed beam and the terrain normal (-slope, 0, 1)
        cos_inc = (slope * beam[:, 0] - beam[:, 2]) / np.sqrt(1.0 + slope * slope)
        valid = hit & (cos_inc >= math.cos(math.radians(p.max_incidence_deg)))
        measured = rng + (p.noise_m + p.noise_fraction * rng) * noise
        strength = np.clip(cos_inc, 0.0, 1.0) / (1.0 + (rng / p.max_valid_range_m) ** 2)
        return (
            np.where(valid, np.maximum(measured, 0.0), 0.0),
            valid,
            np.where(valid, strength, 0.0),
        )


# --- propellant gauge ----------------------------------------------------------------------
@dataclass(frozen=True)
class GaugeParams:
    """Propellant gauge [A]."""

    scale_error_fraction: float = 0.03  #: constant per-run error, uniform +-this
    noise_kg: float = 0.5


class PropellantGauge:
    """Propellant gauge for N runs; the per-run scale error is drawn at construction."""

    def __init__(self, params: GaugeParams, n: int, rng: np.random.Generator) -> None:
        self.params = params
        self.rng = rng
        self.scale = 1.0 + rng.uniform(-params.scale_error_fraction, params.scale_error_fraction, n)

    def read(self, propellant_kg: FloatArray) -> FloatArray:
        """Gauge reading (kg, >= 0) for true propellant masses (N,)."""
        noise = self.params.noise_kg * self.rng.standard_normal(propellant_kg.shape[0])
        return np.maximum(propellant_kg * self.scale + noise, 0.0)
