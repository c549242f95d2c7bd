"""Link throughput, measured side by side in one run (not a test).

CAN half: (a) raw python-can ``virtual`` bus, one bus sends N frames and another receives them
with ``recv()`` in a thread; (b) the ``CanLink`` path, ``CanLink.send`` (strict encode, Counter,
CRC) -> virtual bus -> a receiving ``CanLink`` whose Notifier thread checks, decodes and publishes
into a ``SignalStore``, timed until the receiver has published all N frames. After one small
warm-up of each, (a) and (b) alternate, 3 times each; the medians are printed with min/max, the
ratio (b)/(a) and PASS/MISS against the targets.

Both paths run two Python threads that share one GIL, so they use about one core however many
the machine has; other processes on the machine slow them down. So the script also prints the
CPU the process used per frame (``time.process_time``, both threads; less sensitive to other
load than wall time), the cores it may use, how busy other processes kept the CPUs just
before the run, and the load average before and after, with a note when the machine was
busy: figures taken on a loaded machine are lower than on an idle one.

Run: ``python benchmarks/bench_links.py`` (``--can-only`` skips the serial half; other
arguments, e.g. ``--quick``, go to the serial half).
"""

from __future__ import annotations

import itertools
import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import can

from hil.core.signals import SignalStore
from hil.drivers.can import CanLink, load_database

DBC_PATH = Path(__file__).resolve().parent.parent / "hil" / "data" / "can" / "lander.dbc"
CAN_FRAMES = 80_000
"""Frames per measurement: about 1-2 s each on the 2-core bench box."""
WARMUP_FRAMES = 5_000
REPEATS = 3
TARGET_FRAMES_PER_S = 40_000.0
TARGET_RATIO = 0.4
BUSY_FRACTION = 0.10
"""Other processes keeping more than this fraction of the CPUs busy just before the run (or,
without /proc/stat, a 1-minute load average above a quarter per core) is reported as a loaded
machine."""


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


def _timed(measure: Callable[[int], float], frames: int) -> tuple[float, float]:
    """Run ``measure(frames)``; its frames/s and the process CPU time per frame (s)."""
    cpu_start_s = time.process_time()
    frames_per_s = measure(frames)
    return frames_per_s, (time.process_time() - cpu_start_s) / frames


def can_benchmark() -> dict[str, float]:
    """Median frames/s of the raw virtual bus and of the CanLink path, their ratio, and the
    CPU time per frame of each (medians, microseconds)."""
    _raw_virtual_frames_per_s(WARMUP_FRAMES)
    _canlink_frames_per_s(WARMUP_FRAMES)
    raw: list[float] = []
    link: list[float] = []
    raw_cpu_s: list[float] = []
    link_cpu_s: list[float] = []
    for _ in range(REPEATS):
        fps, cpu_s = _timed(_raw_virtual_frames_per_s, CAN_FRAMES)
        raw.append(fps)
        raw_cpu_s.append(cpu_s)
        fps, cpu_s = _timed(_canlink_frames_per_s, CAN_FRAMES)
        link.append(fps)
        link_cpu_s.append(cpu_s)
    raw_fps = statistics.median(raw)
    link_fps = statistics.median(link)
    raw_cpu_us = statistics.median(raw_cpu_s) * 1e6
    link_cpu_us = statistics.median(link_cpu_s) * 1e6
    return {
        "can_raw_frames_per_s": raw_fps,
        "can_link_frames_per_s": link_fps,
        "can_link_ratio": link_fps / raw_fps,
        "can_raw_min_frames_per_s": min(raw),
        "can_raw_max_frames_per_s": max(raw),
        "can_link_min_frames_per_s": min(link),
        "can_link_max_frames_per_s": max(link),
        "can_raw_cpu_us_per_frame": raw_cpu_us,
        "can_link_cpu_us_per_frame": link_cpu_us,
        "can_link_cpu_ratio": raw_cpu_us / link_cpu_us,
    }


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _machine_busy_fraction(window_s: float = 0.5) -> float | None:
    """Fraction of all CPUs busy during ``window_s`` (Linux ``/proc/stat``; None elsewhere).
    Measured while this process sleeps, so it is other processes' load."""

    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields), idle

    try:
        total_0, idle_0 = sample()
        time.sleep(window_s)
        total_1, idle_1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    total = total_1 - total_0
    return None if total <= 0 else 1.0 - (idle_1 - idle_0) / total


def main() -> None:
    cores = _usable_cores()
    busy_before = _machine_busy_fraction()
    load_before = os.getloadavg()
    can_results = can_benchmark()
    load_after = os.getloadavg()
    link_fps = can_results["can_link_frames_per_s"]
    ratio = can_results["can_link_ratio"]
    print(
        f"CAN links, {CAN_FRAMES} frames per run, median of {REPEATS}, on {cores} usable cores "
        f"(of {os.cpu_count()}); load average (1 min) {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after"
    )
    print(f"{'path':<44} {'frames/s':>12} {'min':>10} {'max':>10} {'CPU us/frame':>13}")
    for label, key in (
        ("(a) raw python-can virtual send -> recv", "can_raw"),
        ("(b) CanLink send -> Notifier decode/publish", "can_link"),
    ):
        print(
            f"{label:<44} {can_results[key + '_frames_per_s']:>12,.0f} "
            f"{can_results[key + '_min_frames_per_s']:>10,.0f} "
            f"{can_results[key + '_max_frames_per_s']:>10,.0f} "
            f"{can_results[key + '_cpu_us_per_frame']:>13.1f}"
        )
    print(
        f"{'ratio (b)/(a)':<44} {ratio:>12.2f}   (by CPU per frame: "
        f"{can_results['can_link_cpu_ratio']:.2f})"
    )
    ok_rate = link_fps >= TARGET_FRAMES_PER_S
    ok_ratio = ratio >= TARGET_RATIO
    print(
        f"target (b) >= {TARGET_FRAMES_PER_S:,.0f} frames/s on {cores} cores: "
        f"{_verdict(ok_rate)} ({link_fps:,.0f})"
    )
    print(f"target (b)/(a) >= {TARGET_RATIO:.1f}: {_verdict(ok_ratio)} ({ratio:.2f})")
    if busy_before is not None:
        print(f"other processes kept {busy_before:.0%} of the CPUs busy just before the run")
    loaded = busy_before > BUSY_FRACTION if busy_before is not None else load_before[0] > cores / 4
    if loaded:
        print(
            "NOTE: the machine was loaded: other processes took CPU from both paths, so the "
            "wall-clock figures are lower and noisier than on an idle machine (CPU us/frame is "
            "the steadier comparison)."
        )
    print()
    if "--can-only" in sys.argv[1:]:
        return
    # The serial half lives beside this file (run as a script, this folder is on sys.path).
    import _serial_bench

    _serial_bench.main([arg for arg in sys.argv[1:] if arg != "--can-only"])


if __name__ == "__main__":
    main()
