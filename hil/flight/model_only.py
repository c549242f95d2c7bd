"""Model-only closed loop: truth + sensor models + flight software in memory, N runs at once.

``run_model_only`` is the reference descent without any link or device: it steps truth in
20 ms blocks (:func:`hil.models.dynamics.propagate`), feeds 8 IMU samples per block (400 Hz),
engine status every block (gauge refreshed at 5 Hz), the LRF and the velocimeter at 10 Hz to a
:class:`hil.fsw.flight_software.FlightSoftware`, whose 50 Hz commands drive the next block.

Timeline: the run starts ``coast_s`` before powered-descent initiation (PDI) with the lander
ARMED and coasting (the FSW calibrates its accelerometers); ignition at ``t = coast_s``.

Ground contact: truth stops at the first 1 ms step whose altitude above the terrain is <= 0;
the touchdown quantities are taken there. Afterwards the run's IMU reports a contact spike
(impact speed over one IMU sample) and then lunar gravity at rest, so a signature-based
touchdown detector can declare LANDED; the run ends when LANDED is declared or
``post_contact_s`` after contact, whichever first. Runs that have ended in LANDED can change
no more and leave the batch (once they are a quarter of it), so a batch's stragglers fly on
alone; every result is the same as if they had stayed.

Randomness and dispersions: every run has its own *run seed* (``run_seed(seed, i)`` for run i
unless ``run_seeds`` is given) and draws everything from it: its dispersed lander, start state
and terrain (:mod:`hil.models.dispersions`, ``ClosedLoopParams.dispersions``) and its IMU, LRF,
gauge and velocimeter noise (one generator per run and stream). So run i flies the same whatever
batch it is in (campaign chunk size, worker count, alone), bit for bit: nothing a run computes sums
across the batch in an order that depends on its width. :func:`dispersed_start` gives the
full-stack plant the same dispersed lander for the same run seed. The FSW is handed the
nominal wet mass and the dispersed truth plus ``errors`` as its initial state.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from hil.flight.touchdown import (
    MAX_HORIZONTAL_SPEED_MPS,
    MAX_TILT_DEG,
    MAX_VERTICAL_SPEED_MPS,
    MIN_PROPELLANT_KG,
)
from hil.fsw.flight_software import FlightSoftware, FswParams, InitialEstimate
from hil.fsw.modes import Mode
from hil.fsw.terrain_map import TerrainMap
from hil.models import dynamics as dyn
from hil.models.dispersions import DispersionParams, RunDispersions, draw, run_terrain
from hil.models.sensors import (
    STREAM_GAUGE,
    STREAM_IMU,
    STREAM_LRF,
    STREAM_VEL,
    GaugeParams,
    ImuModel,
    ImuParams,
    LrfModel,
    LrfParams,
    PropellantGauge,
    run_generators,
)
from hil.models.terrain import RunTerrain, TerrainProfile
from hil.models.velocimeter import VelocimeterModel, VelocimeterParams

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


_any = np.logical_or.reduce  # ndarray.any() without the Python wrapper


@dataclass(frozen=True)
class InitialErrors:
    """Error of the navigation estimate handed to the FSW at start (estimate - truth)."""

    downrange_m: float = 1000.0
    crossrange_m: float = 0.0
    altitude_m: float = 300.0
    velocity_mps: tuple[float, float, float] = (0.3, 0.0, 1.0)


@dataclass(frozen=True)
class ClosedLoopParams:
    """Everything a model-only descent needs besides the terrain and the seed."""

    lander: dyn.LanderParams = field(default_factory=dyn.LanderParams)
    imu: ImuParams = field(default_factory=ImuParams)
    lrf: LrfParams = field(default_factory=LrfParams)
    gauge: GaugeParams = field(default_factory=GaugeParams)
    velocimeter: VelocimeterParams = field(default_factory=VelocimeterParams)
    fsw: FswParams = field(default_factory=FswParams)
    errors: InitialErrors = field(default_factory=InitialErrors)
    dispersions: DispersionParams = field(default_factory=DispersionParams)
    #: PDI point, chosen with GuidanceParams.braking_time_s so braking runs at ~93 % of full
    #: thrust at most: the rest is the reserve for an engine short of its nominal thrust
    pdi_position_m: tuple[float, float, float] = (-505_000.0, 0.0, 15_000.0)
    pdi_velocity_mps: tuple[float, float, float] = (1680.0, 0.0, 0.0)
    pdi_pitch_deg: float = 85.0
    coast_s: float = 10.0
    max_duration_s: float = 900.0
    post_contact_s: float = 1.0
    dt_s: float = 0.001
    steps_per_block: int = 20
    lrf_every_blocks: int = 5  #: 10 Hz
    gauge_every_blocks: int = 10  #: 5 Hz
    vel_every_blocks: int = 5  #: 10 Hz


@dataclass
class ModelRunResults:
    """Per-run outcome of :func:`run_model_only`; arrays of shape (N,)."""

    touched_down: BoolArray
    touchdown_time_s: FloatArray
    touchdown_vertical_speed_mps: FloatArray  #: signed, negative = descending
    touchdown_horizontal_speed_mps: FloatArray
    touchdown_tilt_deg: FloatArray
    propellant_left_kg: FloatArray
    landing_error_m: FloatArray  #: distance from the site at contact
    end_time_s: FloatArray
    mode_at_end: NDArray[np.int8]
    landed_declared_time_s: FloatArray
    landed_altitude_error_m: FloatArray  #: estimated - true altitude at LANDED declaration
    lrf_first_valid_range_m: FloatArray
    lrf_first_valid_time_s: FloatArray
    lrf_first_accept_time_s: FloatArray
    lrf_accepted_count: NDArray[np.int64]
    lrf_rejected_count: NDArray[np.int64]
    lrf_latched: BoolArray
    vel_accepted_count: NDArray[np.int64]
    vel_rejected_count: NDArray[np.int64]
    history: dict[str, FloatArray] | None = None

    @property
    def passed(self) -> BoolArray:
        """Touchdown within the limits of :mod:`hil.flight.touchdown`."""
        return (
            self.touched_down
            & (np.abs(self.touchdown_vertical_speed_mps) <= MAX_VERTICAL_SPEED_MPS)
            & (self.touchdown_horizontal_speed_mps <= MAX_HORIZONTAL_SPEED_MPS)
            & (self.touchdown_tilt_deg <= MAX_TILT_DEG)
            & (self.propellant_left_kg > MIN_PROPELLANT_KG)
        )

    def verdict(self, i: int = 0) -> str:
        """One line in engineering terms for run ``i``."""
        if not self.touched_down[i]:
            mode = Mode(int(self.mode_at_end[i])).name
            return f"no touchdown by t={self.end_time_s[i]:.1f} s (mode {mode})"
        parts = [
            f"touchdown t={self.touchdown_time_s[i]:.1f} s",
            f"v_vert {self.touchdown_vertical_speed_mps[i]:.2f} m/s",
            f"v_horiz {self.touchdown_horizontal_speed_mps[i]:.2f} m/s",
            f"tilt {self.touchdown_tilt_deg[i]:.1f} deg",
            f"propellant {self.propellant_left_kg[i]:.1f} kg",
            f"{self.landing_error_m[i]:.0f} m from site",
        ]
        if self.lrf_latched[i]:
            parts.append("LRF rejected (latched)")
        if np.isfinite(self.landed_declared_time_s[i]):
            parts.append(
                f"LANDED at t={self.landed_declared_time_s[i]:.1f} s with altitude estimate "
                f"error {self.landed_altitude_error_m[i]:.1f} m"
            )
        return ("PASS: " if self.passed[i] else "FAIL: ") + ", ".join(parts)


def onboard_map(terrain: TerrainProfile) -> TerrainMap:
    """The FC's map of the truth profile ``terrain``: its heights on its grid, exactly."""
    return TerrainMap(terrain.x0_m, terrain.dx_m, terrain.heights_m.copy())


