"""Card LL-34-21-00-720-801: IMU static bias and noise, as the flight computer sees them.

The bench writes 5 s of static IMU samples into the FC's IMU line at 400 Hz: upright, at rest
on the Moon (specific force 1.62 m/s^2 on Z), with the specified IMU error model (accel bias
0.5 mg per axis, accel white noise 0.05 m/s/sqrt(h), gyro angle random walk 0.1 deg/sqrt(h)),
drawn from a fixed seed. The FC's IMU statistics (maintenance command ``IMU 2000``) must show
every axis' bias and noise inside its specification band: this proves the FC's IMU data path
(framing, scaling, axis order, sign) end to end.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from procedures._common import IMU_RATE_HZ, CheckFailed, fc_counter, require, teardown, wait_s

from hil.cards import Card, StepContext, action, inspection, measurement
from hil.models.sensors import MG_MPS2, ImuParams

SAMPLES = 2000
"""5 s at 400 Hz: the FC's IMU statistics window holds up to 2000 samples."""
BLOCK = 40
"""Samples written per block (0.1 s), paced on the bench clock."""
SEED = 34_21_801
EXPECTED_FORCE_MPS2 = (0.0, 0.0, 1.62)
"""Upright and at rest on the lunar surface."""
AXES = ("X", "Y", "Z")


