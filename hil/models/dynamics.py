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

Per-run parameters: the lander of every run may differ (Monte Carlo dispersions of dry mass,
maximum thrust and Isp, :class:`RunLander`, arrays of shape (N,)); without one every run flies
the scalar :class:`LanderParams`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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

    def mass_per_step_kg(self, params: LanderParams, dt_s: float) -> FloatArray:
        """Mass change per truth step at full throttle, kg (negative), per run."""
        return -self.max_thrust_n * dt_s / (self.isp_s * params.g0_mps2)


@dataclass(slots=True)
class BlockSamples:
    """Per-truth-step history of one :func:`propagate` block; arrays are ``(N, n_steps, ...)``.

    Treat it as read-only (it is not frozen only so that the positions can be summed lazily).

    Step j covers ``[t0 + j dt, t0 + (j + 1) dt)``; force and rate are constant over it,
    position, velocity and angles are the values at its end.
    """

    dt_s: float
    time_s: FloatArray  #: (N, n) end time of each step, s
    specific_force_body_mps2: FloatArray  #: (N, n, 3) thrust / mass in body axes, m/s^2
    angular_rate_body_radps: FloatArray  #: (N, n, 3) body rate over the step, rad/s
    #: (3, n + 1, N) positions [r_0, r_1 .. r_n]; with ``positions_summed`` False it holds
    #: [r_0, v_1 dt .. v_n dt] until :attr:`position_m` first sums it (in place)
    position_history: FloatArray
    velocity_mps: FloatArray  #: (N, n, 3)
    pitch_rad: FloatArray  #: (N, n)
    yaw_rad: FloatArray  #: (N, n)
    mass_kg: FloatArray  #: (N, n)
    #: optional (6, n, N) C-ordered stack [force, rate] whose transposes are the two arrays
    #: above (set by :func:`propagate`; lets the IMU average a block with one matrix product)
    force_rate_component_major: FloatArray | None = None
    positions_summed: bool = True

    @property
    def position_m(self) -> FloatArray:
        """(N, n, 3) position at the end of each step, m (summed on first use)."""
        h = self.position_history
        if not self.positions_summed:
            _cumsum_steps(h, axis=1)
            self.positions_summed = True
        return h[:, 1:].T


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


@dataclass(frozen=True)
class _BlockConstants:
    """Per (params, dt, n_steps) constants of :func:`propagate`, built once."""

    params: LanderParams
    dt_s: float
    n_steps: int
    one_minus_powers: FloatArray  #: (3, n, 1): 1 - lag**j for throttle, pitch, yaw, j = 1..n
    dir_lag: float
    dir_gain: float
    rate_step: float
    step_index: FloatArray  #: (n, 1) j = 1..n
    step_times: FloatArray  #: (n, 1) j * dt
    horizontal_dt: FloatArray  #: (2, 1, 1) (-dt, dt): signs of the horizontal velocity steps
    dm_per_throttle: float  #: mass change per step per unit throttle, kg
    thrust_dt: float  #: T_max * dt


_CONSTANTS: dict[tuple[float, int], _BlockConstants] = {}


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
        """History ``(STATE_SIZE, n_steps + 1, n)`` and force/rate ``(6, n_steps, n)``.

        The force/rate array's x and y force rows are zero (propagate never writes them).
        """
        h, fw = self._history, self._force_rate
        if h is None or fw is None or h.shape != (STATE_SIZE, n_steps + 1, n):
            h = self._history = np.empty((STATE_SIZE, n_steps + 1, n))
            fw = self._force_rate = np.zeros((6, n_steps, n))
        return h, fw