def run_seed(seed: int, run: int) -> int:
    """The seed of run ``run`` of a batch or campaign seeded ``seed``."""
    state = np.random.SeedSequence([seed, run]).generate_state(1)
    return int(state[0])


@dataclass(frozen=True)
class DispersedStart:
    """What the dispersions give N runs before the first step (see :func:`dispersed_start`)."""

    state: FloatArray  #: (N, STATE_SIZE) truth at t = 0
    dispersions: RunDispersions
    lander: dyn.RunLander | None  #: per-run truth lander, None when nothing is dispersed
    terrain: RunTerrain  #: per-run truth terrain
    imu: ImuModel
    lrf: LrfModel
    gauge: PropellantGauge
    vel: VelocimeterModel


def dispersed_start(
    p: ClosedLoopParams, terrain: TerrainProfile, run_seeds: Sequence[int]
) -> DispersedStart:
    """Truth start state, lander, terrain and sensor models of runs with these seeds."""
    n = len(run_seeds)
    disp = p.dispersions
    runs = draw(disp, p.lander, run_seeds)
    vel = np.array(p.pdi_velocity_mps)
    start = np.array(p.pdi_position_m) - vel * p.coast_s
    state = dyn.initial_state(
        n,
        (float(start[0]), float(start[1]), float(start[2])),
        (float(vel[0]), float(vel[1]), float(vel[2])),
        p.lander.wet_mass_kg,
        pitch_rad=math.radians(p.pdi_pitch_deg),
    )
    lander = None
    if disp.any:
        state[:, dyn.POS] += runs.position_m
        state[:, dyn.VEL] += runs.velocity_mps
        state[:, dyn.MASS] = runs.wet_mass_kg
        lander = runs.lander
    truth = run_terrain(terrain, disp, runs)
    biased = disp.accel_bias_mg > 0 or disp.gyro_bias_deg_per_h > 0
    imu = ImuModel(
        p.imu,
        n,
        run_generators(run_seeds, STREAM_IMU),
        runs.accel_bias_mps2 if biased else None,
        runs.gyro_bias_radps if biased else None,
    )
    lrf_dispersed = disp.lrf_bias_m > 0 or disp.lrf_noise_fraction > 0
    lrf = LrfModel(
        p.lrf,
        truth,
        run_generators(run_seeds, STREAM_LRF),
        runs.lrf_bias_m if lrf_dispersed else None,
        runs.lrf_noise_scale if lrf_dispersed else None,
    )
    gauge = PropellantGauge(p.gauge, n, run_generators(run_seeds, STREAM_GAUGE))
    velocimeter = VelocimeterModel(p.velocimeter, truth, run_generators(run_seeds, STREAM_VEL))
    return DispersedStart(state, runs, lander, truth, imu, lrf, gauge, velocimeter)


