"""Truth dynamics of the descending lander: state layout, parameters, block propagation.

Frame: landing-site East-North-Up. x = downrange (the ground track runs along +x toward the
site at x = 0), y = crossrange, z = up (height above the site's terrain level 0).

Thrust direction, roll fixed at 0. Body frame ``R = Ry(-pitch) @ Rx(-yaw)`` (body to ENU):

* body z = thrust axis ``u = (-sin p cos y, sin y, cos p cos y)``; the engine pushes along +u;
* body x = ``(cos p, 0, sin p)``; body y = ``(sin p sin y, cos y, -cos p sin y)``.

Positive pitch tilts the thrust toward -x, i.e. *against* the +x ground-track velocity (braking);
positive yaw tilts it toward +y. Body angular rate for angle rates (p', y'):
``omega_body = (-y', -p' cos y, -p' sin y)``.

Everything works on a leading batch axis of N runs: a state is an ``(N, STATE_SIZE)`` array with
the columns named below, a command an ``(N, COMMAND_SIZE)`` array.

Integration (1 ms truth step, semi-implicit Euler), for step j -> j+1 with the command held:

1. throttle and thrust-direction lags advance (exact first-order lag; the direction lag is
   also rate limited: ``angle += clip((cmd - angle) * (1 - exp(-dt/tau)), +-rate*dt)``);
2. thrust ``T = throttle_{j+1} * T_max`` if ``mass_j > dry`` else 0;
3. ``a = g_eff(v_j) + T / mass_j * u(angles_{j+1})`` with
   ``g_eff = (0, 0, -g_moon + (vx_j**2 + vy_j**2) / R_moon)`` evaluated every step;
4. ``v_{j+1} = v_j + a dt``; ``r_{j+1} = r_j + v_{j+1} dt``;
   ``mass_{j+1} = max(mass_j - T dt / (Isp g0), dry)``.

:func:`propagate` evaluates a block of such steps vectorised along a time axis (closed-form lags,
cumulative sums seeded with the initial value, so the sums run in the same order as the loop)
and agrees with :func:`step_reference` applied step by step to round-off. The centrifugal term
is not frozen: the horizontal velocity does not depend on it, so it is summed first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

# --- state columns -------------------------------------------------------------------------
X, Y, Z = 0, 1, 2  #: position, m (ENU, landing site at the origin)
VX, VY, VZ = 3, 4, 5  #: velocity, m/s
MASS = 6  #: total mass, kg
THROTTLE = 7  #: actual throttle, fraction of max thrust (0 = off, else 0.2 .. 1 once settled)
PITCH = 8  #: actual thrust pitch, rad (from local vertical toward -x)
YAW = 9  #: actual thrust yaw, rad (toward +y)
TIME = 10  #: simulated time, s
STATE_SIZE = 11
POS = slice(X, Z + 1)
VEL = slice(VX, VZ + 1)

# --- command columns -----------------------------------------------------------------------
CMD_THROTTLE = 0  #: commanded throttle fraction; <= 0 is engine off, else clamped to [min, 1]
CMD_PITCH = 1  #: commanded thrust pitch, rad
CMD_YAW = 2  #: commanded thrust yaw, rad
COMMAND_SIZE = 3


@dataclass(frozen=True)
class LanderParams:
    """Physical parameters of the lander and the Moon (DESIGN 5; [A] = assumed)."""

    dry_mass_kg: float = 340.0
    wet_mass_kg: float = 750.0  #: mass at powered-descent start [A]
    max_thrust_n: float = 2000.0  #: [A]
    min_throttle: float = 0.2  #: lowest throttle when on [A]
    isp_s: float = 310.0
    g0_mps2: float = 9.80665
    moon_gravity_mps2: float = 1.62
    moon_radius_m: float = 1_737_400.0
    throttle_tau_s: float = 0.1  #: [A]
    direction_tau_s: float = 0.3  #: thrust-direction lag [A]
    direction_rate_limit_radps: float = math.radians(10.0)  #: thrust-direction slew limit [A]

    @property
    def exhaust_velocity_mps(self) -> float:
        """Effective exhaust velocity Isp * g0, m/s."""
        return self.isp_s * self.g0_mps2


@dataclass(frozen=True)
class BlockSamples:
    """Per-truth-step history of one :func:`propagate` block; arrays are ``(N, n_steps, ...)``.

    Step j covers ``[t0 + j dt, t0 + (j + 1) dt)``; force and rate are constant over it,
    position, velocity and angles are the values at its end.
    """

    dt_s: float
    time_s: FloatArray  #: (N, n) end time of each step, s
    specific_force_body_mps2: FloatArray  #: (N, n, 3) thrust / mass in body axes, m/s^2
    angular_rate_body_radps: FloatArray  #: (N, n, 3) body rate over the step, rad/s
    position_m: FloatArray  #: (N, n, 3)
    velocity_mps: FloatArray  #: (N, n, 3)
    pitch_rad: FloatArray  #: (N, n)
    yaw_rad: FloatArray  #: (N, n)
    mass_kg: FloatArray  #: (N, n)


def throttle_setpoint(command: FloatArray, params: LanderParams) -> FloatArray:
    """Map commanded throttle fractions to what the engine will settle at (0 or [min, 1])."""
    return np.where(command > 0.0, np.clip(command, params.min_throttle, 1.0), 0.0)


def thrust_axis(pitch_rad: FloatArray, yaw_rad: FloatArray) -> FloatArray:
    """Unit thrust axis (body z) in ENU for the given angles; shape ``(..., 3)``."""
    cy = np.cos(yaw_rad)
    return np.stack((-np.sin(pitch_rad) * cy, np.sin(yaw_rad), np.cos(pitch_rad) * cy), axis=-1)


def body_axes(pitch_rad: FloatArray, yaw_rad: FloatArray) -> FloatArray:
    """Body-to-ENU rotation matrices, shape ``(..., 3, 3)``; columns are body x, y, z."""
    sp, cp = np.sin(pitch_rad), np.cos(pitch_rad)
    sy, cy = np.sin(yaw_rad), np.cos(yaw_rad)
    zero = np.zeros_like(sp)
    rows = (
        (cp, sp * sy, -sp * cy),
        (zero, cy, sy),
        (sp, -cp * sy, cp * cy),
    )
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def initial_state(
    n: int,
    position_m: tuple[float, float, float],
    velocity_mps: tuple[float, float, float],
    mass_kg: float,
    pitch_rad: float = 0.0,
    yaw_rad: float = 0.0,
    time_s: float = 0.0,
) -> FloatArray:
    """Build an ``(n, STATE_SIZE)`` state with the engine off."""
    state = np.zeros((n, STATE_SIZE))
    state[:, POS] = position_m
    state[:, VEL] = velocity_mps
    state[:, MASS] = mass_kg
    state[:, PITCH] = pitch_rad
    state[:, YAW] = yaw_rad
    state[:, TIME] = time_s
    return state


@lru_cache(maxsize=32)
def _powers(n_steps: int, factor: float) -> FloatArray:
    powers = factor ** np.arange(1, n_steps + 1, dtype=np.float64)
    powers.setflags(write=False)
    return powers


@lru_cache(maxsize=8)
def _step_index(n_steps: int) -> FloatArray:
    idx = np.arange(1, n_steps + 1, dtype=np.float64)
    idx.setflags(write=False)
    return idx


_accumulate = np.add.accumulate  # cumsum without the wrapper overhead; sums in order


def _direction_history(
    angle0: FloatArray, command: FloatArray, params: LanderParams, dt_s: float, n_steps: int
) -> FloatArray:
    """Rate-limited first-order lag, closed form; angles after steps 1..n, shape (N, k, n)."""
    lag = math.exp(-dt_s / params.direction_tau_s)
    gain = 1.0 - lag
    rate_step = params.direction_rate_limit_radps * dt_s
    err0 = command - angle0  # (N, k)
    if np.maximum.reduce(np.abs(err0), axis=None) * gain <= rate_step:  # no rate limiting
        return command[..., None] - err0[..., None] * _powers(n_steps, lag)
    mag0 = np.abs(err0)
    # number of leading steps that hit the rate limit: those with |e_j| * gain > rate_step
    n_lin = np.maximum(np.ceil((mag0 - rate_step / gain) / rate_step), 0.0)[..., None]
    j = _step_index(n_steps)
    mag_lin = mag0[..., None] - np.minimum(j, n_lin) * rate_step
    err = np.sign(err0)[..., None] * mag_lin * lag ** np.maximum(j - n_lin, 0.0)
    return command[..., None] - err


def propagate(
    state: FloatArray,
    command: FloatArray,
    params: LanderParams,
    dt_s: float = 0.001,
    n_steps: int = 20,
) -> tuple[FloatArray, BlockSamples]:
    """Advance N states by ``n_steps`` truth steps of ``dt_s`` with the command held.

    ``state`` is ``(N, STATE_SIZE)``, ``command`` ``(N, COMMAND_SIZE)`` (throttle fraction,
    pitch rad, yaw rad). Returns the final state and the per-step :class:`BlockSamples`.
    Raises ValueError if the shapes do not match.
    """
    if (
        state.ndim != 2
        or state.shape[1] != STATE_SIZE
        or command.shape
        != (
            state.shape[0],
            COMMAND_SIZE,
        )
    ):
        raise ValueError(
            f"propagate: state must be (N, {STATE_SIZE}) and command (N, {COMMAND_SIZE}); "
            f"got {state.shape} and {command.shape}"
        )
    # lags -----------------------------------------------------------------------------------
    cmd_thr = command[:, CMD_THROTTLE]
    thr_set = np.minimum(np.maximum(cmd_thr, params.min_throttle), 1.0) * (cmd_thr > 0.0)
    thr0 = state[:, THROTTLE]
    thr = thr_set[:, None] + (thr0 - thr_set)[:, None] * _powers(
        n_steps, math.exp(-dt_s / params.throttle_tau_s)
    )  # (N, n) throttle after each step
    ang0 = state[:, PITCH : YAW + 1]
    ang = _direction_history(
        ang0, command[:, CMD_PITCH : CMD_YAW + 1], params, dt_s, n_steps
    )  # (N, 2, n)
    # mass and thrust ------------------------------------------------------------------------
    dm = thr * (-params.max_thrust_n * dt_s / params.exhaust_velocity_mps)
    mass0 = state[:, MASS : MASS + 1]
    m_seq = _accumulate(np.concatenate((mass0, dm), axis=1), 1)  # (N, n+1)
    dry = params.dry_mass_kg
    thr_on = thr
    if not np.minimum.reduce(m_seq[:, -2]) > dry:
        burning = m_seq[:, :-1] > dry
        thr_on = thr * burning
        m_seq = _accumulate(np.concatenate((mass0, dm * burning), axis=1), 1)
        np.maximum(m_seq, dry, out=m_seq)
    elif not np.minimum.reduce(m_seq[:, -1]) >= dry:
        np.maximum(m_seq, dry, out=m_seq)
    m_prev = m_seq[:, :-1]
    accel = thr_on * params.max_thrust_n / m_prev  # (N, n) specific force magnitude
    # translation ----------------------------------------------------------------------------
    sin_a, cos_a = np.sin(ang), np.cos(ang)
    sp, sy = sin_a[:, 0], sin_a[:, 1]
    cp, cy = cos_a[:, 0], cos_a[:, 1]
    acc_cy = accel * cy
    n = state.shape[0]
    dv = np.empty((n, n_steps + 1, 3))  # row 0 = initial velocity, then a * dt per step
    dv[:, 0] = state[:, VEL]
    dv[:, 1:, 0] = acc_cy * sp
    dv[:, 1:, 0] *= -dt_s
    dv[:, 1:, 1] = accel * sy
    dv[:, 1:, 1] *= dt_s
    _accumulate(dv[:, :, :2], 1, out=dv[:, :, :2])  # horizontal velocity history
    vh_prev = dv[:, :-1, :2]
    g_eff = np.einsum("ijk,ijk->ij", vh_prev, vh_prev)
    g_eff *= 1.0 / params.moon_radius_m
    g_eff -= params.moon_gravity_mps2
    g_eff += acc_cy * cp
    g_eff *= dt_s
    dv[:, 1:, 2] = g_eff
    _accumulate(dv[:, :, 2], 1, out=dv[:, :, 2])
    vel = dv[:, 1:]  # (N, n, 3)
    dr = dv * dt_s
    dr[:, 0] = state[:, POS]
    pos = _accumulate(dr, 1)[:, 1:]
    # samples --------------------------------------------------------------------------------
    f_body = np.zeros((n, n_steps, 3))
    f_body[:, :, 2] = accel
    rates = np.diff(ang, axis=2, prepend=ang0[:, :, None])
    rates *= 1.0 / dt_s
    w_body = np.empty((n, n_steps, 3))
    w_body[:, :, 0] = rates[:, 1]
    w_body[:, :, 1] = rates[:, 0] * cy
    w_body[:, :, 2] = rates[:, 0] * sy
    np.negative(w_body, out=w_body)
    t_steps = state[:, TIME : TIME + 1] + dt_s * _step_index(n_steps)
    final = np.empty_like(state)
    final[:, POS] = pos[:, -1]
    final[:, VEL] = vel[:, -1]
    final[:, MASS] = m_seq[:, -1]
    final[:, THROTTLE] = thr[:, -1]
    final[:, PITCH : YAW + 1] = ang[:, :, -1]
    final[:, TIME] = t_steps[:, -1]
    samples = BlockSamples(
        dt_s=dt_s,
        time_s=t_steps,
        specific_force_body_mps2=f_body,
        angular_rate_body_radps=w_body,
        position_m=pos,
        velocity_mps=vel,
        pitch_rad=ang[:, 0],
        yaw_rad=ang[:, 1],
        mass_kg=m_seq[:, 1:],
    )
    return final, samples


def step_reference(
    state: FloatArray, command: FloatArray, params: LanderParams, dt_s: float = 0.001
) -> FloatArray:
    """One truth step written out plainly: the reference :func:`propagate` is tested against."""
    out = state.copy()
    thr_set = throttle_setpoint(command[:, CMD_THROTTLE], params)
    lag = math.exp(-dt_s / params.throttle_tau_s)
    out[:, THROTTLE] = thr_set + (state[:, THROTTLE] - thr_set) * lag
    dlag = math.exp(-dt_s / params.direction_tau_s)
    rate_step = params.direction_rate_limit_radps * dt_s
    for col, ccol in ((PITCH, CMD_PITCH), (YAW, CMD_YAW)):
        err = command[:, ccol] - state[:, col]
        out[:, col] = state[:, col] + np.clip(err * (1.0 - dlag), -rate_step, rate_step)
    burning = state[:, MASS] > params.dry_mass_kg
    thrust = out[:, THROTTLE] * params.max_thrust_n * burning
    u = thrust_axis(out[:, PITCH], out[:, YAW])
    g_eff = (state[:, VX] ** 2 + state[:, VY] ** 2) / params.moon_radius_m - (
        params.moon_gravity_mps2
    )
    acc = (thrust / state[:, MASS])[:, None] * u
    acc[:, 2] += g_eff
    out[:, VEL] = state[:, VEL] + acc * dt_s
    out[:, POS] = state[:, POS] + out[:, VEL] * dt_s
    out[:, MASS] = np.maximum(
        state[:, MASS] - thrust * dt_s / params.exhaust_velocity_mps, params.dry_mass_kg
    )
    out[:, TIME] = state[:, TIME] + dt_s
    return out


# --- truth quantities ----------------------------------------------------------------------
def tilt_rad(pitch_rad: FloatArray, yaw_rad: FloatArray) -> FloatArray:
    """Angle between the thrust (body z) axis and local vertical, rad."""
    return np.arccos(np.clip(np.cos(pitch_rad) * np.cos(yaw_rad), -1.0, 1.0))


def vertical_speed_mps(state: FloatArray) -> FloatArray:
    """Vertical velocity (positive up), m/s."""
    return state[:, VZ]


def horizontal_speed_mps(state: FloatArray) -> FloatArray:
    """Magnitude of the horizontal velocity, m/s."""
    return np.hypot(state[:, VX], state[:, VY])


def propellant_kg(state: FloatArray, params: LanderParams) -> FloatArray:
    """Propellant left, kg."""
    return state[:, MASS] - params.dry_mass_kg
