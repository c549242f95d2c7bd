"""Real time with the flight computer outside the bench, measured side by side in one run.

The simulated FC runs as a device of its own (``hil device fc``, CAN over a python-can-remote
server on loopback), as hardware would; the bench's real-time loop runs in this process with
nothing of the FC in it. One after the other, ``--seconds`` each, on this machine:

1. a bare 1 kHz sleep loop (the executive with one empty task): what the machine gives;
2. the nominal descent in real time against the external FC;
3. the same with Python's garbage collector paused for the loop (``pause_gc``);
4. the same descent against the in-process simulated FC (the FC's threads in this process);
5. the descent against the external FC with the GUI attached (``BenchSession`` flies it in a
   child process while the main window draws the live plots).

For each descent: deadline misses and lateness p50/p99/max of the loop; the time from each
IMU frame's due instant to its bytes being written; the age of the FC command each 20 ms
truth block flies; and, from the run's bus log, the period of every periodic CAN message
seen on the wire against its ICD period. Targets (PASS/MISS): misses <= 2x the bare loop's
and < 0.5 %; lateness p99 <= 1.5x the bare loop's; >= 99 % of the frames of every periodic
message within +-5 % of its period; GUI attached <= 1.2x without (lateness p99).

    python benchmarks/bench_realtime.py [--seconds 30] [--skip-gui]
    python benchmarks/bench_realtime.py --whole-descent   # the nominal descent to touchdown
                                                          # against the external FC (~11 min)
    python benchmarks/bench_realtime.py --trace --profile before   # one slice, every
        # process's stalls (hil.core.stalls) under a set of [realtime] options (PROFILES)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import can
import cantools
import numpy as np

from hil.core.clock import WallClock
from hil.core.config import BenchConfig, load_bench
from hil.core.executive import Executive, Task
from hil.core.stalls import TRACE_ENV, active_trace
from hil.drivers.sim.external import ExternalFc
from hil.flight.descent import fly
from hil.flight.kernels import warm_up
from hil.flight.scenario import load_scenario
from hil.protocol.icd import ICD_DATABASE

ROOT = Path(__file__).resolve().parent.parent
PERIOD_TOLERANCE = 0.05

PROFILES: dict[str, dict[str, Any]] = {
    # [realtime] of the bench file, of the device file, options of the CAN server
    "before": {
        "bench": 'gc = "freeze"\nfifo_priority = 10',
        "device": 'gc = "freeze"\nfifo_priority = 0',
        "server": ["--gc", "freeze", "--fifo-priority", "0"],
    },
    "gen0": {
        "bench": 'gc = "gen0"\nfifo_priority = 10',
        "device": 'gc = "gen0"\nfifo_priority = 0',
        "server": ["--gc", "gen0", "--fifo-priority", "0"],
    },
    "fifo": {
        "bench": 'gc = "gen0"\nfifo_priority = 10',
        "device": 'gc = "gen0"\nfifo_priority = 10',
        "server": ["--gc", "gen0", "--fifo-priority", "10"],
    },
    "affinity": {
        "bench": 'gc = "gen0"\nfifo_priority = 10\ncpus = [0]',
        "device": 'gc = "gen0"\nfifo_priority = 10\ncpus = [1]',
        "server": ["--gc", "gen0", "--fifo-priority", "10", "--cpus", "1"],
    },
    "default": {"bench": "", "device": "", "server": []},
}
"""Sets of platform options, measured one by one with ``--trace --profile NAME``."""


def external_fc(folder: Path, profile: str = "default") -> ExternalFc:
    chosen = PROFILES[profile]
    return ExternalFc(
        folder,
        device_realtime=chosen["device"],
        server_options=chosen["server"],
        bench_realtime=chosen["bench"],
    )


def trace(seconds: float, profile: str) -> int:
    """One descent slice against the external FC with every process's stall trace on; prints
    each process's collections and gaps by cause, and the worst gaps with where its threads
    were."""
    print(f"profile {profile}; load average before: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="hil-bench-rt-") as folder_name:
        folder = Path(folder_name)
        os.environ[TRACE_ENV] = str(folder / "trace")
        with external_fc(folder / "fc", profile) as external:
            config = load_bench(external.bench_path)
            timing = descent(config, seconds, folder / "a")
        active = active_trace()
        if active is not None:
            active.stop()
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        show("descent, external FC", timing)
        print(f"  priority: {timing.get('priority', '?')}")
        for name, (fraction, count) in sorted(timing["periods"].items()):
            print(f"  {name:<16} {100 * fraction:6.2f} % of {count} frames within +-5 %")
        for path in sorted((folder / "trace").glob("*.json")):
            summary = json.loads(path.read_text())
            gaps = summary["gaps"]
            causes: dict[str, int] = {}
            for gap in gaps:
                key = f"{gap['where']}/{gap['cause']}"
                causes[key] = causes.get(key, 0) + 1
            print(
                f"\n{summary['role']}: {summary['seconds']:.0f} s, collections by generation "
                f"{summary['gc_collections']} taking {summary['gc_ms_by_generation']} ms "
                f"(longest {summary['gc_max_ms']} ms); gaps > 10 ms: {causes}"
            )
            for gap in sorted(gaps, key=lambda g: -g["gap_ms"])[:5]:
                print(f"  {json.dumps(gap)}")
    return 0


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def bare_loop(seconds: float) -> dict[str, float]:
    executive = Executive(WallClock(), [Task("bare", 1000.0, lambda instants: None)])
    executive.run(0.0, seconds)
    timing = executive.timing
    return {
        "frames": float(timing.frames),
        "overruns": float(timing.overruns),
        "lateness_p50_ms": 1000 * timing.percentile_s(50),
        "lateness_p99_ms": 1000 * timing.percentile_s(99),
        "lateness_max_ms": 1000 * float(timing.lateness_s.max()),
    }


def descent(config: BenchConfig, seconds: float, out: Path, **options: Any) -> dict[str, Any]:
    scenario = load_scenario("nominal")
    scenario = dataclasses.replace(
        scenario, model=dataclasses.replace(scenario.model, max_duration_s=seconds)
    )
    result = fly(config, scenario, realtime=True, out_dir=out, plot=False, **options)
    if result.stop_reason != "end of run":
        raise SystemExit(f"descent ended early: {result.verdict}")
    timing = dict(result.timing)
    timing["periods"] = wire_periods(out / "bus.blf")
    return timing


def wire_periods(log_path: Path) -> dict[str, tuple[float, int]]:
    """Per periodic message of the ICD: the fraction of its frames (after the first) whose
    gap from the previous one is within +-5 % of the ICD period, and the frame count."""
    icd = cantools.database.load_file(ICD_DATABASE)
    periods = {m.frame_id: (m.name, m.cycle_time / 1000.0) for m in icd.messages if m.cycle_time}
    times: dict[int, list[float]] = {frame_id: [] for frame_id in periods}
    for frame in can.LogReader(str(log_path)):
        if frame.arbitration_id in times:
            times[frame.arbitration_id].append(frame.timestamp)
    result = {}
    for frame_id, (name, period_s) in periods.items():
        stamps = np.asarray(times[frame_id])
        if stamps.size < 3:
            result[name] = (0.0, int(stamps.size))
            continue
        gaps = np.diff(stamps)
        within = np.abs(gaps - period_s) <= PERIOD_TOLERANCE * period_s
        result[name] = (float(within.mean()), int(stamps.size))
    return result


def gui_attached(config: BenchConfig, seconds: float) -> dict[str, float]:
    """The descent flown by the GUI's session (a child process) with the window drawing."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_gui import lateness  # the GUI benchmark's own measurement
    from PySide6 import QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    try:
        return {
            "without": lateness(seconds, with_gui=False, config=config)["lateness_p99_ms"],
            "with": lateness(seconds, with_gui=True, config=config)["lateness_p99_ms"],
        }
    finally:
        del app