def run_model_only(
    n_runs: int,
    seed: int,
    params: ClosedLoopParams | None = None,
    terrain: TerrainProfile | None = None,
    terrain_map: TerrainMap | None = None,
    record_history: bool = False,
    run_seeds: Sequence[int] | None = None,
) -> ModelRunResults:
    """Fly ``n_runs`` descents at once; ``terrain`` is truth, ``terrain_map`` the FSW's map.

    Both default to ``terrain/nominal.npz``; the map defaults to a map of the truth
    terrain (:func:`onboard_map`; each run's truth is dispersed from ``terrain`` if
    ``params.dispersions`` says so).
    Run i flies run seed ``run_seeds[i]``, by default ``run_seed(seed, i)``.
    ``record_history`` keeps per-block traces of run 0 (for plots and a re-flown run's
    timeline, :mod:`hil.flight.refly`). Runs until every run has
    touched down (and settled) or ``max_duration_s``.
    """
    p = params or ClosedLoopParams()
    lp = p.lander
    terrain_base = terrain or TerrainProfile.load("nominal")
    terrain_map = terrain_map or onboard_map(terrain_base)
    n = n_runs
    if run_seeds is None:
        run_seeds = [run_seed(seed, i) for i in range(n)]
    elif len(run_seeds) != n:
        raise ValueError(f"run_model_only: {len(run_seeds)} run seeds for {n} runs")
    start = dispersed_start(p, terrain_base, run_seeds)
    imu, lrf, gauge, truth, vel = start.imu, start.lrf, start.gauge, start.terrain, start.vel
    run_lander = start.lander
    dry: float | FloatArray = lp.dry_mass_kg if run_lander is None else run_lander.dry_mass_kg

    state = start.state
    e = p.errors
    est = InitialEstimate(
        position_m=state[:, dyn.POS] + np.array([e.downrange_m, e.crossrange_m, e.altitude_m]),
        velocity_mps=state[:, dyn.VEL] + np.array(e.velocity_mps),
        mass_kg=np.full(n, lp.wet_mass_kg),
        pitch_rad=state[:, dyn.PITCH].copy(),
        yaw_rad=state[:, dyn.YAW].copy(),
        time_s=0.0,
    )
    fsw = FlightSoftware(p.fsw, est, terrain_map, n)
    fsw.arm()

    nan = np.full(n, np.nan)
    # per-run results, cut with the batch when landed runs are dropped (_DROP_FRACTION)
    res = {k: nan.copy() for k in _RESULT_KEYS}
    out = _Outputs.empty(n)
    rows_orig = np.arange(n)  # original run index of each row still flying
    grounded = np.zeros(n, dtype=bool)
    contact_speed = np.zeros(n)
    spike_pending = np.zeros(n, dtype=bool)
    finished = np.zeros(n, dtype=bool)
    gauge_reading = gauge.read(dyn.propellant_kg(state, lp, run_lander))
    hist: dict[str, list[float]] = {}
    cmd_arr = np.zeros((n, dyn.COMMAND_SIZE))
    block_s = p.dt_s * p.steps_per_block
    n_blocks = math.ceil(p.max_duration_s / block_s)
    started = False
    h_max = truth.max_height_m
    truth_run0 = truth.profile_of(0)  # for the history of run 0
    g_moon = lp.moon_gravity_mps2
    imu_period = 1.0 / p.imu.rate_hz
    may_drop = not record_history
    work = dyn.BlockWork()

    any_grounded = False  # Python mirrors of grounded.any() / finished
    landed = int(Mode.LANDED)
    t_end = 0.0
    for b in range(n_blocks):
        t = b * block_s
        if not started and t >= p.coast_s - 1e-9:
            fsw.start_descent(t)
            started = True
        cmd = fsw.step(t)
        np.multiply(cmd.throttle_pct, 0.01 * cmd.fire, out=cmd_arr[:, dyn.CMD_THROTTLE])
        np.radians(cmd.pitch_deg, out=cmd_arr[:, dyn.CMD_PITCH])
        np.radians(cmd.yaw_deg, out=cmd_arr[:, dyn.CMD_YAW])
        z0 = state[:, dyn.Z]
        state, samples = dyn.propagate(
            state, cmd_arr, lp, p.dt_s, p.steps_per_block, run_lander, work
        )
        t_end = t + block_s
        imu_t, imu_f, imu_w = imu.sample(samples)
        # ground contact --------------------------------------------------------------------
        # lowest height any flying run can reach in the block (1 m below it, for rounding):
        # the per-step positions are only needed when that is below the highest terrain
        vz = samples.velocity_mps[:, :, 2]
        if not any_grounded:
            low = np.minimum.reduce(z0) + block_s * min(np.minimum.reduce(vz, axis=None), 0.0)
            near = low - 1.0 <= h_max
        elif not grounded.all():
            flying = ~grounded
            low = np.minimum.reduce(z0[flying])
            low += block_s * min(np.minimum.reduce(vz[flying], axis=None), 0.0)
            near = low - 1.0 <= h_max
        else:
            near = False
        if near:
            z = samples.position_m[:, :, 2]
            alt = z - truth.height_m(samples.position_m[:, :, 0])
            hit = (alt <= 0.0) & ~grounded[:, None]
            new = hit.any(axis=1)
            if new.any():
                rows = np.flatnonzero(new)
                j = np.argmax(hit[rows], axis=1)
                v = samples.velocity_mps[rows, j]
                res["t"][rows] = samples.time_s[rows, j]
                res["vz"][rows] = v[:, 2]
                res["vh"][rows] = np.hypot(v[:, 0], v[:, 1])
                res["tilt"][rows] = np.degrees(
                    dyn.tilt_rad(samples.pitch_rad[rows, j], samples.yaw_rad[rows, j])
                )
                res["prop"][rows] = (
                    samples.mass_kg[rows, j] - np.broadcast_to(dry, grounded.shape)[rows]
                )
                pos = samples.position_m[rows, j]
                res["err"][rows] = np.hypot(pos[:, 0], pos[:, 1])
                contact_speed[rows] = np.linalg.norm(v, axis=1)
                grounded |= new
                spike_pending |= new
                any_grounded = True
        if any_grounded:
            rest = np.zeros_like(imu_f)
            rest[:, :, 2] = g_moon
            rest[:, 0, 2] += np.where(spike_pending, contact_speed / imu_period, 0.0)
            imu_f = np.where(grounded[:, None, None], rest, imu_f)
            imu_w = np.where(grounded[:, None, None], 0.0, imu_w)
            spike_pending[:] = False
        fsw.on_imu(imu_t, imu_f, imu_w)
        # engine status, gauge --------------------------------------------------------------
        prop = state[:, dyn.MASS] - dry
        if b % p.gauge_every_blocks == 0:
            gauge_reading = gauge.read(prop)
        throttle_pct = state[:, dyn.THROTTLE] * 100.0
        throttle_pct *= prop > 0
        fsw.on_engine_status(t_end, throttle_pct, gauge_reading)
        # LRF -------------------------------------------------------------------------------
        if b % p.lrf_every_blocks == p.lrf_every_blocks - 1:
            rng, valid, _strength = lrf.measure(state)
            if any_grounded:
                valid &= ~grounded
            lrf_first_range = res["lrf_range"]
            first = valid & np.isnan(lrf_first_range)
            if _any(first):
                lrf_first_range[first] = rng[first]
                res["lrf_t"][first] = t_end
            fsw.on_lrf(t_end, rng, valid)
        # velocimeter -----------------------------------------------------------------------
        if b % p.vel_every_blocks == p.vel_every_blocks - 1:
            v_body, v_valid = vel.measure(state)
            if any_grounded:
                v_valid &= ~grounded
            fsw.on_vel(v_body, v_valid)
        # bookkeeping -----------------------------------------------------------------------
        mode = fsw.mode
        is_landed = mode == landed
        if _any(is_landed):
            landed_t = res["landed_t"]
            new_landed = is_landed & np.isnan(landed_t)
            if new_landed.any():
                true_alt = np.where(
                    grounded, 0.0, state[:, dyn.Z] - truth.height_m(state[:, dyn.X])
                )
                landed_t[new_landed] = t_end
                res["landed_err"][new_landed] = (fsw.nav.altitude_m() - true_alt)[new_landed]
        if record_history:
            _record(hist, t_end, state, cmd_arr, fsw, truth_run0)
        if any_grounded:
            done = grounded & (is_landed | (t_end - res["t"] >= p.post_contact_s))
            newly = done & ~finished
            res["end_t"][newly] = t_end
            finished |= done
            if finished.all():
                break
            # a run that has landed and settled can change no more: stop flying it
            gone = finished & is_landed
            n_gone = int(np.count_nonzero(gone))
            if may_drop and n_gone and n_gone * _DROP_FRACTION >= gone.size:
                keep = np.flatnonzero(~gone)
                drop = np.flatnonzero(gone)
                out.store(rows_orig[drop], res, grounded, fsw, drop)
                rows_orig = rows_orig[keep]
                res = {k: a[keep] for k, a in res.items()}
                state, cmd_arr = state[keep], cmd_arr[keep]
                grounded, contact_speed = grounded[keep], contact_speed[keep]
                spike_pending, finished = spike_pending[keep], finished[keep]
                gauge_reading = gauge_reading[keep]
                fsw.take(keep)
                imu.take(keep)
                lrf.take(keep)
                gauge.take(keep)
                vel.take(keep)
                truth = truth.take(keep)
                h_max = truth.max_height_m
                if run_lander is not None:
                    run_lander = run_lander.take(keep)
                    dry = run_lander.dry_mass_kg
    res["end_t"] = np.where(np.isnan(res["end_t"]), t_end, res["end_t"])
    out.store(rows_orig, res, grounded, fsw, slice(None))
    return ModelRunResults(
        touched_down=out.grounded,
        touchdown_time_s=out.res["t"],
        touchdown_vertical_speed_mps=out.res["vz"],
        touchdown_horizontal_speed_mps=out.res["vh"],
        touchdown_tilt_deg=out.res["tilt"],
        propellant_left_kg=out.res["prop"],
        landing_error_m=out.res["err"],
        end_time_s=out.res["end_t"],
        mode_at_end=out.mode,
        landed_declared_time_s=out.res["landed_t"],
        landed_altitude_error_m=out.res["landed_err"],
        lrf_first_valid_range_m=out.res["lrf_range"],
        lrf_first_valid_time_s=out.res["lrf_t"],
        lrf_first_accept_time_s=out.lrf_first_accept_time_s,
        lrf_accepted_count=out.lrf_accepted,
        lrf_rejected_count=out.lrf_rejected,
        lrf_latched=out.lrf_latched,
        vel_accepted_count=out.vel_accepted,
        vel_rejected_count=out.vel_rejected,
        history={k: np.array(v) for k, v in hist.items()} if record_history else None,
    )


