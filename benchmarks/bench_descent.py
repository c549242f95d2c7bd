"""Closed-loop descent speed and real-time behaviour, measured side by side in one run.

1. Lockstep: the full stack (bench plant, executive, pty and virtual-CAN links, simulated FC
   running the flight software) flying the nominal descent, beside the model and
   flight-software algorithms alone (``run_model_only``, no links, median of 3), same
   scenario and seed. The numba kernels are compiled or loaded first (time printed).
   Targets: full stack >= 20x real time; algorithms alone >= 200x.
2. Real time at 1 kHz: the descent executive on the wall clock with the whole simulated
   stack (the FC's threads in the same process), beside a bare loop that only sleeps to
   each 1 ms deadline, for the same duration. Targets: deadline misses < 0.1 %, lateness
   p99 <= 2x the bare loop.

Usage: ``python benchmarks/bench_descent.py [--quick]`` (quick: 10 s of real time each).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np

from hil.core.clock import WallClock
from hil.core.config import load_bench
from hil.core.executive import Executive, Task
from hil.flight.descent import fly
from hil.flight.kernels import warm_up
from hil.flight.model_only import run_model_only
from hil.flight.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "hil" / "data" / "benches" / "sim.toml"


#: the algorithms-only run is short (seconds): fly it this many times, report the median
MODEL_REPEATS = 3


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def lockstep(seed: int) -> dict[str, float]:
    config = load_bench(BENCH)
    scenario = load_scenario("nominal")
    started_s = time.perf_counter()
    result = fly(config, scenario, seed=seed)
    full_wall_s = time.perf_counter() - started_s
    full_sim_s = result.timing["simulated_s"]

    model_walls_s = []
    for _ in range(MODEL_REPEATS):
        started_s = time.perf_counter()
        model = run_model_only(1, seed=seed, params=scenario.model)
        model_walls_s.append(time.perf_counter() - started_s)
    model_wall_s = float(np.median(model_walls_s))
    model_sim_s = float(model.end_time_s[0])
    print(f"full stack : {result.verdict}")
    print(f"model only : {model.verdict(0)}")
    return {
        "full_rtf": full_sim_s / full_wall_s,
        "full_sim_s": full_sim_s,
        "full_wall_s": full_wall_s,
        "model_rtf": model_sim_s / model_wall_s,
        "model_sim_s": model_sim_s,
        "model_wall_s": model_wall_s,
        "model_rtf_low": model_sim_s / max(model_walls_s),
        "model_rtf_high": model_sim_s / min(model_walls_s),
    }


def realtime(duration_s: float) -> dict[str, float]:
    config = load_bench(BENCH)
    scenario = load_scenario("nominal")
    scenario = dataclasses.replace(
        scenario, model=dataclasses.replace(scenario.model, max_duration_s=duration_s)
    )
    result = fly(config, scenario, realtime=True)
    timing = result.timing

    bare = Executive(WallClock(), [Task("bare", 1000.0, lambda instants: None)])
    bare.run(0.0, duration_s)
    bare_p99_ms = 1000 * bare.timing.percentile_s(99)
    return {
        "stack_p50_ms": timing["lateness_p50_ms"],
        "stack_p99_ms": timing["lateness_p99_ms"],
        "stack_max_ms": timing["lateness_max_ms"],
        "stack_miss": timing["overruns"] / timing["frames"],
        "bare_p50_ms": 1000 * bare.timing.percentile_s(50),
        "bare_p99_ms": bare_p99_ms,
        "bare_max_ms": 1000 * float(np.max(bare.timing.lateness_s)),
        "bare_miss": bare.timing.deadline_miss_fraction,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    duration_s = 10.0 if args.quick else 30.0

    warm_s = warm_up()
    print(f"numba kernels compiled or loaded in {warm_s:.2f} s (once per process; not timed below)")
    figures = lockstep(args.seed)
    print()
    print("Lockstep nominal descent            simulated s    wall s   real-time factor")
    print(
        f"  full stack (links + sim FC)       {figures['full_sim_s']:9.1f} "
        f"{figures['full_wall_s']:9.2f} {figures['full_rtf']:12.1f}x"
    )
    print(
        f"  model + FSW algorithms only       {figures['model_sim_s']:9.1f} "
        f"{figures['model_wall_s']:9.2f} {figures['model_rtf']:12.1f}x"
        f"  (median of {MODEL_REPEATS}: {figures['model_rtf_low']:.0f}-"
        f"{figures['model_rtf_high']:.0f}x)"
    )
    print(f"  ratio full stack / algorithms only: {figures['full_rtf'] / figures['model_rtf']:.2f}")
    print(f"  target full stack >= 20x: {verdict(figures['full_rtf'] >= 20)}")
    print(f"  target algorithms only >= 200x: {verdict(figures['model_rtf'] >= 200)}")

    rt = realtime(duration_s)
    print()
    print(f"Real time at 1 kHz, {duration_s:.0f} s each      p50 ms    p99 ms    max ms   misses")
    print(
        f"  descent, full simulated stack  {rt['stack_p50_ms']:9.3f} {rt['stack_p99_ms']:9.3f} "
        f"{rt['stack_max_ms']:9.2f} {100 * rt['stack_miss']:7.3f} %"
    )
    print(
        f"  bare sleep loop                {rt['bare_p50_ms']:9.3f} {rt['bare_p99_ms']:9.3f} "
        f"{rt['bare_max_ms']:9.2f} {100 * rt['bare_miss']:7.3f} %"
    )
    ratio = rt["stack_p99_ms"] / rt["bare_p99_ms"] if rt["bare_p99_ms"] > 0 else float("inf")
    print(f"  lateness p99 ratio descent / bare: {ratio:.2f}")
    print(f"  target deadline misses < 0.1 %: {verdict(rt['stack_miss'] < 0.001)}")
    print(f"  target p99 <= 2x bare loop: {verdict(ratio <= 2.0)}")


if __name__ == "__main__":
    main()
