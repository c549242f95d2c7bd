"""Campaign speed: 1,000 model-only runs vs the 60 s target, full-stack scaling vs 1.7x.

Usage: ``python benchmarks/bench_campaign.py [--runs N] [--quick]``.

Measured side by side in one run:

* model-only: ``--runs`` (1000) dispersed nominal runs through ``run_campaign`` with a
  ``LocalPool`` of 2 processes; wall time vs the 60 s target (extrapolated linearly to 1000
  runs when fewer are measured, and labelled so), runs/s, CPU seconds per run;
* full-stack: N short runs (the nominal scenario cut to ``--full-stack-s`` simulated seconds,
  through the links) with 1 worker and with 2 workers; throughput ratio vs the 1.7x target.

``--quick``: 100 model-only runs and 2 x 2 full-stack runs of 5 s (a fast check, a minute).
The machine may be shared: the load average is printed next to the figures.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from hil.flight.campaign import LocalPool, run_campaign
from hil.flight.scenario import SCENARIO_DIR

TARGET_RUNS = 1000
TARGET_S = 60.0
SCALING_TARGET = 1.7
SIM_BENCH = Path(__file__).resolve().parent.parent / "hil" / "data" / "benches" / "sim.toml"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _model_only(runs: int) -> tuple[float, float, int]:
    cpu0 = os.times()
    t0 = time.perf_counter()
    with LocalPool(2) as pool:
        outcomes = run_campaign("nominal", runs, seed=1, pool=pool)
    wall = time.perf_counter() - t0
    cpu1 = os.times()
    cpu = (cpu1.children_user + cpu1.children_system) - (cpu0.children_user + cpu0.children_system)
    return wall, cpu, sum(o.passed for o in outcomes)


def _full_stack(runs: int, workers: int, scenario: Path) -> float:
    t0 = time.perf_counter()
    with LocalPool(workers) as pool:
        run_campaign(
            str(scenario), runs, seed=1, pool=pool, full_stack=True, bench_path=str(SIM_BENCH)
        )
    return time.perf_counter() - t0


def main() -> None:
    """Print the measured figures, ratios and PASS/MISS against the targets."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=TARGET_RUNS, help="model-only runs (1000)")
    ap.add_argument("--full-stack-runs", type=int, default=4, help="full-stack runs (4)")
    ap.add_argument("--full-stack-s", type=float, default=20.0, help="simulated s per run")
    ap.add_argument("--quick", action="store_true", help="100 model-only, 2 x 5 s full-stack")
    args = ap.parse_args()
    runs, fs_runs, fs_s = args.runs, args.full_stack_runs, args.full_stack_s
    if args.quick:
        runs, fs_runs, fs_s = 100, 2, 5.0
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")

    wall, cpu, passed = _model_only(runs)
    thousand = wall * TARGET_RUNS / runs
    how = "measured" if runs == TARGET_RUNS else f"EXTRAPOLATED linearly from {runs} runs"
    print(
        f"model-only: {runs} dispersed nominal runs in {wall:.1f} s wall on 2 processes = "
        f"{runs / wall:.1f} runs/s, {cpu / runs * 1e3:.0f} ms CPU per run, "
        f"passed {passed}/{runs}"
    )
    print(
        f"model-only {TARGET_RUNS} runs: {thousand:.1f} s ({how}) vs target {TARGET_S:.0f} s "
        f"= {thousand / TARGET_S:.2f}x the target: {_verdict(thousand <= TARGET_S)}"
    )

    text = (SCENARIO_DIR / "nominal.toml").read_text()
    text = text.replace("max_duration_s = 900.0", f"max_duration_s = {fs_s}")
    with tempfile.TemporaryDirectory() as tmp:
        scenario = Path(tmp) / "nominal-short.toml"
        scenario.write_text(text)
        one = _full_stack(fs_runs, 1, scenario)
        two = _full_stack(fs_runs, 2, scenario)
    ratio = one / two
    print(
        f"full-stack: {fs_runs} runs of {fs_s:.0f} s simulated: 1 worker {one:.1f} s "
        f"({fs_runs / one:.2f} runs/s), 2 workers {two:.1f} s ({fs_runs / two:.2f} runs/s)"
    )
    print(
        f"full-stack scaling 2 vs 1 workers: {ratio:.2f}x vs target {SCALING_TARGET}x: "
        f"{_verdict(ratio >= SCALING_TARGET)}"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
