"""Live signal plots (pyqtgraph): any signal by name, units on the axes, a scrolling window,
red/yellow limit bands, pause and zoom.

``LivePlotPanel.redraw()`` is called by the window's timer (>= 30 frames/s). It calls
``setData`` on existing curves with views into the ``TraceStore`` and sets fixed ranges; curves
use width-1 pens, no antialiasing, and at most two points per pixel column (the minimum and
maximum of each bucket, so a spike survives; docs/architecture.md §10). Signals of the same
unit share a plot (up to ``MAX_PLOTS`` stacked, x axes linked). Zooming or panning with the
mouse pauses following; "Follow" resumes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from hil.services.traces import TraceStore

MAX_PLOTS = 4
SCROLL_STEP = 0.1
"""The time axis moves on by this fraction of the window when the newest sample reaches its
right edge (scrolling every frame would lay the axes out again 30 times a second)."""
BAND_EXTENT = 1e9
"""Limit shading reaches this far beyond a limit (fixed ranges keep it off the auto-range)."""
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#7f7f7f")

pg.setConfigOptions(antialias=False, background="w", foreground="k")

Band = tuple[float | None, float | None]


@dataclass
class _Curve:
    name: str
    item: pg.PlotDataItem
    plot: pg.PlotItem


class LivePlotPanel(QtWidgets.QWidget):
    """Signal chooser, window length, pause/follow, and the stacked plots."""

    def __init__(self, traces: TraceStore, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.traces = traces
        self.window_s = 30.0
        self.following = True
        self._curves: dict[str, _Curve] = {}
        self._plots: dict[str, pg.PlotItem] = {}
        """Per unit."""
        self._bands: dict[str, list[pg.LinearRegionItem]] = {}
        self._drawn_version = -1
        self._y_ranges: dict[str, tuple[float, float]] = {}
        self._setting_range = False
        self._x_right: float | None = None
        self._x_changed = True

        self.chooser = QtWidgets.QComboBox()
        self.chooser.setEditable(True)
        self.chooser.setInsertPolicy(QtWidgets.QComboBox.InsertPolicy.NoInsert)
        self.chooser.setMinimumWidth(260)
        line = self.chooser.lineEdit()
        if line is not None:
            line.setPlaceholderText("signal name, e.g. truth.altitude_m")
        self.add_button = QtWidgets.QPushButton("Plot")
        self.add_button.clicked.connect(self._add_chosen)
        self.clear_button = QtWidgets.QPushButton("Clear")
        self.clear_button.clicked.connect(self.clear)
        self.window_box = QtWidgets.QDoubleSpinBox()
        self.window_box.setRange(1.0, 3600.0)
        self.window_box.setValue(self.window_s)
        self.window_box.setSuffix(" s")
        self.window_box.valueChanged.connect(self._window_changed)
        self.pause_button = QtWidgets.QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self._pause_toggled)
        self.follow_button = QtWidgets.QPushButton("Follow")
        self.follow_button.clicked.connect(self.follow)

        bar = QtWidgets.QHBoxLayout()
        bar.addWidget(QtWidgets.QLabel("Signal"))
        bar.addWidget(self.chooser, 1)
        bar.addWidget(self.add_button)
        bar.addWidget(self.clear_button)
        bar.addSpacing(12)
        bar.addWidget(QtWidgets.QLabel("Window"))
        bar.addWidget(self.window_box)
        bar.addWidget(self.pause_button)
        bar.addWidget(self.follow_button)

        self.canvas = pg.GraphicsLayoutWidget()
        self.canvas.setAntialiasing(False)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.canvas, 1)

    # -- choosing signals ------------------------------------------------------------------

    def refresh_names(self) -> None:
        """Offer every signal seen so far in the chooser (keeps the typed text)."""
        names = self.traces.names()
        if names == [self.chooser.itemText(i) for i in range(self.chooser.count())]:
            return
        text = self.chooser.currentText()
        self.chooser.blockSignals(True)
        self.chooser.clear()
        self.chooser.addItems(names)
        self.chooser.setEditText(text)
        self.chooser.blockSignals(False)

    def _add_chosen(self) -> None:
        name = self.chooser.currentText().strip()
        if name:
            self.add_signal(name)

    def signals(self) -> list[str]:
        return list(self._curves)

    def add_signal(self, name: str) -> None:
        """Plot ``name`` (it may not have arrived yet); its unit decides the plot."""
        if name in self._curves:
            return
        unit = self.traces.unit(name)
        plot = self._plot_for(unit)
        colour = COLOURS[len(self._curves) % len(COLOURS)]
        item = plot.plot(pen=pg.mkPen(colour, width=1), name=name)
        item.setSkipFiniteCheck(True)
        self._curves[name] = _Curve(name, item, plot)
        names = [c.name for c in self._curves.values() if c.plot is plot]
        label = names[0] if len(names) == 1 else f"{len(names)} signals"
        plot.setLabel("left", label, units=unit or None)
        self._drawn_version = -1

    def _plot_for(self, unit: str) -> pg.PlotItem:
        plot = self._plots.get(unit)
        if plot is not None:
            return plot
        if len(self._plots) >= MAX_PLOTS:  # share the last plot rather than grow for ever
            return list(self._plots.values())[-1]
        row = len(self._plots)
        plot = self.canvas.addPlot(row=row, col=0)
        plot.setLabel("bottom", "t", units="s")
        plot.getAxis("left").enableAutoSIPrefix(False)
        plot.getAxis("bottom").enableAutoSIPrefix(False)
        # no grid: grid lines are painted by the axes over the whole view on every frame
        plot.addLegend(offset=(6, 6))
        plot.enableAutoRange(False)
        plot.setMenuEnabled(False)
        plot.hideButtons()
        if self._plots:
            plot.setXLink(next(iter(self._plots.values())))
            for above in self._plots.values():  # one time axis, under the lowest plot
                above.showAxis("bottom", False)
        plot.getViewBox().sigRangeChangedManually.connect(self._zoomed)
        self._plots[unit] = plot
        return plot

    def clear(self) -> None:
        """Remove every curve and plot."""
        self.canvas.clear()
        self._curves.clear()
        self._plots.clear()
        self._bands.clear()
        self._y_ranges.clear()
        self._x_right = None
        self._drawn_version = -1

    # -- limit bands -----------------------------------------------------------------------

    def set_bands(self, name: str, red: Band, yellow: Band | None = None) -> None:
        """Shade outside the allowed ``red`` band red and between ``yellow`` and ``red``
        yellow, on the plot of ``name`` (added if needed)."""
        self.add_signal(name)
        plot = self._curves[name].plot
        for item in self._bands.pop(name, []):
            plot.removeItem(item)
        items: list[pg.LinearRegionItem] = []

        def shade(low: float, high: float, colour: tuple[int, int, int, int]) -> None:
            region = pg.LinearRegionItem(
                values=(low, high),
                orientation="horizontal",
                movable=False,
                brush=pg.mkBrush(colour),
                pen=pg.mkPen(None),
            )
            region.setZValue(-10)
            plot.addItem(region, ignoreBounds=True)
            items.append(region)

        red_low, red_high = red
        if red_low is not None:
            shade(red_low - BAND_EXTENT, red_low, (220, 40, 40, 60))
        if red_high is not None:
            shade(red_high, red_high + BAND_EXTENT, (220, 40, 40, 60))
        if yellow is not None:
            yellow_low, yellow_high = yellow
            if yellow_low is not None:
                shade(
                    red_low if red_low is not None else yellow_low - BAND_EXTENT,
                    yellow_low,
                    (240, 200, 0, 70),
                )
            if yellow_high is not None:
                shade(
                    yellow_high,
                    red_high if red_high is not None else yellow_high + BAND_EXTENT,
                    (240, 200, 0, 70),
                )
        self._bands[name] = items

    def clear_bands(self) -> None:
        for name, items in self._bands.items():
            curve = self._curves.get(name)
            if curve is None:
                continue
            for item in items:
                curve.plot.removeItem(item)
        self._bands.clear()

    # -- pause, zoom, follow ---------------------------------------------------------------

    def _window_changed(self, value: float) -> None:
        self.window_s = float(value)
        self._x_right = None
        self._drawn_version = -1

    def _pause_toggled(self, paused: bool) -> None:
        self.following = not paused
        self._x_right = None
        self.pause_button.setText("Paused" if paused else "Pause")
        self._drawn_version = -1

    def _zoomed(self, *args: object) -> None:
        if not self._setting_range:
            self.pause()

    def pause(self) -> None:
        self.pause_button.setChecked(True)

    def follow(self) -> None:
        self.pause_button.setChecked(False)

    # -- drawing ---------------------------------------------------------------------------

    def redraw(self, force: bool = False) -> None:
        """Put the newest data on the curves (nothing when paused or nothing changed)."""
        if not self.following or not self._curves:
            return
        if not force and self._drawn_version == self.traces.version:
            return
        self._drawn_version = self.traces.version
        window_s = self.window_s
        latest_s = max(self.traces.latest_s, 0.0)
        right = self._x_right
        if force or right is None or latest_s > right or latest_s < right - window_s:
            # Scroll in steps of a tenth of the window: the axes are laid out again only then.
            right = max(latest_s + SCROLL_STEP * window_s, window_s)
            self._x_right = right
            self._x_changed = True
        t_end = right
        t_start = t_end - window_s
        spans: dict[int, tuple[float, float]] = {}
        width_px = max(200, int(self.canvas.width()))
        for curve in self._curves.values():
            times, values = self.traces.data(curve.name, t_start)
            times, values = peak_decimate(times, values, 2 * width_px)
            curve.item.setData(times, values)
            if values.size:
                low, high = float(values.min()), float(values.max())
                key = id(curve.plot)
                if key in spans:
                    low, high = min(low, spans[key][0]), max(high, spans[key][1])
                spans[key] = (low, high)
        self._setting_range = True
        try:
            x_changed, self._x_changed = self._x_changed, False
            for plot in self._plots.values():
                if x_changed:
                    plot.setXRange(t_start, t_end, padding=0)
                span = spans.get(id(plot))
                if span is not None and all(math.isfinite(v) for v in span):
                    self._fit_y(plot, *span)
        finally:
            self._setting_range = False

    def _fit_y(self, plot: pg.PlotItem, low: float, high: float) -> None:
        """Set the y range only when the data leaves it or fills less than half of it."""
        margin = max(0.05 * (high - low), 1e-3 * max(abs(low), abs(high)), 1e-9)
        key = str(id(plot))
        current = self._y_ranges.get(key)
        if current is not None:
            lo, hi = current
            inside = lo <= low and high <= hi
            used = (high - low) / (hi - lo) if hi > lo else 0.0
            if inside and used > 0.5:
                return
        target = (low - margin, high + margin)
        self._y_ranges[key] = target
        plot.setYRange(*target, padding=0)

    def curve_points(self, name: str) -> int:
        """Points on the curve of ``name`` as last drawn (0 if not plotted)."""
        curve = self._curves.get(name)
        if curve is None:
            return 0
        x, _ = curve.item.getOriginalDataset()
        return 0 if x is None else int(np.size(x))


def peak_decimate(
    times: np.ndarray, values: np.ndarray, max_points: int
) -> tuple[np.ndarray, np.ndarray]:
    """At most about ``max_points`` points keeping each bucket's minimum and maximum, so a
    spike survives; ``times``/``values`` are returned as they are when already short enough."""
    n = values.size
    if n <= max_points:
        return times, values
    per_bucket = math.ceil(2 * n / max_points)
    buckets = n // per_bucket
    first = n - buckets * per_bucket  # keep the newest samples whole
    block = values[first:].reshape(buckets, per_bucket)
    out_values = np.empty(2 * buckets)
    out_values[0::2] = block.min(axis=1)
    out_values[1::2] = block.max(axis=1)
    bucket_times = times[first:].reshape(buckets, per_bucket)
    out_times = np.empty(2 * buckets)
    out_times[0::2] = bucket_times[:, 0]
    out_times[1::2] = bucket_times[:, -1]
    return out_times, out_values
