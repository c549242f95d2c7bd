"""Model-only descent speed: real-time factor of one run, wall time of a batch.

Usage: ``python benchmarks/bench_model.py [batch_size]`` (default 1000; targets: single run
>= 200x real time, 1000 runs <= 60 s). Also times the truth block propagation alone.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from hil.models import dynamics as dyn
from hil.models.closed_loop import ClosedLoopParams, run_model_only


def main() -> None:
    """Print the measured ratios."""
    batch = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    params = ClosedLoopParams()
    lander = dyn.LanderParams()

    state = dyn.initial_state(1, (-470e3, 0.0, 15e3), (1680.0, 0.0, 0.0), 750.0)
    cmd = np.array([[0.9, 1.2, 0.0]])
    n_blocks = 5000
    t0 = time.perf_counter()
    for _ in range(n_blocks):
        state, _ = dyn.propagate(state, cmd, lander)
    per_block = (time.perf_counter() - t0) / n_blocks
    print(
        f"propagate N=1: {per_block * 1e6:.1f} us per 20 ms block "
        f"({0.02 / per_block:.0f}x real time for truth alone)"
    )

    t0 = time.perf_counter()
    single = run_model_only(1, seed=1, params=params)
    wall = time.perf_counter() - t0
    sim = float(single.end_time_s[0])
    print(
        f"single run: {sim:.1f} s simulated in {wall:.2f} s wall -> {sim / wall:.0f}x real time "
        f"(target 200x); {single.verdict(0)}"
    )

    t0 = time.perf_counter()
    res = run_model_only(batch, seed=1, params=params)
    wall_b = time.perf_counter() - t0
    print(
        f"batch of {batch}: {wall_b:.1f} s wall ({wall_b / batch * 1e3:.1f} ms per run, "
        f"{wall_b / wall:.1f}x the single run; target 1000 runs <= 60 s); "
        f"passed {int(res.passed.sum())}/{batch}"
    )


if __name__ == "__main__":
    main()
