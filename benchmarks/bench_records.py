"""Record store figures: durable appends, and verifying a large record (target: <= 2 s).

Appends 10,000 events one durable transaction each (``synchronous=FULL``, the runner's path)
beside the same number appended in batches of 100, then builds a 100,000-event record and
verifies it. Prints times and ratios from one run::

    python benchmarks/bench_records.py [--appends 10000] [--verify-events 100000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from hil.records import SqliteStore, verify


def _payload(step: int) -> dict[str, object]:
    return {
        "step": step,
        "kind": "measurement",
        "text": "Measure IMU output rate",
        "attempt": 1,
        "outcome": "PASS",
        "name": "imu_rate_hz",
        "value": 10.0 + step * 1e-4,
        "unit": "Hz",
        "low": 9.5,
        "high": 10.5,
        "logs": [{"utc": "2025-06-05T10:00:00.000+00:00", "text": "rate settled"}],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=10_000)
    parser.add_argument("--verify-events", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, SqliteStore(Path(tmp)) as store:
        meta = {"card": {"number": "LL-BENCH", "revision": "A"}, "operator_id": "bench"}
        run_id = store.create_run(meta)
        start = time.perf_counter()
        for step in range(args.appends):
            store.append(run_id, "attempt", _payload(step))
        single_s = time.perf_counter() - start

        batched = store.create_run(meta)
        start = time.perf_counter()
        for first in range(0, args.appends, 100):
            store.append_many(
                batched, [("attempt", _payload(s)) for s in range(first, first + 100)]
            )
        batched_s = time.perf_counter() - start

        big = store.create_run(meta)
        for first in range(1, args.verify_events, 1000):
            count = min(1000, args.verify_events - first)
            store.append_many(big, [("attempt", _payload(s)) for s in range(count)])
        start = time.perf_counter()
        report = verify(store, big)
        verify_s = time.perf_counter() - start
        start = time.perf_counter()
        events = store.events(big)
        read_s = time.perf_counter() - start

    print(
        f"{args.appends} durable appends, one transaction each: {single_s:.2f} s "
        f"({single_s / args.appends * 1e3:.2f} ms/event)"
    )
    print(
        f"{args.appends} appends in batches of 100:            {batched_s:.2f} s "
        f"(single/batched = {single_s / batched_s:.1f}x)"
    )
    print(
        f"verify {len(events)}-event record: {verify_s:.2f} s (target <= 2 s; "
        f"of which reading {read_s:.2f} s) -> {report.describe()}"
    )


if __name__ == "__main__":
    main()