#: Per-run float results kept during the loop (touchdown, LANDED, first LRF lock, end time).
_RESULT_KEYS = (
    "t",
    "vz",
    "vh",
    "tilt",
    "prop",
    "err",
    "end_t",
    "landed_t",
    "landed_err",
    "lrf_range",
    "lrf_t",
)
#: Landed runs are dropped from the batch once they are at least 1/_DROP_FRACTION of it.
_DROP_FRACTION = 4


@dataclass
class _Outputs:
    """Full-batch result arrays, filled as runs leave the batch (indexed by original run)."""

    res: dict[str, FloatArray]
    grounded: BoolArray
    mode: NDArray[np.int8]
    lrf_first_accept_time_s: FloatArray
    lrf_accepted: NDArray[np.int64]
    lrf_rejected: NDArray[np.int64]
    lrf_latched: BoolArray
    vel_accepted: NDArray[np.int64]
    vel_rejected: NDArray[np.int64]

    @classmethod
    def empty(cls, n: int) -> _Outputs:
        return cls(
            {k: np.full(n, np.nan) for k in _RESULT_KEYS},
            np.zeros(n, dtype=bool),
            np.zeros(n, dtype=np.int8),
            np.full(n, np.nan),
            np.zeros(n, dtype=np.int64),
            np.zeros(n, dtype=np.int64),
            np.zeros(n, dtype=bool),
            np.zeros(n, dtype=np.int64),
            np.zeros(n, dtype=np.int64),
        )

    def store(
        self,
        runs: NDArray[np.intp],
        res: dict[str, FloatArray],
        grounded: BoolArray,
        fsw: FlightSoftware,
        rows: NDArray[np.intp] | slice,
    ) -> None:
        """Copy the results of batch rows ``rows`` (original indices ``runs``)."""
        for k, a in res.items():
            self.res[k][runs] = a[rows]
        nav = fsw.nav
        self.grounded[runs] = grounded[rows]
        self.mode[runs] = fsw.mode[rows]
        self.lrf_first_accept_time_s[runs] = nav.lrf_first_accept_time_s[rows]
        self.lrf_accepted[runs] = nav.lrf_accepted[rows]
        self.lrf_rejected[runs] = nav.lrf_rejected[rows]
        self.lrf_latched[runs] = nav.lrf_latched[rows]
        self.vel_accepted[runs] = nav.vel_accepted[rows]
        self.vel_rejected[runs] = nav.vel_rejected[rows]


