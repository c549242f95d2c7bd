"""The descent/scenario launcher and the live trajectory view.

The launcher picks a scenario, seed and pace (lockstep or real time) and asks the session to fly
it. The trajectory view draws elevation against downrange over the scenario's truth terrain:
the true track (``truth.downrange_m``, ``truth.altitude_m`` + terrain) and the flight
computer's own estimate (``FC_NavPosition.Downrange``, ``FC_NavAltitude.Altitude`` over its
onboard map), so a navigation error such as HAKUTO-R Mission 1's shows as two tracks parting.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from hil.errors import ConfigError
from hil.flight.scenario import Scenario, load_scenario, scenario_names
from hil.fsw.terrain_map import TerrainMap
from hil.gui.plots import peak_decimate
from hil.models.terrain import TerrainProfile
from hil.services.session import DescentProgress
from hil.services.traces import TraceStore

TRUE_X = "truth.downrange_m"
TRUE_ALTITUDE = "truth.altitude_m"
FC_X = "FC_NavPosition.Downrange"
FC_ALTITUDE = "FC_NavAltitude.Altitude"


class TrajectoryView(pg.PlotWidget):
    """Elevation (m) against downrange (km) over the terrain: truth and FC estimate."""

    def __init__(self, traces: TraceStore, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.traces = traces
        self.truth_terrain: TerrainProfile | None = None
        self.fc_map: TerrainMap | TerrainProfile | None = None
        plot = self.getPlotItem()
        plot.setLabel("bottom", "downrange", units="km")
        plot.setLabel("left", "elevation above the site", units="m")
        plot.getAxis("left").enableAutoSIPrefix(False)
        plot.getAxis("bottom").enableAutoSIPrefix(False)
        plot.enableAutoRange(False)
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.addLegend(offset=(-10, 10))
        self.terrain = plot.plot(
            pen=pg.mkPen("#7a6a55", width=1),
            fillLevel=-10_000.0,
            brush=pg.mkBrush(190, 175, 150, 160),
            name="terrain (truth)",
        )
        self.true_track = plot.plot(pen=pg.mkPen("#1f3fb4", width=1), name="true track")
        self.fc_track = plot.plot(pen=pg.mkPen("#d62728", width=1), name="FC estimate")
        self.lander = plot.plot(
            pen=None, symbol="o", symbolSize=7, symbolBrush="#1f3fb4", symbolPen=None
        )
        self._drawn_version = -1
        self._range: tuple[float, float, float, float] | None = None

    def set_scenario(self, scenario: Scenario) -> None:
        self.truth_terrain = scenario.truth_terrain_profile()
        try:
            self.fc_map = scenario.fc_terrain_map_profile()
        except ConfigError:
            self.fc_map = self.truth_terrain
        self._range = None
        self._drawn_version = -1
        self.true_track.setData([], [])
        self.fc_track.setData([], [])
        self.lander.setData([], [])

    def tracks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(true x m, true elevation m, FC x m, FC elevation m) from the traces."""
        _, x = self.traces.data(TRUE_X)
        _, altitude = self.traces.data(TRUE_ALTITUDE)
        n = min(x.size, altitude.size)
        x, altitude = x[-n:] if n else x[:0], altitude[-n:] if n else altitude[:0]
        z = altitude + (self.truth_terrain.height_m(x) if self.truth_terrain and n else 0.0)
        t_fc_x, fc_x = self.traces.data(FC_X)
        t_fc_alt, fc_alt = self.traces.data(FC_ALTITUDE)
        if fc_x.size >= 2 and fc_alt.size:
            fc_x_at = np.interp(t_fc_alt, t_fc_x, fc_x)
            ground = self.fc_map.height_m(fc_x_at) if self.fc_map is not None else 0.0
            return x, z, fc_x_at, fc_alt + ground
        return x, z, np.empty(0), np.empty(0)

    def redraw(self) -> None:
        if self._drawn_version == self.traces.version:
            return
        self._drawn_version = self.traces.version
        x, z, fc_x, fc_z = self.tracks()
        if x.size == 0:
            return
        width = max(400, self.width())
        tx, tz = peak_decimate(x / 1000.0, z, 2 * width)
        self.true_track.setData(tx, tz)
        self.lander.setData([x[-1] / 1000.0], [z[-1]])
        if fc_x.size:
            fx, fz = peak_decimate(fc_x / 1000.0, fc_z, 2 * width)
            self.fc_track.setData(fx, fz)
        self._fit(x, z)

    def _fit(self, x: np.ndarray, z: np.ndarray) -> None:
        x_low = float(min(x.min(), 0.0))
        x_high = float(max(x.max(), 0.0)) + 0.02 * max(1.0, float(np.ptp(x)))
        z_high = float(z.max()) * 1.08 + 100.0
        new = (x_low, x_high, z_high)
        if self._range is not None:
            lo, hi, top, _ = self._range
            if lo <= x_low and x_high <= hi + 1.0 and z_high <= top:
                return
        terrain_low = 0.0
        if self.truth_terrain is not None:
            grid = np.linspace(new[0], new[1], 2000)
            heights = self.truth_terrain.height_m(grid)
            terrain_low = float(heights.min())
            self.terrain.setData(grid / 1000.0, heights)
            self.terrain.setFillLevel(terrain_low - 200.0)
        y_low = terrain_low - 200.0
        self._range = (x_low, x_high, z_high, y_low)
        self.setXRange(x_low / 1000.0, x_high / 1000.0, padding=0)
        self.setYRange(y_low, z_high, padding=0)


