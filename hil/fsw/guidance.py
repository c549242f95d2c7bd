"""Guidance of the simulated flight software: ZEM/ZEV to the gates, terminal descent.

Pure functions on (N, ...) arrays; the ZEM/ZEV law and the thrust command are compiled
(numba) loops over the runs, so one run costs one call (:mod:`hil.fsw.kernels`). Phases and
targets (site at the origin, z = height above the site's terrain level):

* **BRAKING** (PDI -> high gate): ZEM/ZEV with ``a_T = 6 ZEM / tgo^2 - 2 ZEV / tgo`` (ZEM and
  ZEV include gravity, so ``a_T`` is the thrust acceleration). ``tgo`` counts down from a
  braking duration fixed at ignition; the nominal PDI point (505 km uprange) and that
  duration are chosen together so the burn asks for at most ~93 % of full thrust, falling
  to ~75 % near the high gate. The rest is reserve: an engine a few % short of its nominal
  thrust (or a lander a few % heavier) flies the same plan at a higher throttle, the ZEM/ZEV
  law catching up what it lost (a plan at full thrust has nothing to catch up with, and the
  lander falls behind it, into the ground). High gate [chosen]: 3 km uprange, 2 km up,
  (+60, 0, -25) m/s.
* **APPROACH** (high gate -> low gate): the same law to the low gate: 100 m above the site,
  (0, 0, -3) m/s, over ``approach_time_s`` or, from a high gate reached off nominal, the
  shortest longer duration the engine can fly with margin (:func:`approach_time`).
* **TERMINAL**: horizontal velocity nulled (``a_h = -k v_h``), vertical speed tracks
  ``-min(touchdown_speed + k_h * altitude, terminal_max_speed)`` down to touchdown.

``tgo`` never goes below ``tgo_floor_s`` inside the law (the gains grow as 1/tgo^2).
:func:`thrust_command` turns a thrust acceleration into throttle and (pitch, yaw), limiting
tilt; a tilt-limited command keeps the vertical component. The flight software hands it (and
:func:`approach_time`) its mass estimate divided by the thrust efficiency it measured
(:mod:`hil.fsw.thrust`), so a command asks the real engine for the acceleration it means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit
from numpy.typing import NDArray

from hil.core.compiled import kernel_array

FloatArray = NDArray[np.float64]

STANDARD_GRAVITY_MPS2 = 9.80665


@dataclass(frozen=True)
class GuidanceParams:
    """Guidance targets and limits for the HAKUTO-R class model (docs/architecture.md §5)."""

    braking_time_s: float = 550.0
    high_gate_position_m: tuple[float, float, float] = (-3000.0, 0.0, 2000.0)
    high_gate_velocity_mps: tuple[float, float, float] = (60.0, 0.0, -25.0)
    approach_time_s: float = 90.0
    low_gate_position_m: tuple[float, float, float] = (0.0, 0.0, 100.0)
    low_gate_velocity_mps: tuple[float, float, float] = (0.0, 0.0, -3.0)
    tgo_floor_s: float = 5.0
    terminal_touchdown_speed_mps: float = 0.8
    terminal_speed_gain_per_s: float = 0.05
    terminal_max_speed_mps: float = 3.0
    terminal_velocity_gain_per_s: float = 0.5
    terminal_vertical_gain_per_s: float = 1.0
    max_tilt_braking_deg: float = 100.0
    max_tilt_approach_deg: float = 70.0
    max_tilt_terminal_deg: float = 6.0
    #: the approach may take up to this much longer than ``approach_time_s`` when the planned
    #: one would need more than the engine can give (see :func:`approach_time`)
    approach_stretch_max_s: float = 120.0
    approach_stretch_step_s: float = 5.0
    #: planning margins of the approach: thrust acceleration at most this fraction of the
    #: engine's, its vertical part at least this fraction of lunar gravity, and the planned
    #: path never lower than this fraction of the low gate's altitude
    approach_thrust_fraction: float = 0.8
    approach_min_vertical_fraction: float = 0.5
    approach_min_altitude_fraction: float = 0.5
    #: braking re-planned after a navigation jump may end up to this much later
    #: (see :func:`braking_time`)
    braking_stretch_max_s: float = 120.0
    braking_stretch_step_s: float = 5.0
    braking_thrust_fraction: float = 0.95
    braking_score_margin: float = 0.05


def zem_zev_accel(
    position_m: FloatArray,
    velocity_mps: FloatArray,
    target_position_m: FloatArray,
    target_velocity_mps: FloatArray,
    tgo_s: FloatArray,
    gravity_mps2: FloatArray,
) -> FloatArray:
    """Thrust acceleration (N, 3) of the ZEM/ZEV law; ``gravity_mps2`` is (N,) vertical g.

    Targets are (3,) (shared) or (N, 3); positions and velocities (N, 3).
    """
    position = kernel_array(position_m)
    accel = np.empty(position.shape)
    _zem_zev(
        accel,
        position,
        kernel_array(velocity_mps),
        kernel_array(target_position_m).reshape(-1, 3),
        kernel_array(target_velocity_mps).reshape(-1, 3),
        kernel_array(tgo_s).reshape(-1),
        kernel_array(gravity_mps2).reshape(-1),
    )
    return accel


@njit(cache=True, nogil=True)
def _zem_zev(
    accel: FloatArray,
    position: FloatArray,
    velocity: FloatArray,
    target_position: FloatArray,
    target_velocity: FloatArray,
    tgo_s: FloatArray,
    gravity: FloatArray,
) -> None:  # pragma: no cover - compiled; tested through zem_zev_accel
    """``a_T = 6 ZEM / tgo^2 - 2 ZEV / tgo`` per run (gravity only along z)."""
    shared = target_position.shape[0] == 1
    for i in range(position.shape[0]):
        r = 0 if shared else i
        tgo = tgo_s[i]
        for c in range(3):
            zem = target_position[r, c] - position[i, c] - velocity[i, c] * tgo
            zev = target_velocity[r, c] - velocity[i, c]
            if c == 2:
                zem -= 0.5 * gravity[i] * tgo * tgo
                zev -= gravity[i] * tgo
            accel[i, c] = (6.0 * zem / tgo - 2.0 * zev) / tgo


def terminal_accel(
    velocity_mps: FloatArray, altitude_m: FloatArray, gravity_mps2: FloatArray, p: GuidanceParams
) -> FloatArray:
    """Thrust acceleration (N, 3) for the terminal vertical descent."""
    speed = np.minimum(
        p.terminal_touchdown_speed_mps + p.terminal_speed_gain_per_s * np.maximum(altitude_m, 0),
        p.terminal_max_speed_mps,
    )
    acc = -p.terminal_velocity_gain_per_s * velocity_mps
    acc[:, 2] = p.terminal_vertical_gain_per_s * (-speed - velocity_mps[:, 2]) - gravity_mps2
    return acc


def thrust_command(
    accel_mps2: FloatArray,
    mass_kg: FloatArray,
    max_thrust_n: float,
    max_tilt_rad: FloatArray | float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Throttle fraction (unclamped, >= 0), pitch and yaw (rad) for thrust accelerations (N, 3).

    Tilt from vertical is limited to ``max_tilt_rad``. Where limited and the request points
    up, the horizontal part is shortened and the thrust set to keep the vertical acceleration.
    Where it points level or down (the engine cannot pull), the thrust is the part of the
    request along the tilt-limited direction, and none if that part is negative: an engine
    asked to help the lander down must never push it up at full thrust.
    """
    accel = kernel_array(accel_mps2)
    out = np.empty((3, accel.shape[0]))
    mass = kernel_array(mass_kg).reshape(-1)
    tilt = kernel_array(max_tilt_rad).reshape(-1)
    _thrust_command(out, accel, mass, float(max_thrust_n), tilt)
    return out[0], out[1], out[2]


