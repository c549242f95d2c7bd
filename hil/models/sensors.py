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

Random streams: a model takes either one generator for the whole batch (draws depend on N) or
a sequence of N generators, one per run (:func:`run_generators`). With per-run generators run
i draws the same numbers whatever the batch it flies in (campaign chunking, worker count, the
N = 1 full-stack plant); the IMU then draws its noise in buffered refills
(:class:`RunNormals`), the same stream as drawing block by block. Per-run dispersions
(:mod:`hil.models.dispersions`) add an accelerometer and gyro bias to the IMU and a range bias
and noise scale to the LRF.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from hil.models.dynamics import PITCH, POS, YAW, BlockSamples
from hil.models.terrain import RunTerrain, TerrainProfile

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

MG_MPS2 = 9.80665e-3  #: one milli-g, m/s^2


#: Stream tags: run generator ``(run_seed, tag)`` for each random consumer of a run
#: (STREAM_VEL: the velocimeter, :mod:`hil.models.velocimeter`).
STREAM_IMU, STREAM_LRF, STREAM_GAUGE, STREAM_DISPERSION, STREAM_VEL = 1, 2, 3, 4, 5


def run_generators(run_seeds: Sequence[int], tag: int) -> list[np.random.Generator]:
    """One generator per run for stream ``tag`` (SFC64, seeded from ``(run_seed, tag)``)."""
    return [np.random.Generator(np.random.SFC64([int(seed), tag])) for seed in run_seeds]


class RunNormals:
    """Standard normals in rows of ``width`` per run, from one generator per run, buffered.

    :meth:`draw` returns an ``(N, width)`` view valid until the next call; row i is what
    ``generators[i].standard_normal(width)`` would give, call after call. The buffer holds
    ``refill`` draws per run and is refilled for all runs at once; ``scale`` (width,) and
    ``offset`` (N, width) are applied at refill (``normal * scale + offset``).
    """

    def __init__(
        self,
        generators: Sequence[np.random.Generator],
        width: int,
        refill: int = 64,
        scale: FloatArray | None = None,
        offset: FloatArray | None = None,
    ) -> None:
        self.generators = list(generators)
        self.width = width
        self.refill = refill
        self.scale = scale
        self.offset = offset
        self._buffer = np.empty((len(self.generators), refill, width))
        self._next = refill

    def draw(self) -> FloatArray:
        """The next ``(N, width)`` normals (scaled and offset)."""
        if self._next == self.refill:
            buffer = self._buffer
            flat = buffer.reshape(buffer.shape[0], -1)
            for row, generator in zip(flat, self.generators, strict=True):
                generator.standard_normal(out=row)
            if self.scale is not None:
                buffer *= self.scale
            if self.offset is not None:
                buffer += self.offset[:, None, :]
            self._next = 0
        out = self._buffer[:, self._next]
        self._next += 1
        return out

    def take(self, rows: NDArray[np.intp]) -> None:
        """Keep only runs ``rows`` (their streams continue where they were)."""
        self.generators = [self.generators[int(i)] for i in rows]
        self._buffer = self._buffer[rows]
        if self.offset is not None:
            self.offset = self.offset[rows]


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
    """IMU error model (docs/architecture.md §5; [A] = assumed)."""

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


@lru_cache(maxsize=8)
def _averaging_terms(
    n_steps: int, dt_s: float, period_s: float
) -> tuple[tuple[NDArray[np.intp], FloatArray], ...]:
    """The non-zero weights of :func:`_averaging_matrix` as terms ``(steps (k,), weights
    (k, 1))``: term m adds the m-th step of each IMU interval (weight 0 where an interval has
    fewer steps). Summed term by term, element by element, the average of a run never depends
    on how many runs share the batch (a BLAS product sums in an order that does)."""
    w = _averaging_matrix(n_steps, dt_s, period_s)
    counts = np.count_nonzero(w, axis=1)
    terms = []
    for m in range(int(counts.max())):
        steps = np.zeros(w.shape[0], dtype=np.intp)
        weights = np.zeros((w.shape[0], 1))
        for j, row in enumerate(w):
            nonzero = np.flatnonzero(row)
            if m < nonzero.size:
                steps[j] = nonzero[m]
                weights[j, 0] = row[nonzero[m]]
        weights.setflags(write=False)
        terms.append((steps, weights))
    return tuple(terms)


