"""Guidance margin: nominal campaigns (2 % thrust dispersion) vs the >= 99 % landing target.

The nominal lander flies the specified IMU (gyro random walk 0.1 deg/sqrt(h), accelerometer
bias 0.5 mg; the ``[imu]`` defaults) with its velocimeter fused by the FC; the script checks
both before flying and prints the touchdown horizontal-speed percentiles against 1 m/s.

Usage: ``python benchmarks/bench_guidance_margin.py [--runs N] [--seeds 1 2] [--workers K]``.

Flies ``--runs`` (1000) model-only runs of the ``nominal`` scenario (its ``[dispersions]``:
max thrust 2 % 1 sigma on top of position, velocity, mass, Isp, sensor and terrain
dispersions) for each campaign seed, and prints runs, passes, the success rate's Wilson 95 %
interval and PASS/MISS against the targets (>= 99 % land, Wilson lower bound >= 98.5 %),
with the verdict of every failed run. The same figure as
``hil campaign --scenario nominal --runs 1000 --seed S``; about 2 minutes a seed on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from hil.flight.campaign import LocalPool, run_campaign, wilson_interval
from hil.flight.scenario import load_scenario

TARGET_RATE = 0.99
TARGET_LOWER = 0.985


def main() -> None:
    """Print each seed's campaign figures and PASS/MISS against the targets."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000, help="model-only runs a seed (1000)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2], help="campaign seeds (1 2)")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (2)")
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    model = load_scenario("nominal").model
    if model.imu.gyro_arw_deg_per_sqrt_h < 0.1 or not model.velocimeter.powered:
        raise SystemExit("nominal.toml must fly the specified IMU with its velocimeter")
    print(
        f"IMU gyro random walk {model.imu.gyro_arw_deg_per_sqrt_h:g} deg/sqrt(h), accel bias "
        f"{model.imu.accel_bias_mps2 / 9.80665e-3:g} mg; velocimeter on "
        f"({model.velocimeter.max_slant_range_m:g} m slant range)"
    )
    for seed in args.seeds:
        t0 = time.perf_counter()
        with LocalPool(args.workers) as pool:
            outcomes = run_campaign("nominal", args.runs, seed=seed, pool=pool)
        wall = time.perf_counter() - t0
        passed = sum(o.passed for o in outcomes)
        low, high = wilson_interval(passed, args.runs)
        rate = passed / args.runs
        ok = rate >= TARGET_RATE and low >= TARGET_LOWER
        print(
            f"seed {seed}: {passed}/{args.runs} landed ({100 * rate:.1f} %, Wilson 95 % "
            f"{100 * low:.1f}-{100 * high:.1f} %) in {wall:.0f} s: "
            f"{'PASS' if ok else 'MISS'} (>= {100 * TARGET_RATE:.0f} %, "
            f"lower bound >= {100 * TARGET_LOWER:.1f} %)"
        )
        speeds = np.array([o.horizontal_speed_mps for o in outcomes if o.touched_down])
        p50, p90, p99, top = np.percentile(speeds, [50, 90, 99, 100])
        print(
            f"  touchdown horizontal speed: median {p50:.3f}, p90 {p90:.3f}, p99 {p99:.3f}, "
            f"max {top:.3f} m/s (limit 1 m/s)"
        )
        for o in outcomes:
            if not o.passed:
                print(f"  run {o.run} (seed {o.seed}): {o.verdict}")


if __name__ == "__main__":
    main()
