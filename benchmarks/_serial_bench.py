"""Serial half of bench_links: IMU frames over a pty pair, raw os calls against the link path.

Measured side by side in one run:

(a) raw baseline: ``os.write`` of pre-encoded frames on the pty master, ``os.read`` on the slave;
(b) link path: ``ImuFrame.pack`` + ``SerialLink.on_fd(master).write_frame`` ->
    ``SerialLink(slave_path).read_frames`` + ``ImuFrame.unpack``; its ratio to (a);
(c) lockstep handshake: the bench writes one frame, the device end waits for it with
    ``read_until_sequence`` (the pattern the simulated FC runs in lockstep);
(d) the real-time 400 Hz IMU stream for 5 s: CPU used per wall second, % of one core.

Run: ``python benchmarks/_serial_bench.py`` (``--quick`` for a 1 s real-time stream).
"""

from __future__ import annotations

import os
import select
import sys
import threading
import time

from hil.drivers.serial import ImuFrame, SerialLink, encode_frame
from hil.drivers.sim.pty import PtyPair

FRAMES = 20_000
LOCKSTEP_FRAMES = 5_000
IMU_RATE_HZ = 400.0
REALTIME_S = 5.0

LOCKSTEP_TARGET_FPS = 10_000.0
"""The IMU path in lockstep runs at ~10,000 frames/s (task brief)."""
REALTIME_CPU_TARGET_PERCENT = 10.0


def _frame(sequence: int) -> ImuFrame:
    return ImuFrame(
        sequence & 0xFFFF,
        (2500 * sequence) & 0xFFFFFFFF,
        (0.012, -0.003, 1.62),
        (0.0001, -0.0002, 0.00005),
        0,
    )