class ImuModel:
    """IMU for N runs; the per-run bias is drawn from ``rng`` at construction.

    ``rng``: one generator for the batch, or N per-run generators (see the module docstring).
    ``extra_accel_bias_mps2`` and ``gyro_bias_radps`` (N, 3) are dispersed per-run biases
    added to the specified +-``accel_bias_mps2`` (per-run generators only).
    """

    def __init__(
        self,
        params: ImuParams,
        n: int,
        rng: np.random.Generator | Sequence[np.random.Generator],
        extra_accel_bias_mps2: FloatArray | None = None,
        gyro_bias_radps: FloatArray | None = None,
    ) -> None:
        self.params = params
        self.n = n
        self._normals: RunNormals | None = None
        self._generators: list[np.random.Generator] = []
        if isinstance(rng, np.random.Generator):
            if extra_accel_bias_mps2 is not None or gyro_bias_radps is not None:
                raise ValueError("ImuModel: dispersed biases need per-run generators")
            self.rng: np.random.Generator | None = rng
            signs = rng.choice((-1.0, 1.0), size=(n, 3))
        else:
            self.rng = None
            self._generators = list(rng)
            if len(rng) != n:
                raise ValueError(f"ImuModel: {len(rng)} generators for {n} runs")
            signs = np.array([g.choice((-1.0, 1.0), size=3) for g in rng]).reshape(n, 3)
        self.accel_bias_mps2 = params.accel_bias_mps2 * signs
        if extra_accel_bias_mps2 is not None:
            self.accel_bias_mps2 = self.accel_bias_mps2 + extra_accel_bias_mps2
        self.gyro_bias_radps = gyro_bias_radps

    def _run_normals(self, k: int) -> RunNormals:
        """Per-run noise of k samples per block, sigma and biases applied at refill."""
        if self._normals is None or self._normals.width != 6 * k:
            p = self.params
            sig = _noise_sigmas(p.accel_noise_sigma_mps2, p.gyro_noise_sigma_radps)
            bias = np.zeros((self.n, 6))
            bias[:, :3] = self.accel_bias_mps2
            if self.gyro_bias_radps is not None:
                bias[:, 3:] = self.gyro_bias_radps
            self._normals = RunNormals(
                self._generators,
                6 * k,
                scale=np.tile(sig.ravel(), k),
                offset=np.tile(bias, (1, k)),
            )
        return self._normals

    def take(self, rows: NDArray[np.intp]) -> None:
        """Keep only runs ``rows`` (per-run generators only)."""
        if self.rng is not None:
            raise ValueError("ImuModel.take needs per-run generators")
        self._generators = [self._generators[int(i)] for i in rows]
        self.accel_bias_mps2 = self.accel_bias_mps2[rows]
        if self.gyro_bias_radps is not None:
            self.gyro_bias_radps = self.gyro_bias_radps[rows]
        if self._normals is not None:
            self._normals.take(rows)
        self.n = len(self._generators)

    def sample(self, samples: BlockSamples) -> tuple[FloatArray, FloatArray, FloatArray]:
        """IMU samples for one truth block: ``(time_s (k,), f (N, k, 3), w (N, k, 3))``.

        Sample i is stamped at the end of its interval. Raises ValueError if the IMU period
        does not divide the block. ``f`` and ``w`` are views of one (6, k, N) array.
        """
        n_steps = samples.time_s.shape[1]
        p = self.params
        period = 1.0 / p.rate_hz
        terms = _averaging_terms(n_steps, samples.dt_s, period)
        both = samples.force_rate_component_major
        if both is None:
            both = np.concatenate(
                (samples.specific_force_body_mps2, samples.angular_rate_body_radps), axis=2
            ).T
        steps, weights = terms[0]
        k = steps.size
        avg = both[:, steps] * weights  # (6, k, N)
        for steps, weights in terms[1:]:
            avg += both[:, steps] * weights
        if self.rng is None:
            avg += self._run_normals(k).draw().reshape(self.n, k, 6).T
        else:
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
    """Laser range finder (docs/architecture.md §5; [A] = assumed)."""

    rate_hz: float = 10.0
    max_valid_range_m: float = 3000.0
    max_incidence_deg: float = 60.0  #: [A]
    noise_m: float = 1.0
    noise_fraction: float = 0.002
    beam_cant_deg: float = 30.0  #: [A] see module docstring
    powered: bool = True  #: False: an LRF that never powers up (scenario F3)


