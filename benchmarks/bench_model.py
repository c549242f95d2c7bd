"""Model-only descent speed: real-time factor of one run and wall time of a batch, side by side.

Usage: ``python benchmarks/bench_model.py [--batch N] [--full]``.

Targets (this 2-core machine): a single nominal run >= 200x real time; 1000 runs <= 60 s.
By default the batch is measured with ``--batch`` runs (200) and *extrapolated* linearly to
1000 runs (labelled so); ``--full`` measures the 1000-run batch itself (about two minutes).
Also times the truth block propagation alone for N = 1 and N = 1000.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hil.models import dynamics as dyn
from hil.models.closed_loop import ClosedLoopParams, run_model_only

SINGLE_TARGET_X = 200.0
BATCH_RUNS = 1000
BATCH_TARGET_S = 60.0


def _propagate_us(n: int, n_blocks: int) -> float:
    lander = dyn.LanderParams()
    state = dyn.initial_state(n, (-470e3, 0.0, 15e3), (1680.0, 0.0, 0.0), 750.0, pitch_rad=1.2)
    cmd = np.tile([0.9, 1.2, 0.0], (n, 1))
    t0 = time.perf_counter()
    for _ in range(n_blocks):
        state, _ = dyn.propagate(state, cmd, lander)
    return (time.perf_counter() - t0) / n_blocks * 1e6


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> None:
    """Print the measured figures and PASS/MISS against the targets."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=200, help="runs in the measured batch")
    ap.add_argument("--full", action="store_true", help=f"measure {BATCH_RUNS} runs")
    args = ap.parse_args()
    batch = BATCH_RUNS if args.full else args.batch
    params = ClosedLoopParams()

    us1 = _propagate_us(1, 5000)
    us1k = _propagate_us(BATCH_RUNS, 100)
    print(
        f"propagate alone: N=1 {us1:.1f} us/block ({20e3 / us1:.0f}x real time), "
        f"N={BATCH_RUNS} {us1k / 1e3:.2f} ms/block"
    )

    t0 = time.perf_counter()
    single = run_model_only(1, seed=1, params=params)
    wall = time.perf_counter() - t0
    sim = float(single.end_time_s[0])
    rtf = sim / wall
    blocks = sim / (params.dt_s * params.steps_per_block)

    t0 = time.perf_counter()
    res = run_model_only(batch, seed=1, params=params)
    wall_b = time.perf_counter() - t0
    sim_b = float(res.end_time_s.max())
    per_run = wall_b / batch
    if batch == BATCH_RUNS:
        thousand, how = wall_b, "measured"
    else:
        thousand, how = per_run * BATCH_RUNS, f"EXTRAPOLATED linearly from {batch} runs"

    print(
        f"single run: {sim:.1f} s simulated in {wall:.2f} s wall = {rtf:.0f}x real time "
        f"({wall / blocks * 1e6:.0f} us per 20 ms block); target >= {SINGLE_TARGET_X:.0f}x: "
        f"{_verdict(rtf >= SINGLE_TARGET_X)}"
    )
    print(
        f"batch of {batch}: {wall_b:.1f} s wall for {sim_b:.1f} s simulated "
        f"({per_run * 1e3:.1f} ms per run, {wall_b / wall:.1f}x the single run), "
        f"passed {int(res.passed.sum())}/{batch}"
    )
    print(
        f"{BATCH_RUNS} runs: {thousand:.1f} s ({how}); target <= {BATCH_TARGET_S:.0f} s: "
        f"{_verdict(thousand <= BATCH_TARGET_S)}"
    )
    print(f"  single run verdict: {single.verdict(0)}")


if __name__ == "__main__":
    main()
