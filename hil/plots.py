"""Plots rendered offscreen with pyqtgraph's exporter: the descent profile of a run."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

MODE_NAMES = (
    "SAFE",
    "STANDBY",
    "BIT",
    "ARMED",
    "BRAKING",
    "APPROACH",
    "TERMINAL",
    "LANDED",
    "ABORT",
)


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
        plot.getAxis("left").setWidth(80)
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
            axis.setTicks([list(enumerate(MODE_NAMES))])
            plot.setYRange(0, len(MODE_NAMES) - 1, padding=0.05)
    last = layout.getItem(len(panels), 0)
    last.setLabel("bottom", "time", units="s")
    layout.show()
    app.processEvents()
    exporter = pyqtgraph.exporters.ImageExporter(layout.ci)
    exporter.parameters()["width"] = width_px
    exporter.export(str(path))
    layout.close()
