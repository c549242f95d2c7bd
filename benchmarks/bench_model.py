"""Model-only descent speed: real-time factor of one run and wall time of a batch, side by side.

Usage: ``python benchmarks/bench_model.py [--batch N] [--workers W]`` (about 70 s).

Targets (this 2-core machine):

* issue 3: a single nominal model-only run (default ``ClosedLoopParams``, seed 1, in this
  process) >= 200x real time;
* issue 4: 1000 dispersed nominal runs as a campaign (``run_campaign`` with a ``LocalPool`` of
  ``--workers`` (2) processes, chunks of ``MODEL_CHUNK_RUNS``) <= 60 s wall.

The batch is 1000 runs by default; ``--batch N`` measures N runs and *extrapolates* linearly
to 1000 (labelled so; take a multiple of ``workers x MODEL_CHUNK_RUNS`` so that every worker
is busy, or the extrapolation is meaningless).
Also times the truth block propagation alone for N = 1 and N = 1000, and prints the CPU time
next to each wall time with the load average (the machine may be shared: a wall time above
the CPU time means the process waited for a core).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from hil.flight.campaign import MODEL_CHUNK_RUNS, LocalPool, run_campaign
from hil.flight.kernels import warm_up
from hil.flight.model_only import ClosedLoopParams, run_model_only
from hil.models import dynamics as dyn

SINGLE_TARGET_X = 200.0
BATCH_RUNS = 1000
BATCH_TARGET_S = 60.0


def _propagate_us(n: int, n_blocks: int) -> float:
    lander = dyn.LanderParams()
    state = dyn.initial_state(n, (-470e3, 0.0, 15e3), (1680.0, 0.0, 0.0), 750.0, pitch_rad=1.2)
    cmd = np.tile([0.9, 1.2, 0.0], (n, 1))
    work = dyn.BlockWork()
    t0 = time.perf_counter()
    for _ in range(n_blocks):
        state, _ = dyn.propagate(state, cmd, lander, work=work)
    return (time.perf_counter() - t0) / n_blocks * 1e6


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _children_cpu_s() -> float:
    t = os.times()
    return t.children_user + t.children_system


def main() -> None:
    """Print the measured figures and PASS/MISS against the targets."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=BATCH_RUNS, help="runs in the batch (1000)")
    ap.add_argument("--workers", type=int, default=2, help="campaign worker processes (2)")
    args = ap.parse_args()
    batch = args.batch
    params = ClosedLoopParams()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"numba kernels compiled or loaded in {warm_up():.2f} s (not timed below)")

    us1 = _propagate_us(1, 5000)
    us1k = _propagate_us(BATCH_RUNS, 100)
    print(
        f"propagate alone: N=1 {us1:.1f} us/block ({20e3 / us1:.0f}x real time), "
        f"N={BATCH_RUNS} {us1k / 1e3:.2f} ms/block"
    )

    cpu0 = time.process_time()
    t0 = time.perf_counter()
    single = run_model_only(1, seed=1, params=params)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    sim = float(single.end_time_s[0])
    rtf = sim / wall
    blocks = sim / (params.dt_s * params.steps_per_block)

    cpu0 = _children_cpu_s()
    t0 = time.perf_counter()
    with LocalPool(args.workers) as pool:
        outcomes = run_campaign("nominal", batch, seed=1, pool=pool)
    wall_b = time.perf_counter() - t0
    cpu_b = _children_cpu_s() - cpu0
    if batch == BATCH_RUNS:
        thousand, how = wall_b, "measured"
    else:
        thousand, how = wall_b * BATCH_RUNS / batch, f"EXTRAPOLATED linearly from {batch} runs"

    print(
        f"single run: {sim:.1f} s simulated in {wall:.2f} s wall ({cpu:.2f} s CPU) = "
        f"{rtf:.0f}x real time ({wall / blocks * 1e6:.0f} us per 20 ms block); "
        f"target >= {SINGLE_TARGET_X:.0f}x: {_verdict(rtf >= SINGLE_TARGET_X)}"
    )
    print(
        f"campaign of {batch} dispersed nominal runs on {args.workers} processes "
        f"(chunks of {MODEL_CHUNK_RUNS}): {wall_b:.1f} s wall, "
        f"{cpu_b / batch * 1e3:.0f} ms CPU per run, "
        f"passed {sum(o.passed for o in outcomes)}/{batch}"
    )
    print(
        f"{BATCH_RUNS} runs: {thousand:.1f} s ({how}); target <= {BATCH_TARGET_S:.0f} s: "
        f"{_verdict(thousand <= BATCH_TARGET_S)}"
    )
    print(f"  single run verdict: {single.verdict(0)}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