class DescentView(QtWidgets.QWidget):
    """Scenario, seed, pace, start/stop; the trajectory; progress and the timeline."""

    def __init__(self, traces: TraceStore, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.start_requested: Callable[[Scenario, int, bool, float | None], None] | None = None
        self.stop_requested: Callable[[], None] | None = None
        self.scenario = QtWidgets.QComboBox()
        self.scenario.addItems(scenario_names())
        if "nominal" in scenario_names():
            self.scenario.setCurrentText("nominal")
        self.seed = QtWidgets.QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.realtime = QtWidgets.QCheckBox("real time")
        self.limit = QtWidgets.QDoubleSpinBox()
        self.limit.setRange(0.0, 10_000.0)
        self.limit.setSpecialValueText("scenario")
        self.limit.setSuffix(" s")
        self.start_button = QtWidgets.QPushButton("Fly")
        self.start_button.clicked.connect(self._start_clicked)
        self.stop_button = QtWidgets.QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self._stop_clicked)
        self.progress = QtWidgets.QLabel("")
        self.verdict = QtWidgets.QLabel("")
        self.verdict.setWordWrap(True)
        self.trajectory = TrajectoryView(traces)
        self.timeline = QtWidgets.QPlainTextEdit()
        self.timeline.setReadOnly(True)
        self.timeline.setMaximumHeight(140)
        bar = QtWidgets.QHBoxLayout()
        bar.addWidget(QtWidgets.QLabel("Scenario"))
        bar.addWidget(self.scenario)
        bar.addWidget(QtWidgets.QLabel("Seed"))
        bar.addWidget(self.seed)
        bar.addWidget(self.realtime)
        bar.addWidget(QtWidgets.QLabel("Stop after"))
        bar.addWidget(self.limit)
        bar.addWidget(self.start_button)
        bar.addWidget(self.stop_button)
        bar.addStretch(1)
        bar.addWidget(self.progress)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.trajectory, 1)
        layout.addWidget(self.verdict)
        layout.addWidget(self.timeline)

    def _start_clicked(self) -> None:
        if self.start_requested is None:
            return
        try:
            scenario = load_scenario(self.scenario.currentText())
        except ConfigError as err:
            self.verdict.setText(f"<span style='color:#b00000'>{escape(str(err))}</span>")
            return
        limit = self.limit.value() or None
        self.start_requested(scenario, self.seed.value(), self.realtime.isChecked(), limit)

    def _stop_clicked(self) -> None:
        if self.stop_requested is not None:
            self.stop_requested()

    def started(self, scenario: Scenario) -> None:
        self.trajectory.set_scenario(scenario)
        self.verdict.setText("")
        self.timeline.clear()
        self.set_running(True)

    def set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)

    def show_progress(self, event: DescentProgress) -> None:
        self.progress.setText(
            f"t = {event.time_s:7.1f} s   altitude {event.altitude_m:8.0f} m   FC {event.mode}"
        )

    def finished(self, verdict: str, events: list[tuple[float, str]], passed: bool) -> None:
        colour = "#206020" if passed else "#b00000"
        self.verdict.setText(f"<b style='color:{colour}'>{escape(verdict)}</b>")
        self.timeline.setPlainText("\n".join(f"{t:8.2f} s  {text}" for t, text in events))
        self.set_running(False)