def static_samples(seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """``SAMPLES`` static samples (specific force m/s^2, rate rad/s; each (k, 3)) with the
    The specified IMU errors (``ImuParams`` defaults): per-axis accel bias of random sign, accel
    and gyro white noise."""
    params = ImuParams()
    rng = np.random.default_rng(seed)
    bias = params.accel_bias_mps2 * rng.choice((-1.0, 1.0), size=3)
    force = (
        np.array(EXPECTED_FORCE_MPS2)
        + bias
        + params.accel_noise_sigma_mps2 * rng.standard_normal((SAMPLES, 3))
    )
    rate = params.gyro_noise_sigma_radps * rng.standard_normal((SAMPLES, 3))
    return force, rate


def stream_static_samples(ctx: StepContext) -> None:
    """Write the samples in 0.1 s blocks at 400 Hz, then wait until the FC has them all."""
    bench = ctx.bench
    imu = bench.imu
    imu.stop_stream()
    force, rate = static_samples()
    frames_before = fc_counter(ctx, "IMU_FRAMES")
    status_before = ctx.fc.status()
    clock = bench.clock
    start_s = clock.now_s()
    period_s = 1.0 / IMU_RATE_HZ
    for first in range(0, SAMPLES, BLOCK):
        index = np.arange(first, min(first + BLOCK, SAMPLES))
        times_s = start_s + (index + 1) * period_s
        clock.sleep_until(float(times_s[0]))
        imu.send_samples(times_s, force[index], rate[index])
    received = 0
    for _ in range(40):  # the FC reads its line in its own thread: allow it 2 s
        received = fc_counter(ctx, "IMU_FRAMES") - frames_before
        if received >= SAMPLES:
            break
        wait_s(ctx, 0.05)
    status_after = ctx.fc.status()
    gaps = int(status_after["IMU_GAPS"]) - int(status_before["IMU_GAPS"])
    bad = int(status_after["IMU_BAD"]) - int(status_before["IMU_BAD"])
    mean = force.mean(axis=0)
    ctx.log(
        f"sent {SAMPLES} samples (seed {SEED}); FC received {received}, sequence gaps {gaps}, "
        f"bad frames {bad}; stimulus accel bias "
        + ", ".join(
            f"{axis} {(m - e) / MG_MPS2:+.3f} mg"
            for axis, m, e in zip(AXES, mean, EXPECTED_FORCE_MPS2, strict=True)
        )
    )
    require(received == SAMPLES, f"FC received {received} of {SAMPLES} IMU frames")
    require(gaps == 0 and bad == 0, f"FC counted {gaps} sequence gaps and {bad} bad frames")
    statistics = ctx.fc.imu_statistics(SAMPLES)
    require(
        int(statistics["N"]) == SAMPLES,
        f"FC IMU statistics over {statistics['N']:g} samples, not {SAMPLES}",
    )
    ctx.state["imu"] = statistics


def _statistics(ctx: StepContext) -> dict[str, float]:
    statistics = ctx.state.get("imu")
    if statistics is None:
        raise CheckFailed("no FC IMU statistics: step 2 did not complete")
    return dict(statistics)


def accel_bias_mg(axis: int) -> Callable[[StepContext], float]:
    def measure(ctx: StepContext) -> float:
        mean = _statistics(ctx)[f"MEAN_A{AXES[axis]}"]
        return (mean - EXPECTED_FORCE_MPS2[axis]) / MG_MPS2

    measure.__name__ = f"accel_bias_{AXES[axis].lower()}_mg"
    return measure


def gyro_bias_deg_per_h(axis: int) -> Callable[[StepContext], float]:
    def measure(ctx: StepContext) -> float:
        return math.degrees(_statistics(ctx)[f"MEAN_W{AXES[axis]}"]) * 3600.0

    measure.__name__ = f"gyro_bias_{AXES[axis].lower()}_deg_per_h"
    return measure


def accel_noise_mg(axis: int) -> Callable[[StepContext], float]:
    def measure(ctx: StepContext) -> float:
        return _statistics(ctx)[f"STD_A{AXES[axis]}"] / MG_MPS2

    measure.__name__ = f"accel_noise_{AXES[axis].lower()}_mg"
    return measure


def gyro_noise_deg_per_s(axis: int) -> Callable[[StepContext], float]:
    def measure(ctx: StepContext) -> float:
        return math.degrees(_statistics(ctx)[f"STD_W{AXES[axis]}"])

    measure.__name__ = f"gyro_noise_{AXES[axis].lower()}_deg_per_s"
    return measure


CARD = Card(
    number="LL-34-21-00-720-801",
    revision="A",
    title="IMU static bias and noise check through the flight computer",
    effectivity=("HR-M3",),
    interval="After IMU or FC replacement; after IMU harness W102 disturbed; 180 days",
    equipment=(
        "HIL bench IMU emulator on the FC IMU line (RS-422, 921600 Bd)",
        "IMU harness W102 (FC J3 to IMU P102)",
        "Maintenance cable W101 (FC J1)",
    ),
    warnings=(),
    cautions=(
        "Do not move, tap or vibrate the bench while samples are written. On a lander with "
        "the flight IMU connected, any motion shows as bias and noise.",
        "Disconnect the flight IMU at P102 and connect the bench IMU emulator before you start "
        "step 2. Reconnect P102 after the card and do the W102 inspection again.",
    ),
    notes=(
        "Stimulus: 2000 samples (5 s at 400 Hz), at rest and upright on the Moon (1.62 m/s^2 on "
        "Z), accel bias 0.5 mg per axis (random sign, seed 3421801), accel white noise "
        "0.05 m/s/sqrt(h) (1.70 mg per sample), gyro angle random walk 0.1 deg/sqrt(h) "
        "(0.0333 deg/s per sample), no gyro bias.",
        "Accel bias is the FC's mean minus the expected reading (0, 0, 1.62 m/s^2); limit "
        "+-1.0 mg (twice the IMU specification). Noise limits are the specification +-20 %.",
        "The 5 s window resolves gyro bias to about 3 deg/h (1 sigma) at 0.1 deg/sqrt(h); the "
        "+-20 deg/h limit catches a wrongly scaled or swapped rate channel, not the gyro's "
        "in-run bias stability (see the IMU acceptance test data).",
    ),
    roles=("flight_computer", "imu"),
    steps=(
        inspection(
            1,
            "Inspect IMU harness W102 over its full length, from FC connector J3 to IMU "
            "connector P102, including the clamps and the bulkhead pass-through.",
            criterion="No chafing, cuts or crushed sections; shield braid intact; clamps "
            "tight with cushions in place; bend radius not less than 10 x cable diameter; "
            "both connectors fully mated and lockwired",
            evidence=True,
            rii=True,
        ),
        action(
            2,
            "Write 5 s of static IMU samples at 400 Hz into the FC IMU line. Verify the FC "
            "received every frame without gaps, then read its IMU statistics (IMU 2000).",
            run=stream_static_samples,
        ),
        *(
            measurement(
                3 + axis,
                f"Record the accelerometer bias on axis {name} (FC mean minus expected).",
                name=f"accel_bias_{name.lower()}",
                unit="mg",
                low=-1.0,
                high=1.0,
                marginal=0.1,
                measure=accel_bias_mg(axis),
                on_fail="continue",
            )
            for axis, name in enumerate(AXES)
        ),
        *(
            measurement(
                6 + axis,
                f"Record the gyro bias on axis {name}.",
                name=f"gyro_bias_{name.lower()}",
                unit="deg/h",
                low=-20.0,
                high=20.0,
                marginal=2.0,
                measure=gyro_bias_deg_per_h(axis),
                on_fail="continue",
            )
            for axis, name in enumerate(AXES)
        ),
        *(
            measurement(
                9 + axis,
                f"Record the accelerometer noise (standard deviation) on axis {name}.",
                name=f"accel_noise_{name.lower()}",
                unit="mg",
                low=1.36,
                high=2.04,
                marginal=0.07,
                measure=accel_noise_mg(axis),
                on_fail="continue",
            )
            for axis, name in enumerate(AXES)
        ),
        *(
            measurement(
                12 + axis,
                f"Record the gyro noise (standard deviation) on axis {name}.",
                name=f"gyro_noise_{name.lower()}",
                unit="deg/s",
                low=0.0267,
                high=0.0400,
                marginal=0.0013,
                measure=gyro_noise_deg_per_s(axis),
                on_fail="continue",
            )
            for axis, name in enumerate(AXES)
        ),
    ),
    teardown=teardown(),
)