def _constants(params: LanderParams, dt_s: float, n_steps: int) -> _BlockConstants:
    key = (dt_s, n_steps)
    c = _CONSTANTS.get(key)
    if c is not None and c.params is params:
        return c
    j = np.arange(1, n_steps + 1, dtype=np.float64)
    thr_lag = math.exp(-dt_s / params.throttle_tau_s)
    dir_lag = math.exp(-dt_s / params.direction_tau_s)
    powers = np.stack((thr_lag**j, dir_lag**j, dir_lag**j))[:, :, None]
    c = _BlockConstants(
        params=params,
        dt_s=dt_s,
        n_steps=n_steps,
        one_minus_powers=1.0 - powers,
        dir_lag=dir_lag,
        dir_gain=1.0 - dir_lag,
        rate_step=params.direction_rate_limit_radps * dt_s,
        step_index=j[:, None],
        step_times=(dt_s * j)[:, None],
        horizontal_dt=np.array([-dt_s, dt_s])[:, None, None],
        dm_per_throttle=-params.max_thrust_n * dt_s / params.exhaust_velocity_mps,
        thrust_dt=params.max_thrust_n * dt_s,
    )
    for a in (c.one_minus_powers, c.step_index, c.step_times, c.horizontal_dt):
        a.setflags(write=False)
    if len(_CONSTANTS) > 16:
        _CONSTANTS.clear()
    _CONSTANTS[key] = c
    return c


