"""GUI cost, measured side by side in one run (offscreen).

1. Redraw: 8 curves of 24,000 points each through ``LivePlotPanel.redraw`` (decimated to two
   points per pixel column) plus the repaint, beside handing pyqtgraph all 24,000 points per
   curve. Target: <= 20 ms per frame.
2. Real-time loop lateness: the same real-time descent flown twice by ``BenchSession``, once
   with no GUI and once with the main window showing the live plots at 33 frames/s; the
   executive's lateness p99 of both. Target: with GUI <= 1.2x without.

    python benchmarks/bench_gui.py [--seconds 20] [--frames 60] [--repeats 2]

Real-time descents fly in a child process (``BenchSession`` isolates them), so the GUI's Python
work does not share the executive's interpreter lock.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6 import QtCore, QtWidgets

ROOT = Path(__file__).resolve().parent.parent
CURVES = 8
POINTS = 24_000


def redraw_ms(frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Frame times (ms) of the panel's redraw and of a full-resolution setData, same data."""
    from hil.gui.plots import LivePlotPanel
    from hil.services.traces import TraceStore

    app = QtWidgets.QApplication.instance()
    assert app is not None
    traces = TraceStore(capacity=32_768)
    t = np.arange(POINTS) * 0.001
    names = [f"signal{k}_m" if k < 4 else f"signal{k}_mps" for k in range(CURVES)]
    rng = np.random.default_rng(0)
    series = [np.sin(t * (k + 1)) + 0.01 * rng.standard_normal(POINTS) for k in range(CURVES)]
    traces.extend(
        [
            (float(t[i]), {n: float(series[k][i]) for k, n in enumerate(names)})
            for i in range(POINTS)
        ]
    )
    panel = LivePlotPanel(traces)
    panel.window_box.setValue(POINTS / 1000.0)
    panel.resize(1280, 800)
    panel.show()
    for name in names:
        panel.add_signal(name)
    app.processEvents()

    def frame(update: object) -> float:
        started = time.perf_counter()
        assert callable(update)
        update()
        panel.canvas.repaint()
        app.processEvents()
        return 1000 * (time.perf_counter() - started)

    def decimated() -> None:
        traces.version += 1  # new data arrived
        panel.redraw()

    def full() -> None:
        for curve in panel._curves.values():
            times, values = traces.data(curve.name)
            curve.item.setData(times, values)

    ours = np.array([frame(decimated) for _ in range(frames)])
    naive = np.array([frame(full) for _ in range(max(10, frames // 3))])
    panel.close()
    return ours, naive


def lateness(seconds: float, with_gui: bool, config: Any = None) -> dict[str, float]:
    """Fly ``seconds`` of the nominal descent in real time on ``config`` (default: the
    simulated bench); the executive's timing."""
    from hil.core.config import load_bench
    from hil.flight.scenario import load_scenario
    from hil.gui.window import MainWindow
    from hil.services.session import BenchSession, JobFinished

    app = QtWidgets.QApplication.instance()
    assert app is not None
    if config is None:
        config = load_bench(ROOT / "hil" / "data" / "benches" / "sim.toml")
    scenario = load_scenario("nominal")
    with BenchSession(config) as session:
        window = None
        if with_gui:
            window = MainWindow(session, cards_dir=ROOT / "hil" / "data" / "procedures")
            window.resize(1280, 800)
            window.show()
            window.tabs.setCurrentWidget(window.plots)
        finished: list[JobFinished] = []
        post = session.post

        def keep(event: object) -> None:  # the window takes the events; keep the result
            if isinstance(event, JobFinished):
                finished.append(event)
            post(event)  # type: ignore[arg-type]

        session.post = keep  # type: ignore[method-assign]
        session.start_descent(scenario, realtime=True, max_duration_s=seconds)
        frames_before = window.frames if window else 0
        while session.busy:
            if window is not None:
                app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 5)
                QtCore.QThread.msleep(2)
            else:
                session.wait_idle(0.2)
        finished = [e for e in session.poll() if isinstance(e, JobFinished)] + finished
        if window is not None:
            fps = (window.frames - frames_before) / seconds
            window.close()
            # Free the window's Qt objects here, on the GUI thread: left to Python's cyclic
            # GC they would be collected in whichever thread allocates next (a later run's
            # worker), and Qt objects must die on their own thread.
            window.deleteLater()
            app.processEvents()
            window = None
            gc.collect()
        else:
            fps = 0.0
    result = finished[-1].result
    timing = dict(result.timing)
    timing["gui_frames_per_s"] = fps
    return timing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="real-time descent length")
    parser.add_argument("--frames", type=int, default=60, help="redraw frames to time")
    parser.add_argument("--repeats", type=int, default=2, help="descent pairs (alternating)")
    args = parser.parse_args()
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])

    ours, naive = redraw_ms(args.frames)
    print(f"redraw of {CURVES} curves x {POINTS} points, offscreen, 1280x800:")
    print(
        f"  LivePlotPanel.redraw (decimated)   median {np.median(ours):6.2f} ms  "
        f"p90 {np.percentile(ours, 90):6.2f} ms  (target <= 20 ms)"
    )
    print(
        f"  setData with every point           median {np.median(naive):6.2f} ms  "
        f"p90 {np.percentile(naive, 90):6.2f} ms"
    )
    print(f"  ratio full / decimated             {np.median(naive) / np.median(ours):6.1f}x")

    print(f"\nreal-time descent, {args.seconds:g} s each, nominal scenario, alternating:")
    runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    for _ in range(args.repeats):
        for with_gui in (False, True):
            timing = lateness(args.seconds, with_gui)
            runs[with_gui].append(timing)
            label = "with GUI   " if with_gui else "without GUI"
            print(
                f"  {label}  lateness p50 {timing['lateness_p50_ms']:.3f} ms  "
                f"p99 {timing['lateness_p99_ms']:.3f} ms  max {timing['lateness_max_ms']:.2f} ms  "
                f"overruns {timing['overruns']:.0f}/{timing['frames']:.0f} ({timing['priority']})"
                + (f"  GUI {timing['gui_frames_per_s']:.1f} frames/s" if with_gui else "")
            )
    p99 = {k: float(np.median([t["lateness_p99_ms"] for t in v])) for k, v in runs.items()}
    ratio = p99[True] / max(p99[False], 1e-9)
    print(
        f"  median p99: without {p99[False]:.3f} ms, with {p99[True]:.3f} ms; "
        f"ratio with / without GUI {ratio:.2f}x  (target <= 1.2x)"
    )
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
