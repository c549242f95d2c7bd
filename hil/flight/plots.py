"""Plots rendered offscreen with pyqtgraph's exporter: the descent profile of a run."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hil.protocol.icd import FC_MODES

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication


def _application() -> QApplication:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    return app if isinstance(app, QApplication) else QApplication([])


def descent_profile_png(
    table: np.ndarray, columns: Sequence[str], path: Path, title: str = "", width_px: int = 1400
) -> None:
    """Altitude true vs estimated, vertical and horizontal speed, throttle and FC mode
    against time, one panel each, written to ``path`` as PNG."""
    app = _application()
    import pyqtgraph as pg
    import pyqtgraph.exporters

    column = {name: table[:, i] for i, name in enumerate(columns)}
    time_s = column["time_s"]
    pg.setConfigOptions(antialias=False, background="w", foreground="k")
    layout = pg.GraphicsLayoutWidget()
    height_px = 1100
    layout.resize(width_px, height_px)
    if title:
        layout.addLabel(title[:160], row=0, col=0)
    panels = [
        (
            "altitude",
            "m",
            [("true_altitude_m", "truth", "b"), ("fc_altitude_m", "FC estimate", "r")],
        ),
        (
            "vertical speed",
            "m/s",
            [("true_vz_mps", "truth", "b"), ("fc_velocity_vertical_mps", "FC estimate", "r")],
        ),
        (
            "horizontal speed",
            "m/s",
            [("true_vx_mps", "truth", "b"), ("fc_velocity_downrange_mps", "FC estimate", "r")],
        ),
        (
            "throttle",
            "%",
            [("true_throttle_pct", "actual", "b"), ("cmd_throttle_pct", "commanded", "r")],
        ),
        ("FC mode", "", [("fc_mode", "mode", "k")]),
    ]
    first = None
    for row, (name, unit, curves) in enumerate(panels, start=1):
        plot = layout.addPlot(row=row, col=0)
        plot.setLabel("left", name, units=unit)
        plot.getAxis("left").setWidth(95)
        plot.showGrid(x=True, y=True, alpha=0.3)
        plot.addLegend(offset=(-10, 5))
        for key, label, colour in curves:
            plot.plot(time_s, column[key], pen=pg.mkPen(colour, width=1), name=label)
        if first is None:
            first = plot
        else:
            plot.setXLink(first)
        if name == "FC mode":
            axis = plot.getAxis("left")
            axis.setTicks([list(enumerate(FC_MODES))])
            plot.setYRange(0, len(FC_MODES) - 1, padding=0.05)
    if first is not None and time_s.size:
        # the whole flight, ARMED coast included (auto-range clipped its first seconds)
        first.setXRange(float(time_s[0]), float(time_s[-1]), padding=0.01)
    last = layout.getItem(len(panels), 0)
    last.setLabel("bottom", "time", units="s")
    layout.show()
    app.processEvents()
    exporter = pyqtgraph.exporters.ImageExporter(layout.ci)
    exporter.parameters()["width"] = width_px
    exporter.export(str(path))
    layout.close()


def campaign_plots(outcomes: Sequence[Any], summary: Any, out: Path) -> list[str]:
    """Touchdown-speed histogram and landing-error scatter of a campaign, as PNG files."""
    app = _application()
    import pyqtgraph as pg
    import pyqtgraph.exporters

    pg.setConfigOptions(antialias=False, background="w", foreground="k")
    vertical = np.array([o.vertical_speed_mps for o in outcomes], dtype=float)
    horizontal = np.array([o.horizontal_speed_mps for o in outcomes], dtype=float)
    error = np.array([o.landing_error_m for o in outcomes], dtype=float)
    passed = np.array([o.passed for o in outcomes], dtype=bool)
    title = (
        f"{summary.scenario}: {summary.passed}/{summary.runs} within limits "
        f"({100 * summary.success_rate:.1f} %, 95 % CI {100 * summary.success_interval_95[0]:.1f}"
        f"-{100 * summary.success_interval_95[1]:.1f} %)"
    )
    files = []

    def export(widget: Any, name: str) -> None:
        widget.resize(1000, 600)
        widget.show()
        app.processEvents()
        exporter = pyqtgraph.exporters.ImageExporter(widget.ci if hasattr(widget, "ci") else widget)
        exporter.parameters()["width"] = 1000
        exporter.export(str(out / name))
        widget.close()
        files.append(name)

    layout = pg.GraphicsLayoutWidget()
    layout.addLabel(title, row=0, col=0, colspan=2)
    for col, (values, name, limit) in enumerate(
        ((vertical, "vertical", 2.0), (horizontal, "horizontal", 1.0))
    ):
        plot = layout.addPlot(row=1, col=col)
        finite = values[np.isfinite(values)]
        if finite.size:
            upper = max(float(finite.max()), 2 * limit)
            counts, edges = np.histogram(finite, bins=40, range=(0.0, upper))
            plot.addItem(
                pg.BarGraphItem(x0=edges[:-1], x1=edges[1:], height=counts, brush=(90, 120, 200))
            )
        plot.addLine(x=limit, pen=pg.mkPen("r", width=1))
        plot.setLabel("bottom", f"touchdown {name} speed", units="m/s")
        plot.setLabel("left", "runs")
    export(layout, "touchdown_speed_histogram.png")

    scatter_layout = pg.GraphicsLayoutWidget()
    scatter_layout.addLabel(title, row=0, col=0)
    plot = scatter_layout.addPlot(row=1, col=0)
    for mask, colour, label in (
        (passed, (40, 150, 40), "within limits"),
        (~passed, "r", "outside"),
    ):
        keep = mask & np.isfinite(error) & np.isfinite(vertical)
        plot.plot(
            error[keep],
            vertical[keep],
            pen=None,
            symbol="o",
            symbolSize=5,
            symbolBrush=colour,
            symbolPen=None,
            name=label,
        )
    plot.addLegend()
    plot.addLine(y=2.0, pen=pg.mkPen("r", width=1))
    plot.setLabel("bottom", "landing error (distance from the site)", units="m")
    plot.setLabel("left", "touchdown vertical speed", units="m/s")
    export(scatter_layout, "landing_error_scatter.png")
    return files
