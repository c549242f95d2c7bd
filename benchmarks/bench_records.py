"""Record store figures: durable appends, and verifying a large record (target: <= 2 s).

Appends 10,000 events one durable transaction each (``synchronous=FULL``, the runner's path)
beside the same number appended in batches of 100, then builds a 100,000-event record and
verifies it. Then the whole-store figures of a store with a trust file (docs/architecture.md,
"Trust"): the signed checkpoint written at every run end, in a store of 200 runs (target
<= 100 ms), and ``hil records verify`` of the whole store against it. Prints times and ratios
from one run::

    python benchmarks/bench_records.py [--appends 10000] [--verify-events 100000] [--runs 200]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from hil.records import SqliteStore, verify
from hil.records.admin import bootstrap_admin
from hil.records.audit import verify_store
from hil.records.trust import Trust

CHECKPOINT_TARGET_S = 0.100


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
    parser.add_argument("--runs", type=int, default=200)
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
    checkpoints(args.runs)


def checkpoints(runs: int) -> None:
    """A run end's checkpoint in a store of ``runs`` runs, and whole-store verify."""
    with tempfile.TemporaryDirectory() as tmp:
        trust_path = Path(tmp) / "trust" / "trust.toml"
        trust_path.parent.mkdir()
        trust_path.write_text("")
        with SqliteStore(Path(tmp) / "data", trust=Trust.load(trust_path)) as store:
            bootstrap_admin(store, "admin", "Bench Admin", "bench-admin-secret")
        with SqliteStore(Path(tmp) / "data", trust=Trust.load(trust_path)) as store:
            meta = {"card": {"number": "LL-BENCH", "revision": "A"}, "operator_id": "bench"}
            for _ in range(runs):
                run_id = store.create_run(meta)
                store.append_many(run_id, [("attempt", _payload(s)) for s in range(20)])
            spans = []
            for _ in range(20):
                start = time.perf_counter()
                store.checkpoint("bench: a run end")
                spans.append(time.perf_counter() - start)
            checkpoint_s = sorted(spans)[len(spans) // 2]
            start = time.perf_counter()
            whole = verify_store(store)
            whole_s = time.perf_counter() - start
    verdict = "PASS" if checkpoint_s <= CHECKPOINT_TARGET_S else "MISS"
    print(
        f"checkpoint of a {runs}-run store (every head, signed, to the witness): "
        f"{checkpoint_s * 1e3:.1f} ms median of 20 (target <= "
        f"{CHECKPOINT_TARGET_S * 1e3:.0f} ms): {verdict}"
    )
    print(
        f"verify the whole {runs}-run store against it: {whole_s:.2f} s "
        f"({whole_s / runs * 1e3:.2f} ms a run) -> {'OK' if whole.ok else 'FAILED'}"
    )


if __name__ == "__main__":
    main()