class LrfModel:
    """LRF for N runs measuring slant range to ``terrain`` along the truth beam.

    ``terrain`` is one profile for every run or a per-run :class:`RunTerrain`. ``rng``: one
    generator for the batch or N per-run generators. ``bias_m`` and ``noise_scale`` (N,) are
    dispersed per-run range bias (m) and noise-sigma factor.
    """

    def __init__(
        self,
        params: LrfParams,
        terrain: TerrainProfile | RunTerrain,
        rng: np.random.Generator | Sequence[np.random.Generator],
        bias_m: FloatArray | None = None,
        noise_scale: FloatArray | None = None,
    ) -> None:
        self.params = params
        self.terrain = terrain
        self.rng: np.random.Generator | None = None
        self._normals: RunNormals | None = None
        if isinstance(rng, np.random.Generator):
            self.rng = rng
        else:
            self._normals = RunNormals(rng, 1, refill=256)
        self.bias_m = bias_m
        self.noise_scale = noise_scale

    def take(self, rows: NDArray[np.intp]) -> None:
        """Keep only runs ``rows`` (per-run generators only)."""
        if self._normals is None:
            raise ValueError("LrfModel.take needs per-run generators")
        self._normals.take(rows)
        if isinstance(self.terrain, RunTerrain):
            self.terrain = self.terrain.take(rows)
        if self.bias_m is not None:
            self.bias_m = self.bias_m[rows]
        if self.noise_scale is not None:
            self.noise_scale = self.noise_scale[rows]

    def measure(self, state: NDArray[np.float64]) -> tuple[FloatArray, BoolArray, FloatArray]:
        """Return ``(slant_range_m, valid, signal_strength)``, each (N,), for truth ``state``.

        Invalid readings report range 0 and signal 0. Noise is drawn for every run every call
        so the random stream does not depend on which runs are in range.
        """
        p = self.params
        n = state.shape[0]
        noise: FloatArray
        if self.rng is not None:
            noise = np.asarray(self.rng.standard_normal(n))
        else:
            assert self._normals is not None
            noise = self._normals.draw()[:, 0]
        if not p.powered:
            zeros = np.zeros(n)
            return zeros, np.zeros(n, dtype=bool), zeros
        beam = beam_direction(state[:, PITCH], state[:, YAW], math.radians(p.beam_cant_deg))
        true_range = self.terrain.slant_range_m(state[:, POS], beam, p.max_valid_range_m)
        hit = np.isfinite(true_range)
        if not np.logical_or.reduce(hit):  # nothing in range: every reading invalid
            zeros = np.zeros(n)
            return zeros, np.zeros(n, dtype=bool), zeros
        rng = np.where(hit, true_range, 0.0)
        slope = self.terrain.slope(state[:, 0] + rng * beam[:, 0])
        # incidence: angle between the reversed beam and the terrain normal (-slope, 0, 1)
        cos_inc = (slope * beam[:, 0] - beam[:, 2]) / np.sqrt(1.0 + slope * slope)
        valid = hit & (cos_inc >= math.cos(math.radians(p.max_incidence_deg)))
        sigma = p.noise_m + p.noise_fraction * rng
        if self.noise_scale is not None:
            sigma *= self.noise_scale
        measured = rng + sigma * noise
        if self.bias_m is not None:
            measured += self.bias_m
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
    """Propellant gauge for N runs; the per-run scale error is drawn at construction.

    ``rng``: one generator for the batch or N per-run generators.
    """

    def __init__(
        self,
        params: GaugeParams,
        n: int,
        rng: np.random.Generator | Sequence[np.random.Generator],
    ) -> None:
        self.params = params
        e = params.scale_error_fraction
        self.rng: np.random.Generator | None = None
        self._normals: RunNormals | None = None
        if isinstance(rng, np.random.Generator):
            self.rng = rng
            self.scale = 1.0 + rng.uniform(-e, e, n)
        else:
            self.scale = 1.0 + np.array([g.uniform(-e, e) for g in rng])
            self._normals = RunNormals(rng, 1, refill=256)

    def take(self, rows: NDArray[np.intp]) -> None:
        """Keep only runs ``rows`` (per-run generators only)."""
        if self._normals is None:
            raise ValueError("PropellantGauge.take needs per-run generators")
        self._normals.take(rows)
        self.scale = self.scale[rows]

    def read(self, propellant_kg: FloatArray) -> FloatArray:
        """Gauge reading (kg, >= 0) for true propellant masses (N,)."""
        normal: FloatArray
        if self.rng is not None:
            normal = np.asarray(self.rng.standard_normal(propellant_kg.shape[0]))
        else:
            assert self._normals is not None
            normal = self._normals.draw()[:, 0]
        noise = self.params.noise_kg * normal
        return np.maximum(propellant_kg * self.scale + noise, 0.0)