def _record(
    hist: dict[str, list[float]],
    t: float,
    state: FloatArray,
    command: FloatArray,
    fsw: FlightSoftware,
    terrain: TerrainProfile,
) -> None:
    s = state[0]
    nav = fsw.nav
    row = {
        "time_s": t,
        "x_m": s[dyn.X],
        "z_m": s[dyn.Z],
        "altitude_m": s[dyn.Z] - float(terrain.height_m(s[dyn.X])),
        "vx_mps": s[dyn.VX],
        "vz_mps": s[dyn.VZ],
        "mass_kg": s[dyn.MASS],
        "throttle": s[dyn.THROTTLE],
        "pitch_deg": math.degrees(s[dyn.PITCH]),
        "altitude_est_m": float(nav.altitude_m()[0]),
        "x_est_m": nav.position_m[0, 0],
        "vx_est_mps": nav.velocity_mps[0, 0],
        "vz_est_mps": nav.velocity_mps[0, 2],
        "mode": float(fsw.mode[0]),
        "cmd_throttle_pct": 100.0 * command[0, dyn.CMD_THROTTLE],
        "lrf_accepted_count": float(nav.lrf_accepted[0]),
        "lrf_latched": float(nav.lrf_latched[0]),
        "vel_accepted_count": float(nav.vel_accepted[0]),
        "vy_est_mps": nav.velocity_mps[0, 1],
    }
    for k, v in row.items():
        hist.setdefault(k, []).append(float(v))