@njit(cache=True, nogil=True)
def _thrust_command(
    out: FloatArray,
    accel: FloatArray,
    mass_kg: FloatArray,
    max_thrust_n: float,
    max_tilt_rad: FloatArray,
) -> None:  # pragma: no cover - compiled; tested through thrust_command
    """Rows of ``out`` (3, N): throttle fraction, pitch, yaw. Mass and tilt: N values or 1."""
    shared_mass = mass_kg.shape[0] == 1
    shared_tilt = max_tilt_rad.shape[0] == 1
    for i in range(accel.shape[0]):
        ax, ay, az = accel[i, 0], accel[i, 1], accel[i, 2]
        mass = mass_kg[0 if shared_mass else i]
        limit = max_tilt_rad[0 if shared_tilt else i]
        horiz = math.hypot(ax, ay)
        magnitude = math.sqrt(horiz * horiz + az * az)
        if math.atan2(horiz, az) <= limit:
            # thrust along the acceleration: (pitch, yaw) straight from its components
            pitch = math.atan2(-ax, az)
            yaw = math.asin(ay / max(magnitude, 1e-300))
        else:
            cos_t, sin_t = math.cos(limit), math.sin(limit)
            # pointing up: keep the vertical part; level or down: the part along the limit
            up = az > 0.0
            magnitude = az / max(cos_t, 1e-6) if up else max(horiz * sin_t + az * cos_t, 0.0)
            azimuth = math.atan2(ay, ax)
            pitch = math.atan2(-sin_t * math.cos(azimuth), cos_t)
            yaw = math.asin(min(max(sin_t * math.sin(azimuth), -1.0), 1.0))
        out[0, i] = magnitude * mass / max_thrust_n
        out[1, i] = pitch
        out[2, i] = yaw


