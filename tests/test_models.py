"""Physics and sensor models against closed forms, each other and their own specification."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hil.models import dynamics as dyn
from hil.models.engine import engine_status
from hil.models.sensors import (
    MG_MPS2,
    GaugeParams,
    ImuModel,
    ImuParams,
    LrfModel,
    LrfParams,
    PropellantGauge,
    beam_direction,
)
from hil.models.terrain import TerrainProfile

P = dyn.LanderParams()


def _run(state: np.ndarray, command: np.ndarray, seconds: float) -> np.ndarray:
    n_blocks = round(seconds / 0.02)
    for _ in range(n_blocks):
        state, _ = dyn.propagate(state, command, P)
    return state


def test_free_fall_from_rest_matches_closed_form() -> None:
    state = dyn.initial_state(1, (0.0, 0.0, 1000.0), (0.0, 0.0, 0.0), 500.0)
    out = _run(state, np.zeros((1, 3)), 10.0)
    g = P.moon_gravity_mps2
    assert out[0, dyn.VZ] == pytest.approx(-g * 10.0, abs=1e-9)
    # semi-implicit Euler is within g*dt*t/2 of the exact parabola
    assert out[0, dyn.Z] == pytest.approx(1000.0 - 0.5 * g * 100.0, abs=0.5 * g * 0.001 * 10 + 1e-9)
    assert out[0, dyn.MASS] == 500.0


def test_vertical_burn_matches_rocket_equation_and_depletion_rate() -> None:
    m0 = 750.0
    state = dyn.initial_state(1, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), m0)
    state[0, dyn.THROTTLE] = 1.0  # already at full thrust, no lag transient
    cmd = np.array([[1.0, 0.0, 0.0]])
    t = 60.0
    out = _run(state, cmd, t)
    ve = P.exhaust_velocity_mps
    mdot = P.max_thrust_n / ve
    m1 = m0 - mdot * t
    assert out[0, dyn.MASS] == pytest.approx(m1, rel=1e-9)  # 60000 summed steps
    dv = ve * math.log(m0 / m1)
    g = P.moon_gravity_mps2
    assert out[0, dyn.VZ] == pytest.approx(dv - g * t, abs=0.02)
    u1 = m1 / m0
    z = ve * (m0 / mdot) * (u1 * math.log(u1) - u1 + 1.0) - 0.5 * g * t * t
    assert out[0, dyn.Z] == pytest.approx(z, abs=1.0)


def test_engine_stops_when_propellant_is_gone() -> None:
    state = dyn.initial_state(1, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), P.dry_mass_kg + 1.0)
    state[0, dyn.THROTTLE] = 1.0
    out = _run(state, np.array([[1.0, 0.0, 0.0]]), 4.0)
    assert out[0, dyn.MASS] == P.dry_mass_kg
    vz_after_burnout = out[0, dyn.VZ]
    out2 = _run(out, np.array([[1.0, 0.0, 0.0]]), 1.0)
    assert out2[0, dyn.VZ] == pytest.approx(vz_after_burnout - P.moon_gravity_mps2, abs=1e-9)


def _random_states(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    state = dyn.initial_state(n, (-5e4, 0.0, 8000.0), (900.0, 3.0, -30.0), 600.0)
    state[:, dyn.VEL] += rng.normal(0.0, 50.0, (n, 3))
    state[:, dyn.MASS] = rng.uniform(P.dry_mass_kg + 0.001, 700.0, n)
    state[1, dyn.MASS] = P.dry_mass_kg + 0.004  # runs dry inside the block
    state[:, dyn.THROTTLE] = rng.uniform(0.0, 1.0, n)
    state[:, dyn.PITCH] = rng.uniform(-1.5, 1.5, n)
    state[:, dyn.YAW] = rng.uniform(-0.3, 0.3, n)
    cmd = np.column_stack(
        (rng.uniform(-0.2, 1.2, n), rng.uniform(-1.5, 1.5, n), rng.uniform(-0.3, 0.3, n))
    )
    cmd[2, 1:] = state[2, dyn.PITCH : dyn.YAW + 1] + 1e-4  # inside the linear lag region
    return state, cmd


def test_block_propagation_equals_single_steps() -> None:
    rng = np.random.default_rng(3)
    state, cmd = _random_states(8, rng)
    block, samples = dyn.propagate(state, cmd, P, n_steps=20)
    single = state
    for j in range(20):
        single = dyn.step_reference(single, cmd, P)
        np.testing.assert_allclose(samples.position_m[:, j], single[:, dyn.POS], rtol=1e-13)
        np.testing.assert_allclose(samples.velocity_mps[:, j], single[:, dyn.VEL], rtol=1e-12)
    np.testing.assert_allclose(block, single, rtol=1e-12, atol=1e-12)
    assert block[1, dyn.MASS] == P.dry_mass_kg


def test_batch_equals_individual_runs() -> None:
    rng = np.random.default_rng(4)
    state, cmd = _random_states(6, rng)
    batch, bs = dyn.propagate(state, cmd, P)
    for i in range(6):
        one, s1 = dyn.propagate(state[i : i + 1], cmd[i : i + 1], P)
        np.testing.assert_allclose(batch[i], one[0], rtol=1e-15, atol=0)
        np.testing.assert_allclose(bs.angular_rate_body_radps[i], s1.angular_rate_body_radps[0])


def test_thrust_direction_is_rate_limited_and_lagged() -> None:
    state = dyn.initial_state(1, (0.0, 0.0, 1e4), (0.0, 0.0, 0.0), 600.0)
    cmd = np.array([[0.5, math.radians(60.0), 0.0]])
    out = _run(state, cmd, 1.0)
    assert math.degrees(out[0, dyn.PITCH]) == pytest.approx(10.0, abs=0.01)  # 10 deg/s
    out = _run(state, np.array([[0.5, math.radians(1.0), 0.0]]), 0.3)
    assert math.degrees(out[0, dyn.PITCH]) == pytest.approx(1.0 - math.exp(-1.0), rel=1e-3)


def test_positive_pitch_brakes_positive_downrange_velocity() -> None:
    state = dyn.initial_state(1, (0.0, 0.0, 1e4), (100.0, 0.0, 0.0), 600.0)
    state[0, dyn.PITCH] = math.radians(80.0)
    state[0, dyn.THROTTLE] = 1.0
    out = _run(state, np.array([[1.0, math.radians(80.0), 0.0]]), 1.0)
    assert out[0, dyn.VX] < 100.0 - 2.0
    axis = dyn.thrust_axis(np.array([0.3]), np.array([0.2]))
    np.testing.assert_allclose(dyn.body_axes(np.array([0.3]), np.array([0.2]))[0, :, 2], axis[0])


def test_slant_range_to_inclined_plane_matches_geometry() -> None:
    slope = 0.1
    x = np.arange(-20_000.0, 20_001.0, 10.0)
    terrain = TerrainProfile(-20_000.0, 10.0, slope * x)
    n = 5
    origin = np.column_stack((np.linspace(-3000, 3000, n), np.zeros(n), np.full(n, 2500.0)))
    ang = np.radians(np.linspace(-50, 50, n))
    direction = np.column_stack((np.sin(ang), np.zeros(n), -np.cos(ang)))
    got = terrain.slant_range_m(origin, direction, max_range_m=10_000.0)
    expect = (origin[:, 2] - slope * origin[:, 0]) / (slope * direction[:, 0] - direction[:, 2])
    np.testing.assert_allclose(got, expect, atol=0.05)
    short = terrain.slant_range_m(origin, direction, max_range_m=1000.0)
    assert np.isnan(short).all()


def test_terrain_features_compose_and_fixture_loads() -> None:
    base = TerrainProfile.load("nominal")
    assert base.height_m(0.0) == pytest.approx(0.0, abs=1e-6)
    cliff = base.with_step(-50_000.0, drop_m=3000.0, width_m=100.0)
    assert cliff.height_m(-49_000.0) - base.height_m(-49_000.0) == pytest.approx(-3000.0)
    crater = base.with_crater(-100_000.0, radius_m=2000.0, depth_m=400.0, rim_height_m=100.0)
    d = crater.height_m(np.array([-100_000.0, -102_000.0])) - base.height_m(
        np.array([-100_000.0, -102_000.0])
    )
    np.testing.assert_allclose(d, [-300.0, 100.0], atol=1.0)


def test_imu_is_deterministic_and_has_the_specified_bias_and_noise() -> None:
    state = dyn.initial_state(4, (0.0, 0.0, 1e4), (0.0, 0.0, 0.0), 600.0)
    _, samples = dyn.propagate(state, np.zeros((4, 3)), P)
    params = ImuParams()

    def collect(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        imu = ImuModel(params, 4, np.random.default_rng(seed))
        blocks = [imu.sample(samples) for _ in range(500)]  # 10 s of free fall
        f = np.concatenate([b[1] for b in blocks], axis=1)
        w = np.concatenate([b[2] for b in blocks], axis=1)
        return imu.accel_bias_mps2, f, w

    bias, f, w = collect(11)
    _, f2, _ = collect(11)
    np.testing.assert_array_equal(f, f2)
    np.testing.assert_allclose(np.abs(bias), 0.5 * MG_MPS2)
    sigma_a = params.accel_noise_sigma_mps2
    n_samples = f.shape[1]
    assert n_samples == 4000
    np.testing.assert_allclose(f.mean(axis=1), bias, atol=5 * sigma_a / math.sqrt(n_samples))
    np.testing.assert_allclose(f.std(axis=1), sigma_a, rtol=0.05)
    sigma_g = params.gyro_noise_sigma_radps
    np.testing.assert_allclose(w.std(axis=1), sigma_g, rtol=0.05)
    # angle random walk: summed rate noise over 10 s ~ 0.1 deg/sqrt(h) * sqrt(10 s)
    assert sigma_g / math.sqrt(params.rate_hz) == pytest.approx(math.radians(0.1) / 60.0, rel=1e-12)


def test_imu_averages_truth_exactly_over_its_intervals() -> None:
    state = dyn.initial_state(1, (0.0, 0.0, 1e4), (0.0, 0.0, 0.0), 600.0)
    cmd = np.array([[1.0, 0.5, 0.0]])
    _, samples = dyn.propagate(state, cmd, P)
    quiet = ImuParams(accel_bias_mps2=0.0, accel_vrw_mps_per_sqrt_h=0.0, gyro_arw_deg_per_sqrt_h=0)
    t, f, _ = ImuModel(quiet, 1, np.random.default_rng(0)).sample(samples)
    np.testing.assert_allclose(t, 0.0025 * np.arange(1, 9))
    dv_truth = samples.specific_force_body_mps2[0, :, 2].sum() * 0.001
    assert f[0, :, 2].sum() * 0.0025 == pytest.approx(dv_truth, rel=1e-12)


def _hover_state(altitude_m: float, pitch_deg: float) -> np.ndarray:
    state = dyn.initial_state(2000, (-1000.0, 0.0, altitude_m), (0.0, 0.0, 0.0), 500.0)
    state[:, dyn.PITCH] = math.radians(pitch_deg)
    return state


def test_lrf_range_noise_validity_and_determinism() -> None:
    flat = TerrainProfile.flat()
    params = LrfParams()
    lrf = LrfModel(params, flat, np.random.default_rng(5))
    state = _hover_state(1000.0, 0.0)
    rng, valid, strength = lrf.measure(state)
    true_range = 1000.0 / math.cos(math.radians(params.beam_cant_deg))
    assert valid.all()
    assert rng.mean() == pytest.approx(true_range, abs=0.5)
    assert rng.std() == pytest.approx(1.0 + 0.002 * true_range, rel=0.1)
    again = LrfModel(params, flat, np.random.default_rng(5)).measure(state)[0]
    np.testing.assert_array_equal(rng, again)
    far = lrf.measure(_hover_state(2900.0, 0.0))  # slant 3349 m > 3000 m
    assert not far[1].any() and (far[0] == 0).all()
    steep = lrf.measure(_hover_state(1000.0, -40.0))  # beam 70 deg from vertical
    assert not steep[1].any()
    nearer = lrf.measure(_hover_state(200.0, 0.0))[2]
    assert (nearer > strength).all()
    beam = beam_direction(np.array([math.radians(70.0)]), np.zeros(1), math.radians(30.0))
    assert math.degrees(math.acos(-beam[0, 2])) == pytest.approx(40.0)


def test_propellant_gauge_error_bounds_and_engine_status() -> None:
    gauge = PropellantGauge(GaugeParams(), 1000, np.random.default_rng(9))
    reading = gauge.read(np.full(1000, 200.0))
    assert (np.abs(reading - 200.0) <= 0.03 * 200.0 + 5 * 0.5).all()
    assert np.abs(reading - 200.0).max() > 0.02 * 200.0
    st = engine_status(np.array([0.5, 1.0]), np.array([100.0, 0.0]), P)
    np.testing.assert_allclose(st.throttle_actual_pct, [50.0, 0.0])
    assert st.chamber_pressure_kpa[1] == 0.0
    assert st.tank_pressure_kpa[0] > st.tank_pressure_kpa[1]


# --- dispersions -----------------------------------------------------------------------------
def test_dispersions_are_drawn_per_run_with_the_declared_sigmas() -> None:
    from hil.models.dispersions import DispersionParams, draw

    params = DispersionParams(
        downrange_m=50.0,
        vertical_velocity_mps=1.0,
        dry_mass_kg=5.0,
        thrust_fraction=0.01,
        isp_s=1.0,
        terrain_variants=4,
        terrain_offset_m=5.0,
    )
    seeds = list(range(4000))
    d = draw(params, P, seeds)
    assert d.position_m[:, 0].std() == pytest.approx(50.0, rel=0.05)
    assert d.velocity_mps[:, 2].std() == pytest.approx(1.0, rel=0.05)
    assert d.lander.dry_mass_kg.mean() == pytest.approx(P.dry_mass_kg, abs=0.5)
    assert d.lander.dry_mass_kg.std() == pytest.approx(5.0, rel=0.05)
    assert (d.lander.max_thrust_n / P.max_thrust_n - 1).std() == pytest.approx(0.01, rel=0.05)
    assert d.lander.isp_s.std() == pytest.approx(1.0, rel=0.05)
    assert d.position_m[:, 1].std() == 0.0  # not dispersed: nominal
    assert set(np.unique(d.terrain_variant)) == {0, 1, 2, 3}
    # a run's values depend on its seed only, not on the other runs of the batch
    again = draw(params, P, seeds[1234:1236])
    np.testing.assert_array_equal(again.position_m, d.position_m[1234:1236])
    np.testing.assert_array_equal(again.lander.isp_s, d.lander.isp_s[1234:1236])


def test_propagate_flies_per_run_thrust_mass_and_isp_like_the_reference() -> None:
    n = 3
    state = dyn.initial_state(n, (0.0, 0.0, 1e4), (10.0, 0.0, -5.0), 400.0, pitch_rad=0.3)
    runs = dyn.RunLander(
        dry_mass_kg=np.array([340.0, 330.0, 399.995]),
        max_thrust_n=np.array([2000.0, 1800.0, 2200.0]),
        isp_s=np.array([310.0, 300.0, 320.0]),
    )
    state[:, dyn.THROTTLE] = 0.8
    cmd = np.tile([0.8, 0.35, 0.01], (n, 1))
    ref = state.copy()
    for _ in range(20):
        ref = dyn.step_reference(ref, cmd, P, runs=runs)
    out, _ = dyn.propagate(state, cmd, P, runs=runs)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-9)
    assert out[2, dyn.MASS] == pytest.approx(399.995)  # ran dry within the block
    assert out[1, dyn.MASS] > out[0, dyn.MASS]  # less thrust, lower Isp: burns less here
    nominal, _ = dyn.propagate(state, cmd, P, runs=dyn.RunLander.nominal(P, n))
    np.testing.assert_array_equal(nominal, dyn.propagate(state, cmd, P)[0])


def test_per_run_sensor_streams_do_not_depend_on_the_batch() -> None:
    from hil.models.sensors import STREAM_IMU, STREAM_LRF, run_generators

    state = dyn.initial_state(3, (0.0, 0.0, 1e4), (0.0, 0.0, 0.0), 600.0)
    _, samples = dyn.propagate(state, np.zeros((3, 3)), P)
    seeds = [11, 12, 13]
    batch = ImuModel(ImuParams(), 3, run_generators(seeds, STREAM_IMU))
    alone = ImuModel(ImuParams(), 1, run_generators(seeds[1:2], STREAM_IMU))
    one = dyn.propagate(state[1:2], np.zeros((1, 3)), P)[1]
    for _ in range(70):  # past a buffer refill
        f3 = batch.sample(samples)[1]
        f1 = alone.sample(one)[1]
    np.testing.assert_allclose(f3[1], f1[0], rtol=0, atol=1e-15)
    flat = TerrainProfile.flat()
    hover = _hover_state(1000.0, 0.0)[:3]
    lrf3 = LrfModel(LrfParams(), flat, run_generators(seeds, STREAM_LRF)).measure(hover)[0]
    lrf1 = LrfModel(LrfParams(), flat, run_generators(seeds[2:], STREAM_LRF)).measure(hover[2:])
    assert lrf3[2] == lrf1[0][0]


def test_run_terrain_gives_each_run_its_variant_and_offset() -> None:
    from hil.models.terrain import RunTerrain

    flat = TerrainProfile.flat()
    bumpy = TerrainProfile(-20_000.0, 10.0, np.full(2001, 30.0))
    terrain = RunTerrain([flat, bumpy], np.array([0, 1, 1]), np.array([0.0, 0.0, -10.0]))
    np.testing.assert_allclose(terrain.height_m(np.full(3, -1000.0)), [0.0, 30.0, 20.0])
    assert terrain.max_height_m == 30.0 and terrain.min_height_m == -10.0
    origin = np.tile([-1000.0, 0.0, 1000.0], (3, 1))
    down = np.tile([0.0, 0.0, -1.0], (3, 1))
    np.testing.assert_allclose(terrain.slant_range_m(origin, down, 3000.0), [1000, 970, 980])
    assert terrain.take(np.array([2])).height_m(np.array([-1000.0]))[0] == pytest.approx(20.0)
    assert float(terrain.profile_of(2).height_m(-1000.0)) == pytest.approx(20.0)


def test_reused_block_arrays_fly_the_same_block() -> None:
    rng = np.random.default_rng(5)
    state, cmd = _random_states(8, rng)
    fresh, samples = dyn.propagate(state, cmd, P)
    work = dyn.BlockWork()
    for _ in range(2):  # the second block reuses the arrays of the first
        reused, again = dyn.propagate(state, cmd, P, work=work)
        np.testing.assert_array_equal(reused, fresh)
        np.testing.assert_array_equal(again.position_m, samples.position_m)
        np.testing.assert_array_equal(
            again.specific_force_body_mps2, samples.force_rate_component_major[:3].T
        )
    np.testing.assert_array_equal(fresh[:, dyn.POS], samples.position_m[:, -1])
    one, single = dyn.propagate(state[3:4], cmd[3:4], P)
    np.testing.assert_array_equal(one[0], fresh[3])
    np.testing.assert_array_equal(single.position_m[0], samples.position_m[3])


def test_ray_cast_over_per_run_terrain_equals_casting_each_profile() -> None:
    from hil.models.terrain import RunTerrain

    base = TerrainProfile.load("nominal")
    craters = [base.with_crater(-5000.0 - 900.0 * k, 400.0 + 100.0 * k, 80.0) for k in range(3)]
    rng = np.random.default_rng(8)
    n = 60
    variant = rng.integers(0, 3, n)
    offset = rng.uniform(-20.0, 20.0, n)
    terrain = RunTerrain(craters, variant, offset)
    origin = np.column_stack(
        (rng.uniform(-9000.0, 0.0, n), np.zeros(n), rng.uniform(-100.0, 3500.0, n))
    )
    tilt = rng.uniform(0.0, 1.2, n)
    beam = np.column_stack((-np.sin(tilt), np.zeros(n), -np.cos(tilt)))
    got = terrain.slant_range_m(origin, beam, 3000.0)
    for i in range(n):
        alone = craters[variant[i]].slant_range_m(
            origin[i : i + 1] - [0.0, 0.0, offset[i]], beam[i : i + 1], 3000.0
        )
        np.testing.assert_array_equal(got[i : i + 1], alone)
    assert 10 < np.isfinite(got).sum() < n
