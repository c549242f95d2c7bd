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

:func:`propagate` runs a block of such steps for every run in one call compiled by numba
(``cache=True``: compiled once per install, then loaded from ``__pycache__``); it agrees with
:func:`step_reference` (the same steps written with numpy) to round-off. The numpy version
needed dozens of calls a block, whose fixed cost dominated a single run (31 us vs 5 us).

Per-run parameters: the lander of every run may differ (Monte Carlo dispersions of dry mass,
maximum thrust and Isp, :class:`RunLander`, arrays of shape (N,)); without one every run flies
the scalar :class:`LanderParams`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numba import njit
from numpy.typing import NDArray

from hil.core.compiled import kernel_array

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
    """Physical parameters of the lander and the Moon (docs/architecture.md §5; [A] = assumed)."""

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
class RunLander:
    """Per-run truth lander parameters, each of shape (N,) (dispersed around LanderParams).

    Only the truth uses them; the flight software knows the nominal values.
    """

    dry_mass_kg: FloatArray
    max_thrust_n: FloatArray
    isp_s: FloatArray

    @classmethod
    def nominal(cls, params: LanderParams, n: int) -> RunLander:
        """N runs that all fly ``params``."""
        return cls(
            np.full(n, params.dry_mass_kg),
            np.full(n, params.max_thrust_n),
            np.full(n, params.isp_s),
        )

    def take(self, rows: NDArray[np.intp] | slice) -> RunLander:
        """The parameters of runs ``rows`` only."""
        return RunLander(self.dry_mass_kg[rows], self.max_thrust_n[rows], self.isp_s[rows])


@dataclass(slots=True)
class BlockSamples:
    """Per-truth-step history of one :func:`propagate` block; arrays are ``(N, n_steps, ...)``.

    Treat it as read-only.

    Step j covers ``[t0 + j dt, t0 + (j + 1) dt)``; force and rate are constant over it,
    position, velocity and angles are the values at its end.
    """

    dt_s: float
    time_s: FloatArray  #: (N, n) end time of each step, s
    specific_force_body_mps2: FloatArray  #: (N, n, 3) thrust / mass in body axes, m/s^2
    angular_rate_body_radps: FloatArray  #: (N, n, 3) body rate over the step, rad/s
    position_history: FloatArray  #: (3, n + 1, N) positions [r_0, r_1 .. r_n]
    velocity_mps: FloatArray  #: (N, n, 3)
    pitch_rad: FloatArray  #: (N, n)
    yaw_rad: FloatArray  #: (N, n)
    mass_kg: FloatArray  #: (N, n)
    #: optional (6, n, N) C-ordered stack [force, rate] whose transposes are the two arrays
    #: above (set by :func:`propagate`; lets the IMU average a block with one matrix product)
    force_rate_component_major: FloatArray | None = None

    @property
    def position_m(self) -> FloatArray:
        """(N, n, 3) position at the end of each step, m."""
        return self.position_history[:, 1:].T


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


class BlockWork:
    """Arrays :func:`propagate` reuses block after block instead of allocating them.

    A wide batch's block history is several hundred kB; allocating it every block makes the
    C library map and fault in fresh pages each time, which costs as much as the arithmetic.
    The :class:`BlockSamples` of a block propagated with a ``BlockWork`` are views of these
    arrays: they stay valid only until the next :func:`propagate` call with the same one.
    """

    def __init__(self) -> None:
        self._history: FloatArray | None = None
        self._force_rate: FloatArray | None = None

    def arrays(self, n_steps: int, n: int) -> tuple[FloatArray, FloatArray]:
        """History ``(STATE_SIZE, n_steps + 1, n)`` and force/rate ``(6, n_steps, n)``."""
        h, fw = self._history, self._force_rate
        if h is None or fw is None or h.shape != (STATE_SIZE, n_steps + 1, n):
            h = self._history = np.empty((STATE_SIZE, n_steps + 1, n))
            fw = self._force_rate = np.empty((6, n_steps, n))
        return h, fw