def _segment_ends(
    position_m: FloatArray,
    velocity_mps: FloatArray,
    gravity_mps2: FloatArray,
    target_position_m: tuple[float, float, float],
    target_velocity_mps: tuple[float, float, float],
    durations_s: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """ZEM/ZEV thrust accelerations (N, K, 3) at the start and the end of a segment to the
    target, for each of K durations (same for every run, or (N, K) per run).

    The law's acceleration is linear in time when unconstrained, from
    ``a(0) = 6 ZEM / T^2 - 2 ZEV / T`` to ``a(T) = 4 ZEV / T - 6 ZEM / T^2``, so
    ``a(0) + a(T) = 2 ZEV / T``.
    """
    position = kernel_array(position_m)
    n = position.shape[0]
    tgo = np.broadcast_to(np.asarray(durations_s, dtype=np.float64), (n, np.shape(durations_s)[-1]))
    k = tgo.shape[1]
    tgo = tgo.reshape(-1)  # (N K,): run-major
    velocity = np.repeat(kernel_array(velocity_mps), k, axis=0)
    g = np.repeat(kernel_array(gravity_mps2).reshape(-1), k)
    target_velocity = kernel_array(target_velocity_mps)
    start = zem_zev_accel(
        np.repeat(position, k, axis=0),
        velocity,
        kernel_array(target_position_m),
        target_velocity,
        tgo,
        g,
    )
    zev = target_velocity - velocity
    zev[:, 2] -= g * tgo
    end = 2.0 * zev / tgo[:, None] - start
    return start.reshape(n, k, 3), end.reshape(n, k, 3)


def approach_time(
    position_m: FloatArray,
    velocity_mps: FloatArray,
    gravity_mps2: FloatArray,
    mass_kg: FloatArray,
    max_thrust_n: float,
    p: GuidanceParams,
) -> FloatArray:
    """Duration (N,) of the approach from this state: ``approach_time_s``, or longer.

    A duration is flyable when at both ends of the segment (:func:`_segment_ends`) the tilt
    is within ``max_tilt_approach_deg``, the magnitude within ``approach_thrust_fraction`` of
    the engine and the vertical part at least ``approach_min_vertical_fraction`` of lunar
    gravity (the lander is never asked to fall faster than it can later brake), and the
    planned path stays above ``approach_min_altitude_fraction`` of the low gate's altitude
    (:func:`_segment_lowest_m`: a long plan from a fast descent passes below the ground on
    its way back up to the gate). The shortest flyable duration in steps of
    ``approach_stretch_step_s`` is chosen, at most ``approach_stretch_max_s`` longer; from a
    nominal high gate that is ``approach_time_s`` itself. An off-nominal one (arriving low,
    slow, or climbing) no longer dives at minimum throttle and runs out of time to brake.

    When no duration is flyable with margin, the shortest one that never dives and never
    plans below the ground is chosen (it asks for more than the margin allows and the
    engine gives what it has), else ``approach_time_s``. F2's control (a high gate reached
    1.7 km up, descending at 66 m/s) takes the first branch: 65 s, asking 3.7 m/s^2 of an
    engine whose margin allows 2.9; before the ground check it flew the 180 s plan, the
    shortest within the margin, whose path went through the ground.
    """
    extra = np.arange(0.0, p.approach_stretch_max_s + 1e-9, p.approach_stretch_step_s)
    duration = p.approach_time_s + extra  # (K,) candidates
    start, end = _segment_ends(
        position_m,
        velocity_mps,
        gravity_mps2,
        p.low_gate_position_m,
        p.low_gate_velocity_mps,
        duration,
    )
    a_max = p.approach_thrust_fraction * max_thrust_n / np.asarray(mass_kg).reshape(-1)[:, None]
    tan_limit = math.tan(math.radians(min(p.max_tilt_approach_deg, 89.9)))
    gravity = np.asarray(gravity_mps2, dtype=np.float64).reshape(-1, 1)
    min_vertical = p.approach_min_vertical_fraction * np.abs(gravity)
    lowest = _segment_lowest_m(position_m, velocity_mps, gravity, start, end, duration)
    safe = lowest >= p.approach_min_altitude_fraction * p.low_gate_position_m[2]
    ok = np.ones(start.shape[:2], dtype=bool)
    for a in (start, end):
        horizontal = np.hypot(a[..., 0], a[..., 1])
        vertical = a[..., 2]
        safe &= vertical >= min_vertical
        ok &= horizontal <= vertical * tan_limit
        ok &= np.hypot(horizontal, vertical) <= a_max
    ok &= safe
    chosen = np.where(ok.any(axis=1), np.argmax(ok, axis=1), np.argmax(safe, axis=1))
    return np.where(ok.any(axis=1) | safe.any(axis=1), duration[chosen], p.approach_time_s)


def _segment_lowest_m(
    position_m: FloatArray,
    velocity_mps: FloatArray,
    gravity_mps2: FloatArray,
    start: FloatArray,
    end: FloatArray,
    durations_s: FloatArray,
    samples: int = 24,
) -> FloatArray:
    """Lowest altitude (N, K) of each planned segment: the law's thrust acceleration runs
    linearly from ``start`` to ``end`` (:func:`_segment_ends`), so the planned altitude is the
    cubic ``z0 + v0 t + (a0 + g) t^2 / 2 + (a1 - a0) t^3 / (6 T)``, sampled at ``samples``
    times over each duration ``T``."""
    z0 = np.asarray(position_m, dtype=np.float64)[:, 2][:, None, None]
    vz0 = np.asarray(velocity_mps, dtype=np.float64)[:, 2][:, None, None]
    g = np.asarray(gravity_mps2, dtype=np.float64).reshape(-1, 1, 1)
    a0 = start[..., 2][..., None]
    a1 = end[..., 2][..., None]
    total = np.broadcast_to(np.asarray(durations_s, dtype=np.float64), a0.shape[:2])[..., None]
    t = total * np.linspace(0.0, 1.0, samples)[None, None, :]
    z = z0 + vz0 * t + 0.5 * (a0 + g) * t * t + (a1 - a0) * t**3 / (6.0 * total)
    return np.asarray(z.min(axis=2))


def braking_time(
    position_m: FloatArray,
    velocity_mps: FloatArray,
    gravity_mps2: FloatArray,
    mass_kg: FloatArray,
    max_thrust_n: float,
    time_to_go_s: FloatArray,
    isp_s: float,
    p: GuidanceParams,
) -> FloatArray:
    """Time to go (N,) to the high gate re-planned from this state: ``time_to_go_s`` or longer.

    For a navigation state that jumped (the altitude re-anchored on the LRF) the remaining
    braking may no longer be flyable in the time left: from a state 3 km higher than planned
    with a minute to go, the law dives (thrust pointing down) and then asks for more than
    the engine has at the gate. Each candidate ``time_to_go_s + j * braking_stretch_step_s``
    (up to ``braking_stretch_max_s`` longer) is scored by the larger of its two ends'
    thrust acceleration (:func:`_segment_ends`) over the engine's, the end's at the mass left
    after the segment's delta-v (rocket equation, ``isp_s``). The shortest candidate scored at most
    ``braking_thrust_fraction`` is chosen (the time left itself when it is), else the
    best-scored one.
    """
    extra = np.arange(0.0, p.braking_stretch_max_s + 1e-9, p.braking_stretch_step_s)
    tgo = np.maximum(np.asarray(time_to_go_s, dtype=np.float64).reshape(-1), p.tgo_floor_s)
    duration = tgo[:, None] + extra[None, :]  # (N, K)
    start, end = _segment_ends(
        position_m,
        velocity_mps,
        gravity_mps2,
        p.high_gate_position_m,
        p.high_gate_velocity_mps,
        duration,
    )
    mass = np.asarray(mass_kg, dtype=np.float64).reshape(-1, 1)
    a0 = np.linalg.norm(start, axis=2)
    a1 = np.linalg.norm(end, axis=2)
    delta_v = 0.5 * (a0 + a1) * duration
    end_mass = mass * np.exp(-delta_v / (isp_s * STANDARD_GRAVITY_MPS2))
    score = np.maximum(a0 * mass, a1 * end_mass) / max_thrust_n
    bound = np.maximum(p.braking_thrust_fraction, score.min(axis=1) + p.braking_score_margin)
    best = np.argmax(score <= bound[:, None], axis=1)
    return duration[np.arange(duration.shape[0]), best]
