"""The compiled kernels (hil/core/compiled.py, each warmed by its package): same flights as plain
reference code, one compile each.

The truth step has its own reference (``dyn.step_reference``, tests/test_models.py); here the
navigation's dead reckoning and the guidance are checked against plain per-run Python written
from their docstrings, batches against single runs, and the kernels against the compile-per-type
trap: a run that meets a new argument type compiles inside its loop (a second of lateness).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from hil.flight.kernels import warm_up
from hil.flight.model_only import ClosedLoopParams, run_model_only
from hil.fsw import guidance, navigation
from hil.fsw.flight_software import FlightSoftware, FswParams, InitialEstimate
from hil.fsw.guidance import thrust_command, zem_zev_accel
from hil.fsw.navigation import Navigation, NavParams
from hil.fsw.terrain_map import TerrainMap
from hil.models import dynamics as dyn
from hil.models.dispersions import DispersionParams
from hil.models.sensors import ImuModel, ImuParams

P = dyn.LanderParams()
QUIET_IMU = ImuParams(accel_bias_mps2=0.0, accel_vrw_mps_per_sqrt_h=0.0, gyro_arw_deg_per_sqrt_h=0)


def _dead_reckon_reference(
    nav: Navigation, t: np.ndarray, f: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Position, velocity, pitch, yaw after the samples: the module docstring, one run at a time."""
    p = nav.params
    pos, vel = nav.position_m.copy(), nav.velocity_mps.copy()
    pitch, yaw = nav.pitch_rad.copy(), nav.yaw_rad.copy()
    for i in range(nav.n):
        cos_yaw0 = math.cos(yaw[i])
        g = (vel[i, 0] ** 2 + vel[i, 1] ** 2) / p.moon_radius_m - p.moon_gravity_mps2
        previous = nav.time_s
        for s in range(t.size):
            dt = t[s] - previous
            previous = t[s]
            yaw[i] -= w[i, s, 0] * dt
            pitch[i] -= w[i, s, 1] * dt / cos_yaw0
            body_to_enu = dyn.body_axes(np.array(pitch[i]), np.array(yaw[i]))
            acc = body_to_enu @ (f[i, s] - nav.accel_bias_mps2[i])
            acc[2] += g
            vel[i] += acc * dt
            pos[i] += vel[i] * dt
    return pos, vel, pitch, yaw


def test_dead_reckoning_equals_the_documented_integration() -> None:
    rng = np.random.default_rng(7)
    n, k = 5, 8
    nav = Navigation(
        NavParams(),
        rng.uniform(-1e4, 1e4, (n, 3)),
        rng.uniform(-100.0, 100.0, (n, 3)),
        rng.uniform(-1.0, 1.0, n),
        rng.uniform(-0.3, 0.3, n),
        1.0,
        TerrainMap.flat(),
    )
    nav.accel_bias_mps2 = rng.normal(0.0, 0.01, (n, 3))
    t = 1.0 + 0.0025 * np.arange(1, k + 1)
    f = rng.normal(0.0, 3.0, (n, k, 3))
    w = rng.normal(0.0, 0.05, (n, k, 3))
    expected = _dead_reckon_reference(nav, t, f, w)
    nav.propagate(t, f, w)
    got = (nav.position_m, nav.velocity_mps, nav.pitch_rad, nav.yaw_rad)
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-9)
    peak = np.linalg.norm(f - nav.accel_bias_mps2[:, None, :], axis=2).max(axis=1)
    np.testing.assert_allclose(nav.peak_specific_force_mps2, peak, rtol=1e-12)


def test_dead_reckoning_with_a_perfect_imu_follows_the_truth() -> None:
    """60 s of powered flight with a turning thrust direction: estimate and truth agree."""
    state = dyn.initial_state(1, (-20_000.0, 0.0, 8000.0), (400.0, 10.0, -30.0), 700.0)
    state[:, dyn.PITCH] = 0.9
    nav = Navigation(
        NavParams(calibrate_in_armed=False),
        state[:, dyn.POS],
        state[:, dyn.VEL],
        state[:, dyn.PITCH],
        state[:, dyn.YAW],
        0.0,
        TerrainMap.flat(),
    )
    imu = ImuModel(QUIET_IMU, 1, np.random.default_rng(0))
    for b in range(3000):
        cmd = np.array([[0.7 + 0.3 * math.sin(b / 300), 0.9 - b / 6000, 0.05 * math.sin(b / 500)]])
        state, samples = dyn.propagate(state, cmd, P)
        nav.propagate(*imu.sample(samples))
    assert np.abs(nav.position_m[0] - state[0, dyn.POS]).max() < 1.0  # m after 60 s
    assert np.abs(nav.velocity_mps[0] - state[0, dyn.VEL]).max() < 0.02  # m/s
    assert nav.pitch_rad[0] == pytest.approx(state[0, dyn.PITCH], abs=1e-3)