def propagate(
    state: FloatArray,
    command: FloatArray,
    params: LanderParams,
    dt_s: float = 0.001,
    n_steps: int = 20,
    runs: RunLander | None = None,
    work: BlockWork | None = None,
) -> tuple[FloatArray, BlockSamples]:
    """Advance N states by ``n_steps`` truth steps of ``dt_s`` with the command held.

    ``state`` is ``(N, STATE_SIZE)``, ``command`` ``(N, COMMAND_SIZE)`` (throttle fraction,
    pitch rad, yaw rad). ``runs`` gives per-run dry mass, thrust and Isp (default: every run
    flies ``params``). Returns the final state and the per-step :class:`BlockSamples`.
    With ``work`` the block history lives in its reused arrays (see :class:`BlockWork`).
    Raises ValueError if the shapes do not match.

    The steps are those of :func:`step_reference`, compiled (:func:`_propagate_block`): one
    run or a thousand cost one call, not one numpy call per quantity and step. Every array
    reaches the kernel as a writable C-contiguous float64 array, so one compiled version
    serves every caller (:func:`hil.models.warm_up` loads it before a real-time run).
    """
    if (
        state.ndim != 2
        or state.shape[1] != STATE_SIZE
        or command.shape != (state.shape[0], COMMAND_SIZE)
    ):
        raise ValueError(
            f"propagate: state must be (N, {STATE_SIZE}) and command (N, {COMMAND_SIZE}); "
            f"got {state.shape} and {command.shape}"
        )
    n = state.shape[0]
    if work is None:
        h = np.empty((STATE_SIZE, n_steps + 1, n))
        fw = np.empty((6, n_steps, n))
    else:
        h, fw = work.arrays(n_steps, n)
    if runs is None:
        dry, max_thrust, exhaust = _nominal_lander(params)
    else:
        dry = kernel_array(runs.dry_mass_kg)
        max_thrust = kernel_array(runs.max_thrust_n)
        exhaust = kernel_array(runs.isp_s * params.g0_mps2)
    final = np.empty((n, STATE_SIZE))
    _propagate_block(
        h,
        fw,
        final,
        kernel_array(state),
        kernel_array(command),
        float(dt_s),
        float(params.min_throttle),
        math.exp(-dt_s / params.throttle_tau_s),
        math.exp(-dt_s / params.direction_tau_s),
        float(params.direction_rate_limit_radps * dt_s),
        dry,
        max_thrust,
        exhaust,
        float(params.moon_gravity_mps2),
        1.0 / params.moon_radius_m,
    )
    steps = h[:, 1:]
    samples = BlockSamples(
        dt_s=dt_s,
        time_s=steps[TIME].T,
        specific_force_body_mps2=fw[:3].T,
        angular_rate_body_radps=fw[3:].T,
        position_history=h[X : Z + 1],
        velocity_mps=steps[VX : VZ + 1].T,
        pitch_rad=steps[PITCH].T,
        yaw_rad=steps[YAW].T,
        mass_kg=steps[MASS].T,
        force_rate_component_major=fw,
    )
    return final, samples