def _write_all(fd: int, data: bytes) -> None:
    """Blocking-style write on a non-blocking fd (the baseline's writer)."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            select.select([], [fd], [], 1.0)


def raw_baseline(frames: int = FRAMES) -> float:
    """(a) frames/s moving pre-encoded frames with bare os.write / os.read."""
    encoded = [encode_frame(_frame(i).pack()) for i in range(frames)]
    total = sum(len(wire) for wire in encoded)
    with PtyPair() as pty:
        slave_fd = os.open(pty.slave_path, os.O_RDWR | os.O_NOCTTY)
        try:

            def writer() -> None:
                for wire in encoded:
                    _write_all(pty.master_fd, wire)

            thread = threading.Thread(target=writer, name="bench-raw-writer")
            started_s = time.perf_counter()
            thread.start()
            received = 0
            while received < total:
                select.select([slave_fd], [], [], 1.0)
                received += len(os.read(slave_fd, 65536))
            elapsed_s = time.perf_counter() - started_s
            thread.join()
        finally:
            os.close(slave_fd)
    return frames / elapsed_s


def link_path(frames: int = FRAMES) -> float:
    """(b) frames/s through pack + write_frame -> read_frames + unpack."""
    with (
        PtyPair() as pty,
        SerialLink(pty.slave_path, baudrate=921600, name="bench") as reader,
        SerialLink.on_fd(pty.master_fd, name="device") as device,
    ):

        def writer() -> None:
            for i in range(frames):
                device.write_frame(_frame(i).pack())

        thread = threading.Thread(target=writer, name="bench-link-writer")
        started_s = time.perf_counter()
        thread.start()
        decoded = 0
        while decoded < frames:
            for payload in reader.read_frames(timeout_s=1.0):
                ImuFrame.unpack(payload)
                decoded += 1
        elapsed_s = time.perf_counter() - started_s
        thread.join()
    return frames / elapsed_s


def lockstep(frames: int = LOCKSTEP_FRAMES) -> float:
    """(c) frames/s when every frame is written, then awaited by sequence number."""
    with (
        PtyPair() as pty,
        SerialLink(pty.slave_path, baudrate=921600, name="imu") as bench,
        SerialLink.on_fd(pty.master_fd, name="sim-fc imu") as device,
    ):
        started_s = time.perf_counter()
        for i in range(frames):
            bench.write_frame(_frame(i).pack())
            device.read_until_sequence(i, timeout_s=1.0)
        elapsed_s = time.perf_counter() - started_s
    return frames / elapsed_s


def realtime_stream(duration_s: float = REALTIME_S) -> dict[str, float]:
    """(d) 400 Hz writer thread and decoding reader thread; CPU per wall second."""
    expected = round(duration_s * IMU_RATE_HZ)
    reader_cpu_s = [0.0]
    received = [0]
    with (
        PtyPair() as pty,
        SerialLink(pty.slave_path, baudrate=921600, name="imu") as bench,
        SerialLink.on_fd(pty.master_fd, name="sim-fc imu") as device,
    ):
        done = threading.Event()

        def reader() -> None:
            start_cpu_s = time.thread_time()
            while not done.is_set() or received[0] < expected:
                payloads = device.read_frames(timeout_s=0.1)
                for payload in payloads:
                    ImuFrame.unpack(payload)
                received[0] += len(payloads)
                if done.is_set() and not payloads:
                    break
            reader_cpu_s[0] = time.thread_time() - start_cpu_s

        thread = threading.Thread(target=reader, name="bench-imu-reader")
        thread.start()
        period_s = 1.0 / IMU_RATE_HZ
        cpu0_s, wall0_s = time.process_time(), time.perf_counter()
        for i in range(expected):
            delay_s = wall0_s + i * period_s - time.perf_counter()
            if delay_s > 0:
                time.sleep(delay_s)
            bench.write_frame(_frame(i).pack())
        done.set()
        thread.join()
        cpu_s, wall_s = time.process_time() - cpu0_s, time.perf_counter() - wall0_s
    return {
        "rt_frames_expected": float(expected),
        "rt_frames_received": float(received[0]),
        "rt_achieved_rate_hz": expected / wall_s,
        "rt_process_cpu_percent": 100.0 * cpu_s / wall_s,
        "rt_reader_cpu_percent": 100.0 * reader_cpu_s[0] / wall_s,
    }


def serial_benchmark(quick: bool = False) -> dict[str, float]:
    """All serial figures, measured in one run. ``quick`` shortens the real-time stream."""
    raw_fps = raw_baseline()
    link_fps = link_path()
    results = {
        "raw_frames_per_s": raw_fps,
        "link_frames_per_s": link_fps,
        "link_to_raw_ratio": link_fps / raw_fps,
        "lockstep_frames_per_s": lockstep(),
    }
    results.update(realtime_stream(1.0 if quick else REALTIME_S))
    return results


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main(argv: list[str]) -> int:
    results = serial_benchmark(quick="--quick" in argv)
    print("serial link over a pty pair (36-byte IMU frames on the wire)")
    print(f"  (a) raw os.write/os.read        {results['raw_frames_per_s']:>10,.0f} frames/s")
    print(f"  (b) pack+write_frame/read+unpack {results['link_frames_per_s']:>9,.0f} frames/s")
    print(f"      ratio (b)/(a)               {results['link_to_raw_ratio']:>10.2f}")
    lockstep_fps = results["lockstep_frames_per_s"]
    print(
        f"  (c) lockstep write + read_until_sequence {lockstep_fps:>8,.0f} frames/s"
        f"  target >= {LOCKSTEP_TARGET_FPS:,.0f}  {_verdict(lockstep_fps >= LOCKSTEP_TARGET_FPS)}"
    )
    received = results["rt_frames_received"]
    expected = results["rt_frames_expected"]
    cpu = results["rt_process_cpu_percent"]
    print(
        f"  (d) 400 Hz stream: {received:.0f}/{expected:.0f} frames at "
        f"{results['rt_achieved_rate_hz']:.1f} Hz  {_verdict(received == expected)}"
    )
    print(
        f"      CPU {cpu:.2f} % of one core (writer + reader; reader alone "
        f"{results['rt_reader_cpu_percent']:.2f} %)  target < {REALTIME_CPU_TARGET_PERCENT:.0f} %"
        f"  {_verdict(cpu < REALTIME_CPU_TARGET_PERCENT)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