def _rate_limited_directions(
    out: FloatArray, angle0: FloatArray, command: FloatArray, c: _BlockConstants
) -> None:
    """Rate-limited first-order lag in closed form; writes angles after steps 1..n to ``out``.

    ``angle0`` and ``command`` are (2, 1, N) (pitch, yaw); ``out`` is (2, n, N).
    """
    rate_step = c.rate_step
    err0 = command - angle0
    mag0 = np.abs(err0)
    # number of leading steps that hit the rate limit: those with |e_j| * gain > rate_step
    n_lin = np.maximum(np.ceil((mag0 - rate_step / c.dir_gain) / rate_step), 0.0)
    j = c.step_index
    mag_lin = mag0 - np.minimum(j, n_lin) * rate_step
    err = np.sign(err0) * mag_lin * c.dir_lag ** np.maximum(j - n_lin, 0.0)
    np.subtract(command, err, out=out)


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

    Implementation: the whole block lives in one history ``h`` of shape
    ``(STATE_SIZE, n_steps + 1, N)`` (step 0 = the initial state), so each quantity is one
    numpy call over all steps and runs on a contiguous block, and the running sums are
    cumulative sums along the step axis seeded with the initial value (same order as the step
    loop; written as a loop over the steps, each a vector operation over the runs, which is
    the same order as ``np.add.accumulate`` and several times faster along a non-contiguous
    axis). The samples are (transposed) views of it.
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
    c = _constants(params, dt_s, n_steps)
    n = state.shape[0]
    if work is None:
        h = np.empty((STATE_SIZE, n_steps + 1, n))
        fw = np.zeros((6, n_steps, n))
    else:
        h, fw = work.arrays(n_steps, n)
    h[:, 0] = state.T
    # lags: throttle, pitch, yaw after each step = start + (target - start) * (1 - lag**j)
    cmd_thr = command[:, CMD_THROTTLE]
    err0 = np.empty((3, 1, n))
    thr_set = np.minimum(np.maximum(cmd_thr, params.min_throttle), 1.0)
    thr_set *= cmd_thr > 0.0
    start = h[THROTTLE : YAW + 1, :1]
    np.subtract(thr_set, start[0, 0], out=err0[0, 0])
    np.subtract(command.T[CMD_PITCH:, None], start[1:], out=err0[1:])
    lagged = h[THROTTLE : YAW + 1, 1:]
    np.multiply(err0, c.one_minus_powers, out=lagged)
    lagged += start
    if np.maximum.reduce(np.abs(err0[1:]), axis=None) * c.dir_gain > c.rate_step:
        _rate_limited_directions(lagged[1:], start[1:], command.T[CMD_PITCH:, None], c)
    np.add(h[TIME, 0], c.step_times, out=h[TIME, 1:])
    # mass: cumulative sum of the per-step depletion, engine off once dry
    mass = h[MASS]
    thr = h[THROTTLE, 1:]
    if runs is None:
        dm_per_throttle: float | FloatArray = c.dm_per_throttle
        dry: float | FloatArray = params.dry_mass_kg
        max_thrust: float | FloatArray = params.max_thrust_n
    else:
        dm_per_throttle = runs.mass_per_step_kg(params, dt_s)
        dry, max_thrust = runs.dry_mass_kg, runs.max_thrust_n
    np.multiply(thr, dm_per_throttle, out=mass[1:])
    _cumsum_steps(mass)
    thr_on = thr
    if _all(mass[-1] > dry):  # every run burned every step: nothing to fix
        pass
    elif not _all(mass[-2] > dry):
        burning = mass[:-1] > dry
        thr_on = thr * burning
        np.multiply(thr_on, dm_per_throttle, out=mass[1:])
        _cumsum_steps(mass)
        np.maximum(mass, dry, out=mass)
    elif not _all(mass[-1] >= dry):
        np.maximum(mass, dry, out=mass)
    # specific force (body z) and body rates, one (6, n, N) array: f x, y, z, w x, y, z
    accel = fw[2]
    np.multiply(thr_on, max_thrust, out=accel)
    np.divide(accel, mass[:-1], out=accel)
    angles = h[PITCH : YAW + 1, 1:]
    sin_a, cos_a = np.sin(angles), np.cos(angles)
    sp, sy = sin_a
    cp, cy = cos_a
    # velocity: horizontal first (it does not depend on the centrifugal term), then vertical
    acc_cy = accel * cy
    vel_h = h[VX : VY + 1]
    np.multiply(acc_cy, sp, out=vel_h[0, 1:])
    np.multiply(accel, sy, out=vel_h[1, 1:])
    vel_h[:, 1:] *= c.horizontal_dt
    _cumsum_steps(vel_h, axis=1)
    vh2 = np.square(vel_h[:, :-1])
    g_eff = np.add(vh2[0], vh2[1])
    g_eff *= 1.0 / params.moon_radius_m
    g_eff -= params.moon_gravity_mps2
    acc_cy *= cp
    g_eff += acc_cy
    np.multiply(g_eff, dt_s, out=h[VZ, 1:])
    _cumsum_steps(h[VZ])
    # position: r_{j+1} = r_j + v_{j+1} dt; for a batch only the end is summed here (a
    # reduction along the strided step axis adds in step order, like the running sum) and
    # the per-step positions when BlockSamples.position_m is first read
    np.multiply(h[VX : VZ + 1, 1:], dt_s, out=h[X : Z + 1, 1:])
    positions_summed = n == 1
    if positions_summed:
        _cumsum_steps(h[X : Z + 1], axis=1)
        end_position = h[X : Z + 1, -1]
    else:
        end_position = np.add.reduce(h[X : Z + 1], axis=1)
    # body rates from the angle steps: omega = -(yaw', pitch' cos y, pitch' sin y)
    rates = np.subtract(angles, h[PITCH : YAW + 1, :-1])
    rates *= -1.0 / dt_s
    fw[3] = rates[1]
    np.multiply(rates[0], cy, out=fw[4])
    np.multiply(rates[0], sy, out=fw[5])
    final = h[:, -1].T.copy()
    final[:, X : Z + 1] = end_position.T
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
        positions_summed=positions_summed,
    )
    return final, samples


_all = np.logical_and.reduce
_LOOP_MIN_RUNS = 128


def cumsum_steps(a: FloatArray, axis: int = 0) -> None:
    """Public name of :func:`_cumsum_steps` (used by the flight-software navigation)."""
    _cumsum_steps(a, axis)


def _cumsum_steps(a: FloatArray, axis: int = 0) -> None:
    """In-place running sum along the step ``axis`` (0 or 1), seeded with index 0.

    Same additions in the same order as ``np.add.accumulate(a, axis, out=a)``, which it
    calls for small batches; for large ones a loop of vector additions over the runs is
    faster (the accumulate walks each run's short strided column separately).
    """
    if a.shape[-1] < _LOOP_MIN_RUNS:
        np.add.accumulate(a, axis=axis, out=a)
    elif axis == 0:
        for j in range(1, a.shape[0]):
            np.add(a[j - 1], a[j], out=a[j])
    else:
        for j in range(1, a.shape[1]):
            np.add(a[:, j - 1], a[:, j], out=a[:, j])


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