@lru_cache(maxsize=8)
def _nominal_lander(params: LanderParams) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Dry mass, maximum thrust and exhaust velocity of ``params`` as one-run arrays."""
    return (
        np.array([params.dry_mass_kg], dtype=np.float64),
        np.array([params.max_thrust_n], dtype=np.float64),
        np.array([params.exhaust_velocity_mps], dtype=np.float64),
    )


@njit(cache=True, nogil=True)
def _propagate_block(
    h: FloatArray,
    fw: FloatArray,
    final: FloatArray,
    state: FloatArray,
    command: FloatArray,
    dt_s: float,
    min_throttle: float,
    throttle_lag: float,
    direction_lag: float,
    rate_step: float,
    dry_mass_kg: FloatArray,
    max_thrust_n: FloatArray,
    exhaust_velocity_mps: FloatArray,
    moon_gravity_mps2: float,
    inverse_moon_radius_per_m: float,
) -> None:  # pragma: no cover - compiled; tested through propagate
    """The steps of :func:`step_reference` for every run; fills ``h``, ``fw`` and ``final``.

    ``h`` is (STATE_SIZE, n + 1, N) with the start state at step 0, ``fw`` (6, n, N) specific
    force and body rate per step. Per-run lander arrays have N entries or one (shared).
    """
    n_runs = state.shape[0]
    n_steps = fw.shape[1]
    shared = dry_mass_kg.shape[0] == 1
    gain = 1.0 - direction_lag
    rate_per_angle_step = -1.0 / dt_s
    for i in range(n_runs):
        r = 0 if shared else i
        dry = dry_mass_kg[r]
        max_thrust = max_thrust_n[r]
        dm_per_throttle = -max_thrust * dt_s / exhaust_velocity_mps[r]
        for c in range(STATE_SIZE):
            h[c, 0, i] = state[i, c]
        x, y, z = state[i, X], state[i, Y], state[i, Z]
        vx, vy, vz = state[i, VX], state[i, VY], state[i, VZ]
        mass, throttle = state[i, MASS], state[i, THROTTLE]
        pitch, yaw, t0 = state[i, PITCH], state[i, YAW], state[i, TIME]
        cmd_throttle = command[i, CMD_THROTTLE]
        setpoint = min(max(cmd_throttle, min_throttle), 1.0) if cmd_throttle > 0.0 else 0.0
        cmd_pitch, cmd_yaw = command[i, CMD_PITCH], command[i, CMD_YAW]
        for j in range(n_steps):
            throttle = setpoint + (throttle - setpoint) * throttle_lag
            d_pitch = min(max((cmd_pitch - pitch) * gain, -rate_step), rate_step)
            d_yaw = min(max((cmd_yaw - yaw) * gain, -rate_step), rate_step)
            pitch += d_pitch
            yaw += d_yaw
            accel = throttle * max_thrust / mass if mass > dry else 0.0
            sp, cp = math.sin(pitch), math.cos(pitch)
            sy, cy = math.sin(yaw), math.cos(yaw)
            g_eff = (vx * vx + vy * vy) * inverse_moon_radius_per_m - moon_gravity_mps2
            vx += -accel * sp * cy * dt_s
            vy += accel * sy * dt_s
            vz += (accel * cp * cy + g_eff) * dt_s
            x += vx * dt_s
            y += vy * dt_s
            z += vz * dt_s
            if mass > dry:
                mass = max(mass + throttle * dm_per_throttle, dry)
            k = j + 1
            h[X, k, i] = x
            h[Y, k, i] = y
            h[Z, k, i] = z
            h[VX, k, i] = vx
            h[VY, k, i] = vy
            h[VZ, k, i] = vz
            h[MASS, k, i] = mass
            h[THROTTLE, k, i] = throttle
            h[PITCH, k, i] = pitch
            h[YAW, k, i] = yaw
            h[TIME, k, i] = t0 + k * dt_s
            # body z specific force, body rate omega = -(yaw', pitch' cos y, pitch' sin y)
            fw[0, j, i] = 0.0
            fw[1, j, i] = 0.0
            fw[2, j, i] = accel
            fw[3, j, i] = d_yaw * rate_per_angle_step
            fw[4, j, i] = d_pitch * rate_per_angle_step * cy
            fw[5, j, i] = d_pitch * rate_per_angle_step * sy
        for c in range(STATE_SIZE):
            final[i, c] = h[c, n_steps, i]


def step_reference(
    state: FloatArray,
    command: FloatArray,
    params: LanderParams,
    dt_s: float = 0.001,
    runs: RunLander | None = None,
) -> FloatArray:
    """One truth step written out plainly: the reference :func:`propagate` is tested against."""
    if runs is not None:
        dry: float | FloatArray = runs.dry_mass_kg
        max_thrust: float | FloatArray = runs.max_thrust_n
        exhaust: float | FloatArray = runs.isp_s * params.g0_mps2
    else:
        dry, max_thrust = params.dry_mass_kg, params.max_thrust_n
        exhaust = params.exhaust_velocity_mps
    out = state.copy()
    thr_set = throttle_setpoint(command[:, CMD_THROTTLE], params)
    lag = math.exp(-dt_s / params.throttle_tau_s)
    out[:, THROTTLE] = thr_set + (state[:, THROTTLE] - thr_set) * lag
    dlag = math.exp(-dt_s / params.direction_tau_s)
    rate_step = params.direction_rate_limit_radps * dt_s
    for col, ccol in ((PITCH, CMD_PITCH), (YAW, CMD_YAW)):
        err = command[:, ccol] - state[:, col]
        out[:, col] = state[:, col] + np.clip(err * (1.0 - dlag), -rate_step, rate_step)
    burning = state[:, MASS] > dry
    thrust = out[:, THROTTLE] * max_thrust * burning
    u = thrust_axis(out[:, PITCH], out[:, YAW])
    g_eff = (state[:, VX] ** 2 + state[:, VY] ** 2) / params.moon_radius_m - (
        params.moon_gravity_mps2
    )
    acc = (thrust / state[:, MASS])[:, None] * u
    acc[:, 2] += g_eff
    out[:, VEL] = state[:, VEL] + acc * dt_s
    out[:, POS] = state[:, POS] + out[:, VEL] * dt_s
    out[:, MASS] = np.maximum(state[:, MASS] - thrust * dt_s / exhaust, dry)
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


def propellant_kg(
    state: FloatArray, params: LanderParams, runs: RunLander | None = None
) -> FloatArray:
    """Propellant left, kg (per-run dry masses from ``runs`` if given)."""
    dry = params.dry_mass_kg if runs is None else runs.dry_mass_kg
    return state[:, MASS] - dry