def whole_descent(profile: str = "default") -> int:
    """The nominal descent from PDI to touchdown, in real time, against the external FC."""
    print(f"profile {profile}; load average before: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="hil-bench-rt-") as folder_name:
        folder = Path(folder_name)
        with external_fc(folder / "fc", profile) as external:
            config = load_bench(external.bench_path)
            result = fly(
                config, load_scenario("nominal"), realtime=True, out_dir=folder / "d", plot=False
            )
            periods = wire_periods(folder / "d" / "bus.blf")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    for time_s, text in result.events:
        print(f"  {time_s:8.2f}  {text}")
    timing = result.timing
    print(result.verdict)
    show("whole descent, external FC", timing)
    worst = min(fraction for fraction, _ in periods.values())
    print(f"  worst periodic message: {100 * worst:.2f} % of frames within +-5 % of its period")
    return 0 if result.passed else 1


def show(label: str, timing: dict[str, Any]) -> None:
    miss = timing["overruns"] / max(timing["frames"], 1.0)
    print(
        f"  {label:<34} {timing['lateness_p50_ms']:7.3f} {timing['lateness_p99_ms']:8.3f} "
        f"{timing['lateness_max_ms']:8.2f} {100 * miss:8.3f} %"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each run")
    parser.add_argument("--skip-gui", action="store_true", help="leave out the GUI run")
    parser.add_argument(
        "--whole-descent",
        action="store_true",
        help="only fly the whole nominal descent in real time against the external FC",
    )
    parser.add_argument("--trace", action="store_true", help="one slice with stall traces")
    parser.add_argument(
        "--profile", choices=sorted(PROFILES), default="default", help="platform options"
    )
    args = parser.parse_args()
    warm_up()
    if args.trace:
        return trace(args.seconds, args.profile)
    if args.whole_descent:
        return whole_descent(args.profile)
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="hil-bench-rt-") as folder_name:
        folder = Path(folder_name)
        with external_fc(folder / "fc", args.profile) as external:
            config = load_bench(external.bench_path)
            bare = bare_loop(args.seconds)
            runs = {
                "descent, external FC": descent(config, args.seconds, folder / "a"),
                "descent, external FC, GC paused": descent(
                    config, args.seconds, folder / "b", pause_gc=True
                ),
            }
            sim = load_bench(ROOT / "hil" / "data" / "benches" / "sim.toml")
            runs["descent, in-process simulated FC"] = descent(sim, args.seconds, folder / "c")
            gui = None if args.skip_gui else gui_attached(config, args.seconds)
            status = external.close()
    print(f"load average after: {os.getloadavg()[0]:.2f}; device exit status {status}")

    print(f"\nReal time at 1 kHz, {args.seconds:g} s each       p50 ms   p99 ms   max ms   misses")
    show("bare sleep loop", bare)
    for label, timing in runs.items():
        show(label, timing)
    print("\nIMU frame due -> written, command age per truth block (ms)")
    for label, timing in runs.items():
        print(
            f"  {label:<34} IMU p50 {timing['imu_write_delay_p50_ms']:.3f} "
            f"p99 {timing['imu_write_delay_p99_ms']:.3f} max {timing['imu_write_delay_max_ms']:.2f}"
            f"  | command age p50 {timing['command_age_p50_ms']:.2f} "
            f"p99 {timing['command_age_p99_ms']:.2f} max {timing['command_age_max_ms']:.2f}"
        )
    external_run = runs["descent, external FC"]
    print("\nPeriodic CAN messages on the wire, external FC: frames within +-5 % of the ICD period")
    for name, (fraction, count) in sorted(external_run["periods"].items()):
        print(f"  {name:<16} {100 * fraction:6.2f} % of {count} frames")

    bare_miss = bare["overruns"] / bare["frames"]
    print("\nTargets (external FC, default settings)")
    miss = external_run["overruns"] / external_run["frames"]
    print(
        f"  misses {100 * miss:.3f} % <= 2x bare ({100 * bare_miss:.3f} %) and < 0.5 %: "
        f"{verdict(miss <= max(2 * bare_miss, 0.0) and miss < 0.005)}"
    )
    ratio = external_run["lateness_p99_ms"] / max(bare["lateness_p99_ms"], 1e-9)
    print(f"  lateness p99 {ratio:.2f}x the bare loop's (<= 1.5x): {verdict(ratio <= 1.5)}")
    worst = min(fraction for fraction, _ in external_run["periods"].values())
    print(
        f"  worst periodic message {100 * worst:.2f} % within +-5 % (>= 99 %): "
        f"{verdict(worst >= 0.99)}"
    )
    if gui is not None:
        gui_ratio = gui["with"] / max(gui["without"], 1e-9)
        print(
            f"  GUI attached: lateness p99 {gui['with']:.3f} ms vs {gui['without']:.3f} ms "
            f"without = {gui_ratio:.2f}x (<= 1.2x): {verdict(gui_ratio <= 1.2)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
