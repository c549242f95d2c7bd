"""Link throughput, measured side by side in one run (not a test).

CAN half: (a) raw python-can ``virtual`` bus, one bus sends N frames and another receives them
with ``recv()`` in a thread; (b) the ``CanLink`` path, ``CanLink.send`` (strict encode, Counter,
CRC) -> virtual bus -> a receiving ``CanLink`` whose Notifier thread checks, decodes and publishes
into a ``SignalStore``, timed until the receiver has published all N frames. Each is repeated
3 times and the median printed, with the ratio and PASS/MISS against the targets.

Run: ``python benchmarks/bench_links.py``.
"""

from __future__ import annotations

import itertools
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

import can

from hil.drivers.can import CanLink, load_database
from hil.signals import SignalStore

DBC_PATH = Path(__file__).resolve().parent.parent / "fixtures" / "can" / "lander.dbc"
CAN_FRAMES = 80_000
"""Frames per measurement: about 1-2 s each on the 2-core bench box."""
REPEATS = 3
TARGET_FRAMES_PER_S = 40_000.0
TARGET_RATIO = 0.4


def _raw_virtual_frames_per_s(frames: int) -> float:
    """Raw python-can: virtual bus send -> recv() in a thread, frames/s."""
    channel = f"bench-raw-{uuid.uuid4().hex}"
    done = threading.Event()
    received = 0
    with (
        can.Bus(interface="virtual", channel=channel) as sender,
        can.Bus(interface="virtual", channel=channel) as receiver,
    ):

        def receive() -> None:
            nonlocal received
            while received < frames:
                if receiver.recv(timeout=1.0) is None:
                    break
                received += 1
            done.set()

        thread = threading.Thread(target=receive, name="bench raw recv")
        thread.start()
        msg = can.Message(arbitration_id=0x101, data=bytes(range(8)), is_extended_id=False)
        start_s = time.perf_counter()
        for _ in range(frames):
            sender.send(msg)
        done.wait(timeout=60.0)
        elapsed_s = time.perf_counter() - start_s
        thread.join()
    if received != frames:
        raise RuntimeError(f"raw virtual bus: received {received} of {frames} frames")
    return frames / elapsed_s


def _mid_values(link: CanLink, message: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for signal in link.database.get_message_by_name(message).signals:
        if signal.name in ("Counter", "CRC"):
            continue
        low = signal.minimum if signal.minimum is not None else 0.0
        high = signal.maximum if signal.maximum is not None else 1.0
        values[signal.name] = round((low + high) / 2)
    return values


def _canlink_frames_per_s(frames: int) -> float:
    """CanLink.send -> virtual bus -> CanLink Notifier decode + publish, frames/s."""
    database = load_database(DBC_PATH)
    channel = f"bench-link-{uuid.uuid4().hex}"
    store = SignalStore(capacity=1024)
    with (
        CanLink(interface="virtual", channel=channel, database=database, name="tx") as sender,
        CanLink(
            interface="virtual", channel=channel, database=database, signals=store, name="rx"
        ) as receiver,
    ):
        names = [message.name for message in database.messages]
        payloads = {name: _mid_values(sender, name) for name in names}
        expected = dict.fromkeys(names, 0)
        schedule = list(itertools.islice(itertools.cycle(names), frames))
        for name in schedule:
            expected[name] += 1
        send = sender.send
        start_s = time.perf_counter()
        for name in schedule:
            send(name, payloads[name])
        for name, count in expected.items():
            receiver.wait_for(name, count - 1, timeout_s=60.0)
        elapsed_s = time.perf_counter() - start_s
        stats = receiver.link_stats
    if stats.frames_received != frames or stats.malformed or stats.unknown_ids:
        raise RuntimeError(f"CanLink path: {stats}")
    return frames / elapsed_s


def can_benchmark() -> dict[str, float]:
    """Median frames/s of the raw virtual bus and of the CanLink path, and their ratio."""
    raw, link = [], []
    for _ in range(REPEATS):
        raw.append(_raw_virtual_frames_per_s(CAN_FRAMES))
        link.append(_canlink_frames_per_s(CAN_FRAMES))
    raw_fps = statistics.median(raw)
    link_fps = statistics.median(link)
    return {
        "can_raw_frames_per_s": raw_fps,
        "can_link_frames_per_s": link_fps,
        "can_link_ratio": link_fps / raw_fps,
        "can_raw_min_frames_per_s": min(raw),
        "can_raw_max_frames_per_s": max(raw),
        "can_link_min_frames_per_s": min(link),
        "can_link_max_frames_per_s": max(link),
    }


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> None:
    can_results = can_benchmark()
    link_fps = can_results["can_link_frames_per_s"]
    ratio = can_results["can_link_ratio"]
    print(f"CAN links, {CAN_FRAMES} frames per run, median of {REPEATS}")
    print(f"{'path':<44} {'frames/s':>12} {'min':>10} {'max':>10}")
    for label, key in (
        ("(a) raw python-can virtual send -> recv", "can_raw"),
        ("(b) CanLink send -> Notifier decode/publish", "can_link"),
    ):
        print(
            f"{label:<44} {can_results[key + '_frames_per_s']:>12,.0f} "
            f"{can_results[key + '_min_frames_per_s']:>10,.0f} "
            f"{can_results[key + '_max_frames_per_s']:>10,.0f}"
        )
    print(f"{'ratio (b)/(a)':<44} {ratio:>12.2f}")
    ok_rate = link_fps >= TARGET_FRAMES_PER_S
    ok_ratio = ratio >= TARGET_RATIO
    print(f"target (b) >= {TARGET_FRAMES_PER_S:,.0f} frames/s: {_verdict(ok_rate)}")
    print(f"target (b)/(a) >= {TARGET_RATIO:.1f}: {_verdict(ok_ratio)}")
    print()
    # The serial half lives beside this file (run as a script, this folder is on sys.path).
    import _serial_bench

    _serial_bench.main(sys.argv[1:])


if __name__ == "__main__":
    main()
