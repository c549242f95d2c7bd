"""Guidance of the simulated flight software: ZEM/ZEV to the gates, terminal descent.

Pure functions on (N, ...) arrays. Phases and targets (site at the origin, z = height above
the site's terrain level):

* **BRAKING** (PDI -> high gate): ZEM/ZEV with ``a_T = 6 ZEM / tgo^2 - 2 ZEV / tgo`` (ZEM and
  ZEV include gravity, so ``a_T`` is the thrust acceleration). ``tgo`` counts down from a
  braking duration fixed at ignition; the nominal PDI point and that duration are chosen
  together so the burn runs near full thrust (see ``hil.models.closed_loop``). High gate
  [chosen]: 3 km uprange, 2 km up, (+60, 0, -25) m/s.
* **APPROACH** (high gate -> low gate): the same law to the low gate: 100 m above the site,
  (0, 0, -3) m/s, over a fixed ``approach_time_s``.
* **TERMINAL**: horizontal velocity nulled (``a_h = -k v_h``), vertical speed tracks
  ``-min(touchdown_speed + k_h * altitude, terminal_max_speed)`` down to touchdown.

``tgo`` never goes below ``tgo_floor_s`` inside the law (the gains grow as 1/tgo^2).
:func:`thrust_command` turns a thrust acceleration into throttle and (pitch, yaw), limiting
tilt; a tilt-limited command keeps the vertical component.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class GuidanceParams:
    """Guidance targets and limits (all chosen for the HAKUTO-R class model, DESIGN 5)."""

    braking_time_s: float = 520.0
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


def zem_zev_accel(
    position_m: FloatArray,
    velocity_mps: FloatArray,
    target_position_m: FloatArray,
    target_velocity_mps: FloatArray,
    tgo_s: FloatArray,
    gravity_mps2: FloatArray,
) -> FloatArray:
    """Thrust acceleration (N, 3) of the ZEM/ZEV law; ``gravity_mps2`` is (N,) vertical g."""
    tgo = tgo_s[:, None]
    zem = target_position_m - position_m - velocity_mps * tgo
    zem[:, 2] -= 0.5 * gravity_mps2 * tgo_s**2
    zev = target_velocity_mps - velocity_mps
    zev[:, 2] -= gravity_mps2 * tgo_s
    return (6.0 * zem / tgo - 2.0 * zev) / tgo


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
    ax, ay, az = accel_mps2.T
    horiz = np.hypot(ax, ay)
    tilt = np.arctan2(horiz, az)
    limited = tilt > max_tilt_rad
    mag = np.sqrt(horiz * horiz + az * az)
    if not np.logical_or.reduce(limited, axis=None):
        # thrust along the acceleration: (pitch, yaw) straight from its components
        pitch = np.arctan2(-ax, az)
        yaw = np.arcsin(ay / np.maximum(mag, 1e-300))
        return mag * mass_kg / max_thrust_n, pitch, yaw
    tilt = np.minimum(tilt, max_tilt_rad)
    cos_t = np.cos(tilt)
    sin_t = np.sin(tilt)
    along_limit = np.maximum(horiz * sin_t + az * cos_t, 0.0)
    mag = np.where(limited, np.where(az > 0, az / np.maximum(cos_t, 1e-6), along_limit), mag)
    azimuth = np.arctan2(ay, ax)
    ux, uy, uz = sin_t * np.cos(azimuth), sin_t * np.sin(azimuth), cos_t
    pitch = np.arctan2(-ux, uz)
    yaw = np.arcsin(np.clip(uy, -1.0, 1.0))
    return mag * mass_kg / max_thrust_n, pitch, yaw
