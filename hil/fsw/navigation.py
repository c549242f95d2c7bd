"""Navigation of the simulated flight software: IMU dead reckoning plus gated LRF updates.

Vectorised over N runs. The estimate lives in the landing-site ENU frame (x downrange along
the track toward the site at x = 0, y crossrange, z = height above the site's terrain level,
which the onboard map :mod:`hil.fsw.terrain_map` also uses).

* **Dead reckoning.** Roll is held at 0 by the ACS, so attitude is the thrust (pitch, yaw)
  pair, integrated from the gyro with ``yaw' = -w_x``, ``pitch' = -w_y / cos(yaw)`` from the
  known attitude at start. Specific force (minus the estimated accelerometer bias) is rotated
  to ENU and the onboard gravity model ``(0, 0, -g + v_h^2 / R)`` (at block start) is added;
  velocity and position are summed semi-implicitly, a whole IMU block (k samples) of every
  run in one compiled call (numba, :func:`_dead_reckon`).
* **Accelerometer calibration.** While ARMED (engine off, free fall) the true specific force is
  zero, so the mean measured specific force is the bias; it is frozen at ignition. During that
  coast the navigation integrates gravity only.
* **LRF update.** Predicted slant range = ray cast from the estimated position along the beam
  of the *estimated* attitude (:mod:`hil.fsw.lrf_beam`) into the onboard terrain map
  (:mod:`hil.fsw.terrain_map`). Innovation gate:
  ``|nu| > max(gate_min_m, gate_fraction * range, gate_sigma * sqrt(S))`` is rejected (set
  ``gate_sigma = 0`` for a pure fixed gate). Accepted ranges update (altitude, vertical
  velocity) with a two-state scalar-measurement Kalman filter (the range is turned into an
  altitude-equivalent measurement with the flat-terrain factor -beam_z).
* **Velocimeter update.** The velocimeter's body-axis velocity is rotated to ENU with the
  estimated attitude and tested per axis against
  ``max(vel_gate_min_mps, vel_gate_fraction * speed, vel_gate_sigma * sqrt(S))``; a reading
  with any axis outside is rejected whole. Accepted readings update the horizontal velocity
  (one variance per run for both axes, grown by ``horizontal_accel_noise_psd``: the attitude
  error the gyro's random walk leaves is what makes it drift) and, through the (altitude,
  vertical velocity) filter, the vertical velocity and altitude. Noise model: sigma =
  ``vel_noise_mps + vel_noise_fraction * speed`` per axis.
* **Gate policy.** ``latch``: after ``latch_after`` consecutive rejections the LRF is ignored
  for the rest of the flight (HAKUTO-R M1). ``recover``: readings keep being tested; after
  ``reanchor_after`` consecutive rejected readings that agree with each other (implied
  altitude offsets within ``reanchor_consistency_m``) the altitude is re-anchored to them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit
from numpy.typing import NDArray

from hil.core.compiled import kernel_array
from hil.fsw.lrf_beam import beam_direction
from hil.fsw.terrain_map import TerrainMap

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]

GATE_POLICIES = ("latch", "recover")


@dataclass(frozen=True)
class NavParams:
    """Onboard navigation constants and filter tuning."""

    moon_gravity_mps2: float = 1.62
    moon_radius_m: float = 1_737_400.0
    lrf_beam_cant_deg: float = 30.0  #: must match the LRF mounting
    lrf_noise_m: float = 1.0  #: onboard LRF noise model: sigma = noise_m + fraction * range
    lrf_noise_fraction: float = 0.002
    gate_policy: str = "recover"
    gate_min_m: float = 100.0
    gate_fraction: float = 0.10
    gate_sigma: float = 3.0  #: 0 gives a pure fixed gate
    latch_after: int = 5
    reanchor_after: int = 5
    reanchor_consistency_m: float = 30.0
    initial_altitude_sigma_m: float = 300.0
    initial_vertical_velocity_sigma_mps: float = 1.0
    accel_noise_psd: float = 1e-4  #: process noise on vertical acceleration, m^2/s^3
    calibrate_in_armed: bool = True
    vel_noise_mps: float = 0.05  #: onboard velocimeter noise model (must match the unit)
    vel_noise_fraction: float = 0.005
    vel_gate_min_mps: float = 2.0
    vel_gate_fraction: float = 0.05
    vel_gate_sigma: float = 4.0
    initial_horizontal_velocity_sigma_mps: float = 1.0
    horizontal_accel_noise_psd: float = 4e-3  #: horizontal velocity random walk, m^2/s^3

    def __post_init__(self) -> None:
        if self.gate_policy not in GATE_POLICIES:
            raise ValueError(
                f"NavParams.gate_policy: {self.gate_policy!r} is not one of {GATE_POLICIES}"
            )


class Navigation:
    """Navigation state for N runs. Arrays are public and read-only by convention."""

    def __init__(
        self,
        params: NavParams,
        position_m: FloatArray,
        velocity_mps: FloatArray,
        pitch_rad: FloatArray,
        yaw_rad: FloatArray,
        time_s: float,
        terrain_map: TerrainMap,
    ) -> None:
        self.params = params
        self.terrain_map = terrain_map
        self.position_m = np.array(position_m, dtype=np.float64, ndmin=2)
        n = self.position_m.shape[0]
        self.n = n
        self.velocity_mps = np.array(velocity_mps, dtype=np.float64, ndmin=2).copy()
        self.pitch_rad = np.broadcast_to(np.asarray(pitch_rad, dtype=np.float64), (n,)).copy()
        self.yaw_rad = np.broadcast_to(np.asarray(yaw_rad, dtype=np.float64), (n,)).copy()
        self.time_s = float(time_s)
        self.accel_bias_mps2 = np.zeros((n, 3))
        self._cal_sum = np.zeros((n, 3))
        self._cal_count = 0
        self.calibrating = np.zeros(n, dtype=bool)
        # altitude / vertical-velocity covariance: rows of one (3, N) array
        self._cov_step: tuple[float, FloatArray, FloatArray] | None = None
        cov = np.zeros((3, n))
        cov[0] = params.initial_altitude_sigma_m**2
        cov[2] = params.initial_vertical_velocity_sigma_mps**2
        self._set_covariance(cov)
        self.p_hh = np.full(n, params.initial_horizontal_velocity_sigma_mps**2)
        # velocimeter bookkeeping
        self.vel_accepted = np.zeros(n, dtype=np.int64)
        self.vel_rejected = np.zeros(n, dtype=np.int64)
        self.vel_last_accepted = np.zeros(n, dtype=bool)
        self.vel_last_innovation_mps = np.zeros((n, 3))
        # LRF bookkeeping
        self.lrf_accepted = np.zeros(n, dtype=np.int64)
        self.lrf_rejected = np.zeros(n, dtype=np.int64)
        self.lrf_reanchored = np.zeros(n, dtype=np.int64)
        self.lrf_latched = np.zeros(n, dtype=bool)
        self.lrf_last_accepted = np.zeros(n, dtype=bool)
        self.lrf_first_accept_time_s = np.full(n, np.nan)
        self.lrf_last_innovation_m = np.zeros(n)
        self._consecutive_rejects = np.zeros(n, dtype=np.int64)
        self._consistent = np.zeros(n, dtype=np.int64)
        self._last_offset_m = np.zeros(n)
        self._calibrating_seen: BoolArray | None = None
        self._calibrating_any = False
        self._peak = np.zeros(n)
        self._cant_rad = math.radians(params.lrf_beam_cant_deg)

    def take(self, rows: NDArray[np.intp]) -> None:
        """Keep only runs ``rows`` (in that order); every per-run array is cut alike."""
        self.position_m = self.position_m[rows]
        self.velocity_mps = self.velocity_mps[rows]
        self.pitch_rad = self.pitch_rad[rows]
        self.yaw_rad = self.yaw_rad[rows]
        self.accel_bias_mps2 = self.accel_bias_mps2[rows]
        self._cal_sum = self._cal_sum[rows]
        self.calibrating = self.calibrating[rows]
        self._calibrating_seen = None
        self._set_covariance(self._covariance()[:, rows])
        for name in (
            "p_hh",
            "vel_accepted",
            "vel_rejected",
            "vel_last_accepted",
            "vel_last_innovation_mps",
            "lrf_accepted",
            "lrf_rejected",
            "lrf_reanchored",
            "lrf_latched",
            "lrf_last_accepted",
            "lrf_first_accept_time_s",
            "lrf_last_innovation_m",
            "_consecutive_rejects",
            "_consistent",
            "_last_offset_m",
        ):
            setattr(self, name, getattr(self, name)[rows])
        self._peak = self._peak[rows]
        self.n = len(rows)

    # -- dead reckoning ---------------------------------------------------------------------
    def start_calibration(self, where: BoolArray) -> None:
        """Begin averaging the accelerometers (engine off, free fall) for runs ``where``."""
        self.calibrating = self.calibrating | where

    def finish_calibration(self, where: BoolArray) -> None:
        """Freeze the accelerometer bias estimate for runs ``where``."""
        if self._cal_count > 0 and self.params.calibrate_in_armed:
            mean = self._cal_sum / self._cal_count
            self.accel_bias_mps2 = np.where(
                (where & self.calibrating)[:, None], mean, self.accel_bias_mps2
            )
        self.calibrating = self.calibrating & ~where

    @property
    def peak_specific_force_mps2(self) -> FloatArray:
        """Largest |specific force| (bias removed) per run since ``take_peak`` last ran, m/s^2."""
        return self._peak

    def take_peak(self) -> FloatArray:
        """The peak |specific force| since the last call (a copy), and start a new one."""
        peak = self._peak.copy()
        self._peak[:] = 0.0
        return peak

    def _covariance(self) -> FloatArray:
        """(3, N) rows p_zz, p_zv, p_vv; the public arrays are views of it."""
        views = self._cov_views
        if self.p_zz is views[0] and self.p_zv is views[1] and self.p_vv is views[2]:
            return self._cov
        return np.array((self.p_zz, self.p_zv, self.p_vv))  # rebound from outside

    def _set_covariance(self, cov: FloatArray) -> None:
        self._cov = cov
        self._cov_views = (cov[0], cov[1], cov[2])
        self.p_zz, self.p_zv, self.p_vv = self._cov_views

    def _covariance_step(self, dt_s: float) -> tuple[FloatArray, FloatArray]:
        """Transition matrix (3, 3) and process noise (3, 1) for the covariance over dt_s."""
        cached = self._cov_step
        if cached is not None and cached[0] == dt_s:
            return cached[1], cached[2]
        q = self.params.accel_noise_psd
        trans = np.array([[1.0, 2.0 * dt_s, dt_s * dt_s], [0.0, 1.0, dt_s], [0.0, 0.0, 1.0]])
        noise = np.array([[q * dt_s**3 / 3], [q * dt_s**2 / 2], [q * dt_s]])
        self._cov_step = (dt_s, trans, noise)
        return trans, noise

    def propagate(
        self, time_s: FloatArray, specific_force_mps2: FloatArray, angular_rate_radps: FloatArray
    ) -> None:
        """Integrate one block of k IMU samples: times (k,), f and w (N, k, 3) body axes.

        The samples are integrated by :func:`_dead_reckon` (compiled), the (altitude,
        vertical velocity) covariance grows over the whole block at once.
        """
        t = kernel_array(time_s)
        calibrating = self.calibrating
        if calibrating is not self._calibrating_seen:
            self._calibrating_seen = calibrating
            self._calibrating_any = bool(calibrating.any())
        if self._calibrating_any:
            # sample by sample: ``sum(axis=1)`` sums pairwise when the samples of one run are
            # contiguous (a batch of one) and in order otherwise, so a run's bias estimate
            # would depend on the batch width
            block = specific_force_mps2[:, 0].copy()
            for s in range(1, specific_force_mps2.shape[1]):
                block += specific_force_mps2[:, s]
            self._cal_sum += block * calibrating[:, None]
            self._cal_count += t.size
        p = self.params
        _dead_reckon(
            t,
            float(self.time_s),
            kernel_array(specific_force_mps2),
            kernel_array(angular_rate_radps),
            self.accel_bias_mps2,
            calibrating,
            self.position_m,
            self.velocity_mps,
            self.pitch_rad,
            self.yaw_rad,
            self._peak,
            float(p.moon_gravity_mps2),
            1.0 / p.moon_radius_m,
        )
        total = float(t[-1] - self.time_s)
        self.time_s = float(t[-1])
        trans, noise = self._covariance_step(total)
        # trans @ cov written out, so that a run's covariance never depends on the batch width
        c = self._covariance()
        cov = trans[:, 0:1] * c[0]
        cov += trans[:, 1:2] * c[1]
        cov += trans[:, 2:3] * c[2]
        cov += noise
        self._set_covariance(cov)
        self.p_hh += self.params.horizontal_accel_noise_psd * total

    def vertical_gravity_mps2(self) -> FloatArray:
        """The onboard gravity model along z at the estimated velocity: ``-g + v_h^2 / R``
        (N,), m/s^2 (the same model dead reckoning uses)."""
        v = self.velocity_mps
        p = self.params
        horizontal_sq = v[:, 0] * v[:, 0]
        horizontal_sq += v[:, 1] * v[:, 1]
        horizontal_sq *= 1.0 / p.moon_radius_m
        horizontal_sq -= p.moon_gravity_mps2
        return horizontal_sq

    # -- velocimeter ------------------------------------------------------------------------
    def vel_update(self, velocity_body_mps: FloatArray, usable: BoolArray) -> None:
        """Test and apply one velocimeter reading (N, 3) body axes per run where ``usable``."""
        p = self.params
        self.vel_last_accepted = np.zeros(self.n, dtype=bool)
        idx = np.flatnonzero(usable)
        if idx.size == 0:
            return
        vb = velocity_body_mps[idx]
        sp, cp = np.sin(self.pitch_rad[idx]), np.cos(self.pitch_rad[idx])
        sy, cy = np.sin(self.yaw_rad[idx]), np.cos(self.yaw_rad[idx])
        meas = np.stack(
            (
                cp * vb[:, 0] + sy * sp * vb[:, 1] - cy * sp * vb[:, 2],
                cy * vb[:, 1] + sy * vb[:, 2],
                sp * vb[:, 0] - sy * cp * vb[:, 1] + cy * cp * vb[:, 2],
            ),
            axis=-1,
        )
        nu = meas - self.velocity_mps[idx]
        speed = np.sqrt(meas[:, 0] ** 2 + meas[:, 1] ** 2 + meas[:, 2] ** 2)
        sigma = p.vel_noise_mps + p.vel_noise_fraction * speed
        r = sigma * sigma
        p_hh = self.p_hh[idx]
        p_zz, p_zv, p_vv = self.p_zz[idx], self.p_zv[idx], self.p_vv[idx]
        s_h, s_v = p_hh + r, p_vv + r
        floor = np.maximum(p.vel_gate_min_mps, p.vel_gate_fraction * speed)
        ok = np.abs(nu[:, 0]) <= np.maximum(floor, p.vel_gate_sigma * np.sqrt(s_h))
        ok &= np.abs(nu[:, 1]) <= np.maximum(floor, p.vel_gate_sigma * np.sqrt(s_h))
        ok &= np.abs(nu[:, 2]) <= np.maximum(floor, p.vel_gate_sigma * np.sqrt(s_v))
        k_h = np.where(ok, p_hh / s_h, 0.0)
        self.velocity_mps[idx, 0] += k_h * nu[:, 0]
        self.velocity_mps[idx, 1] += k_h * nu[:, 1]
        self.p_hh[idx] = (1.0 - k_h) * p_hh
        # vertical: measurement of the filter's second state (H = [0, 1])
        k_z, k_v = np.where(ok, p_zv / s_v, 0.0), np.where(ok, p_vv / s_v, 0.0)
        self.position_m[idx, 2] += k_z * nu[:, 2]
        self.velocity_mps[idx, 2] += k_v * nu[:, 2]
        self.p_zz[idx] = p_zz - k_z * p_zv
        self.p_zv[idx] = p_zv - k_z * p_vv
        self.p_vv[idx] = p_vv - k_v * p_vv
        self.vel_last_innovation_mps[idx] = nu
        self.vel_accepted[idx] += ok
        self.vel_rejected[idx] += ~ok
        self.vel_last_accepted[idx] = ok

    # -- LRF --------------------------------------------------------------------------------
    def altitude_m(self) -> FloatArray:
        """Estimated height above the onboard terrain map directly below, m."""
        return self.position_m[:, 2] - self.terrain_map.height_m(self.position_m[:, 0])

    def lrf_update(self, time_s: float, slant_range_m: FloatArray, usable: BoolArray) -> None:
        """Test and apply one LRF reading per run where ``usable`` (valid and in a flight mode)."""
        p = self.params
        self.lrf_last_accepted = np.zeros(self.n, dtype=bool)
        use = usable & ~self.lrf_latched
        idx = np.flatnonzero(use)
        if idx.size == 0:
            return
        meas = slant_range_m[idx]
        pos = self.position_m[idx]
        beam = beam_direction(self.pitch_rad[idx], self.yaw_rad[idx], self._cant_rad)
        down = np.maximum(-beam[:, 2], 1e-3)
        # each run's own search range: a run's prediction never depends on the batch
        pred = self.terrain_map.slant_range_m(pos, beam, meas * 2.0 + 1000.0)
        flat = (pos[:, 2] - self.terrain_map.height_m(pos[:, 0])) / down
        pred = np.where(np.isfinite(pred), pred, flat)
        nu = meas - pred
        sigma = p.lrf_noise_m + p.lrf_noise_fraction * meas
        r_z = (sigma * down) ** 2
        p_zz, p_zv, p_vv = self.p_zz[idx], self.p_zv[idx], self.p_vv[idx]
        s_z = p_zz + r_z
        gate = np.maximum(
            np.maximum(p.gate_min_m, p.gate_fraction * meas), p.gate_sigma * np.sqrt(s_z) / down
        )
        ok = np.abs(nu) <= gate
        # altitude-equivalent innovation: a longer range than predicted means higher up
        nu_z = nu * down
        k_z, k_v = p_zz / s_z, p_zv / s_z
        self.position_m[idx, 2] += np.where(ok, k_z * nu_z, 0.0)
        self.velocity_mps[idx, 2] += np.where(ok, k_v * nu_z, 0.0)
        self.p_zz[idx] = np.where(ok, (1.0 - k_z) * p_zz, p_zz)
        self.p_zv[idx] = np.where(ok, (1.0 - k_z) * p_zv, p_zv)
        self.p_vv[idx] = np.where(ok, p_vv - k_v * p_zv, p_vv)
        self.lrf_last_innovation_m[idx] = nu
        self.lrf_accepted[idx] += ok
        self.lrf_rejected[idx] += ~ok
        first = ok & np.isnan(self.lrf_first_accept_time_s[idx])
        self.lrf_first_accept_time_s[idx[first]] = time_s
        accepted = np.zeros(self.n, dtype=bool)
        accepted[idx] = ok
        self.lrf_last_accepted = accepted
        consec = np.where(ok, 0, self._consecutive_rejects[idx] + 1)
        if p.gate_policy == "latch":
            self.lrf_latched[idx] |= consec >= p.latch_after
            self._consecutive_rejects[idx] = consec
            return
        agree = np.abs(nu_z - self._last_offset_m[idx]) <= p.reanchor_consistency_m
        streak = np.where(ok, 0, np.where(agree & (consec > 1), self._consistent[idx] + 1, 1))
        reanchor = streak >= p.reanchor_after
        self.position_m[idx, 2] += np.where(reanchor, nu_z, 0.0)
        self.p_zz[idx] = np.where(reanchor, 4.0 * r_z, self.p_zz[idx])
        self.p_zv[idx] = np.where(reanchor, 0.0, self.p_zv[idx])
        self.lrf_reanchored[idx] += reanchor
        self._last_offset_m[idx] = nu_z
        self._consistent[idx] = np.where(reanchor, 0, streak)
        self._consecutive_rejects[idx] = np.where(reanchor, 0, consec)


@njit(cache=True, nogil=True)
def _dead_reckon(
    time_s: FloatArray,
    start_time_s: float,
    specific_force_mps2: FloatArray,
    angular_rate_radps: FloatArray,
    accel_bias_mps2: FloatArray,
    calibrating: BoolArray,
    position_m: FloatArray,
    velocity_mps: FloatArray,
    pitch_rad: FloatArray,
    yaw_rad: FloatArray,
    peak_specific_force_mps2: FloatArray,
    moon_gravity_mps2: float,
    inverse_moon_radius_per_m: float,
) -> None:  # pragma: no cover - compiled; tested through Navigation.propagate
    """Dead-reckon k IMU samples for every run, in place (see the module docstring).

    Attitude: ``yaw -= w_x dt``, ``pitch -= w_y dt / cos(yaw at block start)``. Specific force
    minus the bias (zero while calibrating) is rotated to ENU with the attitude after the
    sample; gravity ``-g + v_h^2 / R`` is taken at block start. Velocity is summed, then
    position with the new velocity (semi-implicit). Also writes the largest |f| of the block.
    """
    n_runs = position_m.shape[0]
    k = time_s.shape[0]
    for i in range(n_runs):
        vx, vy, vz = velocity_mps[i, 0], velocity_mps[i, 1], velocity_mps[i, 2]
        x, y, z = position_m[i, 0], position_m[i, 1], position_m[i, 2]
        yaw, pitch = yaw_rad[i], pitch_rad[i]
        inverse_cos_yaw0 = 1.0 / math.cos(yaw)
        gravity = (vx * vx + vy * vy) * inverse_moon_radius_per_m - moon_gravity_mps2
        zeroed = calibrating[i]
        peak_sq = 0.0
        previous_s = start_time_s
        for s in range(k):
            dt = time_s[s] - previous_s
            previous_s = time_s[s]
            if zeroed:
                fx = fy = fz = 0.0
            else:
                fx = specific_force_mps2[i, s, 0] - accel_bias_mps2[i, 0]
                fy = specific_force_mps2[i, s, 1] - accel_bias_mps2[i, 1]
                fz = specific_force_mps2[i, s, 2] - accel_bias_mps2[i, 2]
            peak_sq = max(peak_sq, fx * fx + fy * fy + fz * fz)
            yaw -= angular_rate_radps[i, s, 0] * dt
            pitch -= angular_rate_radps[i, s, 1] * dt * inverse_cos_yaw0
            sp, cp = math.sin(pitch), math.cos(pitch)
            sy, cy = math.sin(yaw), math.cos(yaw)
            t1 = fy * sy - fz * cy
            vx += (fx * cp + t1 * sp) * dt
            vy += (fy * cy + fz * sy) * dt
            vz += (fx * sp - t1 * cp + gravity) * dt
            x += vx * dt
            y += vy * dt
            z += vz * dt
        velocity_mps[i, 0], velocity_mps[i, 1], velocity_mps[i, 2] = vx, vy, vz
        position_m[i, 0], position_m[i, 1], position_m[i, 2] = x, y, z
        yaw_rad[i], pitch_rad[i] = yaw, pitch
        # the peak since the guidance cycle last took it: the FC may get its IMU frames one
        # at a time (free-running) or a 20 ms block at once (lockstep), same peak either way
        peak_specific_force_mps2[i] = max(peak_specific_force_mps2[i], math.sqrt(peak_sq))
