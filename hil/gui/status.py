"""The bench status panel: devices and their state, CAN and device link statistics, loop
timing and the FC mode. It only displays ``StatusSnapshot`` objects the session posts and the
latest ``FC_Heartbeat`` values from the trace store; it never touches the bench.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6 import QtCore, QtGui, QtWidgets

from hil.drivers.can import STATS_COLUMNS
from hil.protocol.icd import mode_name
from hil.services.session import StatusSnapshot
from hil.services.traces import TraceStore

MODE_COLOURS = {
    "SAFE": "#888888",
    "STANDBY": "#2a7ab0",
    "BIT": "#8a5bb0",
    "ARMED": "#d08000",
    "BRAKING": "#c05000",
    "APPROACH": "#c05000",
    "TERMINAL": "#c05000",
    "LANDED": "#2e8b2e",
    "ABORT": "#c02020",
}


def _table(headers: list[str]) -> QtWidgets.QTableWidget:
    table = QtWidgets.QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
    table.horizontalHeader().setStretchLastSection(True)
    table.verticalHeader().setDefaultSectionSize(20)
    return table


def fill_table(table: QtWidgets.QTableWidget, rows: Sequence[tuple[object, ...]]) -> None:
    """Replace the table's rows; numbers are right-aligned, floats with one decimal."""
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            text = f"{value:.1f}" if isinstance(value, float) else str(value)
            item = table.item(r, c)
            if item is None:
                item = QtWidgets.QTableWidgetItem()
                table.setItem(r, c, item)
            item.setText(text)
            if isinstance(value, int | float):
                item.setTextAlignment(
                    QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter
                )


class StatusPanel(QtWidgets.QWidget):
    """Devices, FC mode, loop timing, CAN messages, device counters."""

    def __init__(self, traces: TraceStore, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.traces = traces
        self.mode_label = QtWidgets.QLabel("FC mode: -")
        font = self.mode_label.font()
        font.setPointSize(font.pointSize() + 4)
        font.setBold(True)
        self.mode_label.setFont(font)
        self.health_label = QtWidgets.QLabel("")
        self.timing_label = QtWidgets.QLabel("loop timing: no real-time loop running")
        self.job_label = QtWidgets.QLabel("idle")
        self.devices = _table(["role", "backend", "link", "state"])
        self.can = _table(list(STATS_COLUMNS))
        self.counters = _table(["device", "counter", "value"])
        self.link_label = QtWidgets.QLabel("")

        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.mode_label)
        top.addSpacing(16)
        top.addWidget(self.health_label, 1)
        top.addWidget(self.job_label)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.timing_label)
        layout.addWidget(QtWidgets.QLabel("<b>Devices</b>"))
        layout.addWidget(self.devices, 1)
        layout.addWidget(QtWidgets.QLabel("<b>CAN link (bench node)</b>"))
        layout.addWidget(self.link_label)
        layout.addWidget(self.can, 3)
        layout.addWidget(QtWidgets.QLabel("<b>Device link counters</b>"))
        layout.addWidget(self.counters, 2)
        self.last: StatusSnapshot | None = None

    def show_snapshot(self, snapshot: StatusSnapshot) -> None:
        links = {row[0]: row[2] for row in self.last.devices} if self.last is not None else {}
        devices = [
            (r, b, link or links.get(r, ""), state) for r, b, link, state in snapshot.devices
        ]
        snapshot.devices = devices
        self.last = snapshot
        fill_table(self.devices, list(devices))
        self.devices.resizeColumnsToContents()
        for row, device in enumerate(snapshot.devices):
            state = device[3]
            colour = "#dff0df" if state not in ("closed",) else "#eeeeee"
            for column in range(4):
                item = self.devices.item(row, column)
                if item is not None:
                    item.setBackground(QtGui.QColor(colour))
        if not snapshot.can_rows:  # no bench open: keep the last statistics on show
            return
        fill_table(self.can, list(snapshot.can_rows))
        for row, values in enumerate(snapshot.can_rows):
            bad = any(values[4:])
            for column in range(self.can.columnCount()):
                item = self.can.item(row, column)
                if item is not None:
                    item.setBackground(QtGui.QColor("#f6d0d0" if bad else "#ffffff"))
        counters = [
            (device, key, int(value) if value.is_integer() else value)
            for device, key, value in snapshot.device_counters
        ]
        fill_table(self.counters, counters)
        if snapshot.link:
            self.link_label.setText(", ".join(f"{k} {v}" for k, v in snapshot.link.items()))
        timing = snapshot.timing
        if timing:
            self.timing_label.setText(
                "loop lateness p50 {:.3f} ms, p99 {:.3f} ms, max {:.2f} ms; overruns {}".format(
                    timing.get("lateness_p50_ms", 0.0),
                    timing.get("lateness_p99_ms", 0.0),
                    timing.get("lateness_max_ms", 0.0),
                    int(timing.get("overruns", 0.0)),
                )
            )

    def set_job(self, text: str) -> None:
        self.job_label.setText(text or "idle")

    def refresh(self) -> None:
        """FC mode and health flags from the newest heartbeat (called by the redraw timer)."""
        mode = mode_name(self.traces.latest("FC_Heartbeat.Mode"))
        colour = MODE_COLOURS.get(mode, "#444444")
        self.mode_label.setText(f"FC mode: <span style='color:{colour}'>{mode}</span>")
        flags = []
        for flag in ("ImuOk", "LrfOk", "EngineOk", "NavOk", "BitPassed", "LrfRejected"):
            value = self.traces.latest(f"FC_Heartbeat.{flag}")
            if value == value:  # not NaN
                bad = (value < 0.5) != (flag == "LrfRejected")
                colour = "#c02020" if bad else "#2e8b2e"
                flags.append(f"<span style='color:{colour}'>{flag}</span>")
        load = self.traces.latest("FC_Heartbeat.CpuLoad")
        if load == load:
            flags.append(f"CPU {load:.0f} %")
        self.health_label.setText("  ".join(flags))
