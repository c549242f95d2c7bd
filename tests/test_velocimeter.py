"""The velocimeter: its model, the FC's fusion and gate, its faults, and a descent that loses it."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import SIM_BENCH, private_bench_config

from hil.errors import ConfigError
from hil.flight.descent import DescentRun, descent_bench
from hil.flight.faults import FaultInjector, Injection
from hil.flight.model_only import ClosedLoopParams, dispersed_start, run_seed
from hil.flight.scenario import load_scenario
from hil.fsw.navigation import Navigation, NavParams
from hil.fsw.terrain_map import TerrainMap
from hil.models import dynamics as dyn
from hil.models.sensors import STREAM_VEL, run_generators
from hil.models.terrain import TerrainProfile
from hil.models.velocimeter import VelocimeterModel, VelocimeterParams, body_from_enu

FLAT = TerrainProfile(-600_000.0, 1000.0, np.zeros(700))


def _state(n: int, height_m: float, velocity_mps: tuple[float, float, float], pitch_deg: float):
    state = dyn.initial_state(n, (-2000.0, 0.0, height_m), velocity_mps, 700.0)
    state[:, dyn.PITCH] = math.radians(pitch_deg)
    return state


def test_it_measures_surface_relative_velocity_in_body_axes_within_its_range() -> None:
    quiet = VelocimeterParams(noise_mps=0.0, noise_fraction=0.0, bias_mps=0.0)
    model = VelocimeterModel(quiet, FLAT, run_generators([1, 2], STREAM_VEL))
    # upright (pitch 0): body axes are ENU
    velocity, valid = model.measure(_state(2, 1000.0, (3.0, -1.0, -20.0), 0.0))
    assert valid.all()
    np.testing.assert_allclose(velocity, [[3.0, -1.0, -20.0]] * 2, atol=1e-12)
    # pitched 60 deg: the same ENU velocity, rotated into the body
    model = VelocimeterModel(quiet, FLAT, run_generators([1], STREAM_VEL))
    state = _state(1, 1000.0, (100.0, 0.0, -30.0), 60.0)
    velocity, valid = model.measure(state)
    expected = body_from_enu(state[:, dyn.PITCH], state[:, dyn.YAW], state[:, dyn.VEL])
    np.testing.assert_allclose(velocity, expected, atol=1e-12)
    assert np.linalg.norm(velocity) == pytest.approx(math.hypot(100.0, 30.0))
    # beyond the slant range (7 km along a boresight 30 deg off vertical), or too fast
    assert not model.measure(_state(1, 6500.0, (10.0, 0.0, -10.0), 0.0))[1][0]
    assert model.measure(_state(1, 5500.0, (10.0, 0.0, -10.0), 0.0))[1][0]
    assert not model.measure(_state(1, 3000.0, (900.0, 0.0, -10.0), 0.0))[1][0]


def test_noise_bias_and_dropout_are_drawn_per_run_whatever_the_batch() -> None:
    params = VelocimeterParams(dropout_probability=0.05)
    seeds = [run_seed(3, i) for i in range(40)]
    state = _state(40, 2000.0, (200.0, 0.0, -30.0), 0.0)
    batch = VelocimeterModel(params, FLAT, run_generators(seeds, STREAM_VEL))
    alone = VelocimeterModel(params, FLAT, run_generators(seeds[7:8], STREAM_VEL))
    readings = [batch.measure(state) for _ in range(200)]
    for velocity, valid in readings[:20]:
        one, one_valid = alone.measure(state[7:8])
        np.testing.assert_array_equal(one[0], velocity[7])  # bit for bit
        assert one_valid[0] == valid[7]
    valid = np.array([v for _, v in readings])
    assert 0.03 < 1.0 - valid.mean() < 0.07  # dropouts at their rate
    x = np.array([v[:, 0] for v, ok in readings])[valid]
    sigma = params.noise_mps + params.noise_fraction * math.hypot(200.0, 30.0)
    assert np.std(x - 200.0 - np.repeat(batch.bias_mps[None, :, 0], 200, 0)[valid]) == (
        pytest.approx(sigma, rel=0.1)
    )


def _navigation(error_mps: tuple[float, float, float]) -> Navigation:
    flat_map = TerrainMap(-600_000.0, 1000.0, np.zeros(700))
    truth = np.array([[10.0, 0.0, -5.0]])
    return Navigation(
        NavParams(), np.array([[-2000.0, 0.0, 1500.0]]), truth + error_mps, 0.0, 0.0, 0.0, flat_map
    )


def test_the_fc_fuses_good_readings_and_rejects_a_stale_one() -> None:
    nav = _navigation((0.8, -0.6, 0.3))
    for _ in range(20):
        nav.vel_update(np.array([[10.0, 0.0, -5.0]]), np.array([True]))
    assert nav.vel_accepted[0] == 20 and nav.vel_rejected[0] == 0
    np.testing.assert_allclose(nav.velocity_mps[0], [10.0, 0.0, -5.0], atol=0.05)
    # a stuck unit still reporting 40 m/s after the lander has slowed to 10: rejected
    nav.vel_update(np.array([[40.0, 0.0, -5.0]]), np.array([True]))
    assert nav.vel_rejected[0] == 1 and not nav.vel_last_accepted[0]
    np.testing.assert_allclose(nav.velocity_mps[0], [10.0, 0.0, -5.0], atol=0.05)
    # not usable (invalid flag, or outside the descent modes): not even tested
    nav.vel_update(np.array([[40.0, 0.0, -5.0]]), np.array([False]))
    assert nav.vel_accepted[0] + nav.vel_rejected[0] == 21


def test_stuck_and_biased_faults_change_what_the_unit_reports() -> None:
    injector = FaultInjector(
        (
            Injection("vel_bias", at_s=1.0, for_s=1.0, bias_mps=0.5),
            Injection("vel_stuck", at_s=3.0),
        ),
        np.random.default_rng(0),
    )
    injector.update(0.0, 5000.0, "BRAKING")
    assert injector.vel((1.0, 2.0, 3.0), True) == ((1.0, 2.0, 3.0), True)
    injector.update(1.0, 5000.0, "BRAKING")
    assert injector.vel((1.0, 2.0, 3.0), True) == ((1.5, 2.5, 3.5), True)
    injector.update(2.0, 5000.0, "BRAKING")
    injector.update(3.0, 5000.0, "BRAKING")
    assert injector.vel((9.0, 9.0, 9.0), False) == ((1.0, 2.0, 3.0), True)  # stuck, "valid"
    assert injector.injected["vel_bias"] == 1 and injector.injected["vel_stuck"] == 1


def test_the_scenario_table_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[scenario]\nname = "s"\n[velocimeter]\nmax_slant_range_m = 5000.0\n')
    assert load_scenario(path).model.velocimeter.max_slant_range_m == 5000.0
    path.write_text('[scenario]\nname = "s"\n[velocimeter]\ndropout_probability = 1.5\n')
    with pytest.raises(ConfigError, match=r"\[velocimeter\] dropout_probability: must be"):
        load_scenario(path)


def test_full_stack_and_model_only_fly_the_same_velocimeter() -> None:
    from hil.flight.descent import Plant

    scenario = load_scenario("nominal")
    seeds = [run_seed(5, i) for i in range(2)]
    batch = dispersed_start(scenario.model, scenario.truth_terrain_profile(), seeds)
    for i, seed in enumerate(seeds):
        plant = Plant(scenario, seed)
        np.testing.assert_array_equal(plant.vel.bias_mps[0], batch.vel.bias_mps[i])
        a = plant.vel.measure(plant.initial_state)[0]
        b = batch.vel.measure(batch.state)[0]
        np.testing.assert_array_equal(a[0], b[i])


def test_nominal_flies_the_specified_imu_and_a_velocimeter() -> None:
    model = load_scenario("nominal").model
    assert model.imu.gyro_arw_deg_per_sqrt_h == ClosedLoopParams().imu.gyro_arw_deg_per_sqrt_h
    assert model.imu.gyro_arw_deg_per_sqrt_h == pytest.approx(0.1)
    assert model.imu.accel_bias_mps2 == pytest.approx(0.5 * 9.80665e-3)
    assert model.velocimeter.powered


@pytest.mark.slow
def test_a_stuck_then_silent_velocimeter_is_rejected_then_missed_and_the_lander_lands(
    channel: str,
) -> None:
    scenario = load_scenario("vel-dropout")
    kinds = [(i.kind, i.device) for i in scenario.injections]
    assert kinds == [("vel_stuck", ""), ("unplug", "velocimeter")]
    config = private_bench_config(SIM_BENCH, channel)
    with descent_bench(config, realtime=False) as bench:
        run = DescentRun(bench, scenario, seed=0)
        result = run.run()
        reading = bench.flight_computer.velocimeter_reading()
        times, vel_ok = bench.signals.history("FC_NavVelocity.VelOk")
        times = times - (bench.clock.now_s() - run.elapsed_s())  # run time, as the events

    def when(prefix: str) -> float:
        return next(t for t, text in result.events if text.startswith(prefix))

    stuck_s = when("fault injected: velocimeter stuck")
    unplugged_s = when("fault injected: velocimeter unplugged")
    assert stuck_s < unplugged_s
    # the stale readings, flagged valid, were rejected by the FC's gate
    assert reading["REJECTED"] >= 20, reading
    assert reading["ACCEPTED"] > 100, reading
    assert result.fault_counts["injected_vel_stuck"] >= 20 * 10 - 5
    # after the dropout the FC's input health shows it within its 0.5 s limit, and no frame
    # arrives any more
    after = np.asarray(vel_ok)[np.asarray(times) > unplugged_s + 0.7]
    assert after.size > 10 and not after.any()
    before = np.asarray(vel_ok)[(np.asarray(times) > 5.0) & (np.asarray(times) < stuck_s)]
    assert before.all()
    # it flew on on the IMU and the LRF, and landed within the limits
    assert result.passed, result.verdict
    assert result.contact is not None and result.contact.horizontal_speed_mps < 1.0


def test_a_model_only_run_without_the_velocimeter_still_flies(tmp_path: Path) -> None:
    from hil.flight.model_only import run_model_only

    params = dataclasses.replace(
        ClosedLoopParams(),
        velocimeter=VelocimeterParams(powered=False),
        max_duration_s=30.0,
    )
    res = run_model_only(2, 1, params=params)
    assert (res.vel_accepted_count == 0).all() and (res.vel_rejected_count == 0).all()
