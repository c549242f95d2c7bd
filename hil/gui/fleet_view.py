"""The fleet view: every lander with its counters and release status, and the selected lander's
due list (OK / DUE SOON / OVERDUE and what drives it) and the reasons it may not be released.

Reads through ``hil.fleet.Fleet`` on whatever record store the GUI opened (a SQLite data
folder or a PostgreSQL server); it re-reads whenever it is shown or refreshed (a card signed in
the records browser, here or on another bench, completes its due item on the next look).
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from hil.errors import HilError
from hil.fleet.model import DUE_SOON, OVERDUE, fmt
from hil.fleet.service import Fleet, release_status
from hil.records.store import RecordStore

LANDER_COLUMNS = [
    "lander",
    "model",
    "config",
    "descents",
    "engine starts",
    "burn s",
    "powered h",
    "days",
    "release",
]
DUE_COLUMNS = ["card", "title", "status", "driven by", "last done"]

STATUS_COLOUR = {OVERDUE: "#f0a8a8", DUE_SOON: "#f6e3a1", "OK": "#d4eed4"}


def _table(columns: list[str]) -> QtWidgets.QTableWidget:
    table = QtWidgets.QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(columns)
    table.verticalHeader().setVisible(False)
    table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
    table.horizontalHeader().setStretchLastSection(True)
    return table


class FleetView(QtWidgets.QWidget):
    """Landers, their release status, and the selected lander's due list and blockers."""

    def __init__(self, fleet: Fleet, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.fleet = fleet
        self.landers = _table(LANDER_COLUMNS)
        self.landers.itemSelectionChanged.connect(self.show_selected)
        self.due = _table(DUE_COLUMNS)
        self.blockers = QtWidgets.QLabel()
        self.blockers.setWordWrap(True)
        self.blockers.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.refresh_button = QtWidgets.QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.serials: list[str] = []
        self.release_text: dict[str, list[str]] = {}
        bar = QtWidgets.QHBoxLayout()
        bar.addWidget(
            QtWidgets.QLabel(
                "Landers (release needs every due item, signature, defect and life limit clear)"
            )
        )
        bar.addStretch(1)
        bar.addWidget(self.refresh_button)
        lower = QtWidgets.QWidget()
        lower_layout = QtWidgets.QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addWidget(self.blockers)
        lower_layout.addWidget(self.due, 1)
        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        splitter.addWidget(self.landers)
        splitter.addWidget(lower)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 2)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)

    def showEvent(self, event: QtGui.QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()

    def refresh(self) -> None:
        """Complete due items from signed card runs, then re-read every lander."""
        selected = self.selected_lander()
        try:
            self.fleet.sync()
            landers = self.fleet.landers()
            self.release_text = {
                lander.serial: self.fleet.release_blockers(lander.serial, sync=False)
                for lander in landers
            }
        except HilError as err:
            self.blockers.setText(f"<span style='color:#b00000'>{err}</span>")
            return
        today = self.fleet.today()
        self.serials = [lander.serial for lander in landers]
        self.landers.setRowCount(len(landers))
        for row, lander in enumerate(landers):
            reasons = self.release_text[lander.serial]
            release = release_status(lander, reasons)
            c = lander.counters
            values = (
                lander.serial,
                lander.model,
                lander.configuration,
                str(c.descents),
                str(c.engine_starts),
                fmt(c.burn_s, "burn_s"),
                fmt(c.powered_h, "powered_h"),
                str(lander.days_in_service(today)),
                release,
            )
            for column, text in enumerate(values):
                item = QtWidgets.QTableWidgetItem(text)
                if column == len(values) - 1:
                    colour = "#f0a8a8" if reasons else "#d4eed4"
                    item.setBackground(QtGui.QColor(colour))
                    item.setToolTip("\n".join(reasons) or "no open items")
                self.landers.setItem(row, column, item)
        self.landers.resizeColumnsToContents()
        if self.serials:
            self.select_lander(selected if selected in self.serials else self.serials[0])
        else:
            self.due.setRowCount(0)
            self.blockers.setText("No landers registered (hil fleet add-lander).")

    def selected_lander(self) -> str | None:
        rows = self.landers.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self.serials):
            return None
        return self.serials[rows[0].row()]

    def select_lander(self, serial: str) -> None:
        self.landers.selectRow(self.serials.index(serial))
        self.show_selected()

    def show_selected(self) -> None:
        """Fill the due list and the release status of the selected lander."""
        serial = self.selected_lander()
        if serial is None:
            return
        try:
            items = self.fleet.due(serial, sync=False)
        except HilError as err:
            self.blockers.setText(f"<span style='color:#b00000'>{err}</span>")
            return
        self.due.setRowCount(len(items))
        for row, due in enumerate(items):
            values = (
                due.card_number,
                due.task.title,
                due.status,
                due.describe(),
                due.last.utc[:10] if due.last else "never",
            )
            for column, text in enumerate(values):
                item = QtWidgets.QTableWidgetItem(text)
                if column == 2:
                    item.setBackground(QtGui.QColor(STATUS_COLOUR.get(due.status, "#ffffff")))
                self.due.setItem(row, column, item)
        self.due.resizeColumnsToContents()
        reasons = self.release_text.get(serial, [])
        if reasons:
            lines = "".join(f"<li>{_escape(r)}</li>" for r in reasons)
            head = f"<b>{_escape(serial)}: release refused</b> ({len(reasons)} reasons)"
            self.blockers.setText(f"{head}<ul>{lines}</ul>")
        else:
            self.blockers.setText(f"<b>{_escape(serial)}</b>: nothing open; may be released.")


def _escape(text: str) -> str:
    from html import escape

    return escape(text)


def fleet_view_for(store: RecordStore) -> FleetView | None:
    """A fleet view on ``store``'s database (SQLite or PostgreSQL; the fleet tables are
    created on a writable store), or None when there are none to offer (a store without SQL
    access, a read-only store without fleet tables)."""
    try:
        fleet = Fleet(store)
    except HilError:
        return None
    view = FleetView(fleet)
    view.destroyed.connect(fleet.close)
    return view