def test_thrust_command_of_a_batch_equals_each_run_alone() -> None:
    rng = np.random.default_rng(3)
    accel = rng.normal(0.0, 3.0, (64, 3))
    accel[::4, 2] = -np.abs(accel[::4, 2])  # some point down: the engine cannot pull
    mass = rng.uniform(400.0, 750.0, 64)
    tilt = rng.uniform(0.05, 1.5, 64)
    batch = thrust_command(accel, mass, 2000.0, tilt)
    for i in range(64):
        alone = thrust_command(accel[i : i + 1], mass[i : i + 1], 2000.0, float(tilt[i]))
        for b, a in zip(batch, alone, strict=True):
            assert b[i] == a[0]
    thr, pitch, yaw = batch
    direction = dyn.thrust_axis(pitch, yaw)
    assert (np.arccos(np.clip(direction[:, 2], -1, 1)) <= tilt + 1e-12).all()
    assert (thr >= 0.0).all()
    # pointing up: the vertical thrust acceleration is what was asked for (the horizontal part
    # gives way to the tilt limit; the throttle is not clamped here)
    up = accel[:, 2] > 0
    vertical = thr * 2000.0 / mass * direction[:, 2]
    np.testing.assert_allclose(vertical[up], accel[up, 2], rtol=1e-12)
    horizontal = np.hypot(accel[:, 0], accel[:, 1])
    limited = up & (np.arctan2(horizontal, accel[:, 2]) > tilt)
    assert limited.sum() >= 5  # the tilt limit was exercised


def test_zem_zev_of_a_batch_with_per_run_targets_equals_shared_targets() -> None:
    rng = np.random.default_rng(4)
    pos, vel = rng.normal(0.0, 1e3, (6, 3)), rng.normal(0.0, 50.0, (6, 3))
    target_r, target_v = np.array([-3000.0, 0.0, 2000.0]), np.array([60.0, 0.0, -25.0])
    tgo, g = rng.uniform(5.0, 500.0, 6), np.full(6, -1.62)
    shared = zem_zev_accel(pos, vel, target_r, target_v, tgo, g)
    per_run = zem_zev_accel(pos, vel, np.tile(target_r, (6, 1)), np.tile(target_v, (6, 1)), tgo, g)
    np.testing.assert_array_equal(shared, per_run)
    zem = target_r - pos - vel * tgo[:, None]
    zem[:, 2] -= 0.5 * g * tgo**2
    zev = target_v - vel
    zev[:, 2] -= g * tgo
    np.testing.assert_allclose(
        shared, (6 * zem / tgo[:, None] - 2 * zev) / tgo[:, None], rtol=1e-12
    )


def test_every_caller_shares_one_compiled_version_of_each_kernel() -> None:
    warm_up()
    kernels = (
        dyn._propagate_block,
        navigation._dead_reckon,
        guidance._zem_zev,
        guidance._thrust_command,
    )
    # a dispersed batch, and a run alone
    params = dataclasses.replace(
        ClosedLoopParams(),
        dispersions=DispersionParams(thrust_fraction=0.01, dry_mass_kg=5.0),
        max_duration_s=40.0,
    )
    run_model_only(3, seed=2, params=params)
    run_model_only(1, seed=2, params=dataclasses.replace(params, max_duration_s=15.0))
    # the simulated FC's input: samples decoded from wire frames, tilt limit per mode
    est = InitialEstimate(
        position_m=np.array([[0.0, 0.0, 1000.0]]),
        velocity_mps=np.zeros((1, 3)),
        mass_kg=np.array([600.0]),
        pitch_rad=np.zeros(1),
        yaw_rad=np.zeros(1),
    )
    fsw = FlightSoftware(FswParams(), est, TerrainMap.flat(), 1)
    fsw.arm()
    fsw.start_descent(0.0)
    frames = [((0.0, 0.0, 3.0), (0.0, 0.001, 0.0))] * 3
    fsw.on_imu(
        np.array([2500, 5000, 7500], dtype=np.float64) * 1e-6,
        np.array([f for f, _ in frames])[None],
        np.array([w for _, w in frames])[None],
    )
    fsw.step(0.02)
    assert [len(k.signatures) for k in kernels] == [1, 1, 1, 1]
    assert warm_up() == 0.0  # once per process
