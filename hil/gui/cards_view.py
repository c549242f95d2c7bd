"""The card library and the card runner view.

The library lists every card module in the card folder (number, title, revision, content hash,
interval; load errors shown with their ``file:line``). The runner shows the selected card's
header (warnings, cautions, notes) and its steps, colours each step by outcome as the run's
``CardEvent``s arrive, highlights the step running now, shows measured values against limits,
opens the question dialogs the ``GuiOperator`` asks for, and offers sign-off when the run is
finished (``hil.gui.signoff``).
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from hil.cards.loader import LoadedCard, card_files, load_card
from hil.cards.model import MeasurementStep
from hil.cards.record import AsRunRecord, AttemptRecord, Outcome
from hil.core.config import BenchConfig
from hil.errors import ConfigError
from hil.gui.dialogs import QuestionDialog, dialog_for
from hil.gui.status import fill_table
from hil.services.operator import OperatorRequest
from hil.services.session import CardEvent

OUTCOME_COLOURS = {
    Outcome.PASS: "#d4eed4",
    Outcome.MARGINAL: "#fff1b8",
    Outcome.FAIL: "#f6c9c9",
    Outcome.ERROR: "#f0a8a8",
    Outcome.SKIPPED: "#e6e6e6",
    Outcome.ABORTED: "#dcc8e8",
}
RUNNING_COLOUR = "#bcd8f5"

STEP_COLUMNS = ["step", "kind", "text", "value", "limits", "attempt", "outcome"]


class CardsView(QtWidgets.QWidget):
    """Library (left) and runner (right). ``run_requested(loaded, lander, operator_id, pause)``
    is connected by the window to the session."""

    def __init__(
        self,
        cards_dir: Path,
        bench_config: BenchConfig,
        parent: QtWidgets.QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.cards_dir = cards_dir
        self.bench_config = bench_config
        self.loaded: dict[str, LoadedCard] = {}
        self.current: LoadedCard | None = None
        self.record: AsRunRecord | None = None
        self.dialog: QuestionDialog | None = None
        self.auto_answer_ms = 0
        self.run_requested: Callable[[LoadedCard, str, str, bool], None] | None = None
        self.stop_requested: Callable[[], None] | None = None
        self.signoff_requested: Callable[[], None] | None = None
        self.signable: dict[str, str] = {}
        """Card number -> id of its last finished run in this session that can be signed:
        "Sign off..." signs the run of the card shown, never another card's."""
        self._rows: dict[int, int] = {}
        self._last_error: dict[int, str] = {}

        self.library = QtWidgets.QTableWidget(0, 5)
        self.library.setHorizontalHeaderLabels(["number", "title", "rev", "hash", "interval"])
        self.library.verticalHeader().setVisible(False)
        self.library.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.library.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.library.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.library.horizontalHeader().setSectionResizeMode(
            1, QtWidgets.QHeaderView.ResizeMode.Stretch
        )
        self.library.itemSelectionChanged.connect(self._selected)
        self.library_errors = QtWidgets.QLabel("")
        self.library_errors.setWordWrap(True)
        self.library_errors.setStyleSheet("color: #b00000")

        self.header = QtWidgets.QLabel("Select a card in the library.")
        self.header.setWordWrap(True)
        self.header.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.lander = QtWidgets.QLineEdit("HR-M3-SN002")
        self.operator_id = QtWidgets.QLineEdit("")
        self.operator_id.setPlaceholderText("your person id")
        self.pause_on_failure = QtWidgets.QCheckBox("ask after a failure")
        self.pause_on_failure.setChecked(True)
        self.run_button = QtWidgets.QPushButton("Run card")
        self.run_button.clicked.connect(self._run_clicked)
        self.stop_button = QtWidgets.QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self._stop_clicked)
        self.signoff_button = QtWidgets.QPushButton("Sign off...")
        self.signoff_button.setEnabled(False)
        self.signoff_button.clicked.connect(self._signoff_clicked)
        self.outcome_label = QtWidgets.QLabel("")
        self.steps = QtWidgets.QTableWidget(0, len(STEP_COLUMNS))
        self.steps.setHorizontalHeaderLabels(STEP_COLUMNS)
        self.steps.verticalHeader().setVisible(False)
        self.steps.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.steps.setWordWrap(True)
        self.steps.horizontalHeader().setSectionResizeMode(
            2, QtWidgets.QHeaderView.ResizeMode.Stretch
        )
        self.log = QtWidgets.QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(2000)

        left = QtWidgets.QWidget()
        left_layout = QtWidgets.QVBoxLayout(left)
        left_layout.addWidget(QtWidgets.QLabel(f"<b>Card library</b> ({cards_dir})"))
        left_layout.addWidget(self.library, 1)
        left_layout.addWidget(self.library_errors)

        form = QtWidgets.QHBoxLayout()
        form.addWidget(QtWidgets.QLabel("Lander"))
        form.addWidget(self.lander)
        form.addWidget(QtWidgets.QLabel("Operator"))
        form.addWidget(self.operator_id)
        form.addWidget(self.pause_on_failure)
        form.addWidget(self.run_button)
        form.addWidget(self.stop_button)
        form.addWidget(self.signoff_button)
        right = QtWidgets.QWidget()
        right_layout = QtWidgets.QVBoxLayout(right)
        right_layout.addWidget(self.header)
        right_layout.addLayout(form)
        right_layout.addWidget(self.outcome_label)
        right_layout.addWidget(self.steps, 3)
        right_layout.addWidget(self.log, 1)

        splitter = QtWidgets.QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 5)
        splitter.setSizes([420, 980])
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)
        self.reload_library()

    # -- library -------------------------------------------------------------------------------

    def reload_library(self) -> None:
        """Load every card in the folder; errors are listed under the table."""
        self.loaded.clear()
        rows: list[tuple[object, ...]] = []
        errors: list[str] = []
        files = card_files(self.cards_dir) if self.cards_dir.is_dir() else []
        for path in files:
            try:
                loaded = load_card(path, self.bench_config)
            except ConfigError as err:
                errors.append(str(err))
                continue
            card = loaded.card
            self.loaded[card.number] = loaded
            rows.append((card.number, card.title, card.revision, loaded.short_hash, card.interval))
        rows.sort(key=lambda row: str(row[0]))
        fill_table(self.library, rows)
        self.library.resizeColumnToContents(0)
        self.library_errors.setText("\n".join(errors))

    def add_card(self, path: Path) -> LoadedCard:
        """Load one more card (outside the folder) into the library and select it."""
        loaded = load_card(path, self.bench_config)
        self.loaded[loaded.card.number] = loaded
        row = self.library.rowCount()
        self.library.insertRow(row)
        card = loaded.card
        for column, text in enumerate(
            (card.number, card.title, card.revision, loaded.short_hash, card.interval)
        ):
            self.library.setItem(row, column, QtWidgets.QTableWidgetItem(text))
        self.select(card.number)
        return loaded

    def select(self, number: str) -> None:
        for row in range(self.library.rowCount()):
            item = self.library.item(row, 0)
            if item is not None and item.text() == number:
                self.library.selectRow(row)
                return
        raise KeyError(f"card {number} is not in the library")

    def _selected(self) -> None:
        rows = self.library.selectionModel().selectedRows()
        if not rows:
            return
        item = self.library.item(rows[0].row(), 0)
        loaded = self.loaded.get(item.text()) if item is not None else None
        if loaded is not None:
            self.show_card(loaded)

    def signable_run(self) -> str | None:
        """The run "Sign off..." signs: the last finished run of the card shown (None: none)."""
        return self.signable.get(self.current.card.number) if self.current is not None else None

    def show_card(self, loaded: LoadedCard) -> None:
        """The card's header and its steps (no outcomes yet)."""
        self.current = loaded
        running = self.stop_button.isEnabled()
        self.signoff_button.setEnabled(not running and self.signable_run() is not None)
        card = loaded.card
        parts = [
            f"<b>{card.number}</b> rev {card.revision}: <b>{card.title}</b><br>"
            f"file {loaded.source}, sha256 {loaded.short_hash}; effectivity "
            f"{', '.join(card.effectivity)}; interval {card.interval or '-'}"
        ]
        for label, colour, items in (
            ("WARNING", "#b00000", card.warnings),
            ("CAUTION", "#a06000", card.cautions),
            ("NOTE", "#404040", card.notes),
        ):
            for text in items:
                parts.append(f"<span style='color:{colour}'><b>{label}:</b> {escape(text)}</span>")
        self.header.setText("<br>".join(parts))
        self.steps.setRowCount(0)
        self._rows.clear()
        for item in card.steps:
            row = self.steps.rowCount()
            self.steps.insertRow(row)
            self._rows[item.number] = row
            limits = item.limits_text() if isinstance(item, MeasurementStep) else ""
            kind = item.kind + (" RII" if item.rii else "")
            for column, text in enumerate((str(item.number), kind, item.text, "", limits, "", "")):
                self.steps.setItem(row, column, QtWidgets.QTableWidgetItem(text))
        self.steps.resizeColumnToContents(0)
        self.steps.resizeColumnToContents(1)
        self.steps.setColumnWidth(3, 150)
        self.steps.setColumnWidth(4, 130)
        self.steps.setColumnWidth(5, 56)
        self.steps.setColumnWidth(6, 80)
        self.steps.resizeRowsToContents()
        self.outcome_label.setText("")

    # -- running -------------------------------------------------------------------------------

    def _run_clicked(self) -> None:
        if self.current is None or self.run_requested is None:
            return
        operator_id = self.operator_id.text().strip()
        if not operator_id:
            self.outcome_label.setText("<span style='color:#b00000'>Enter your person id.</span>")
            return
        self.show_card(self.current)
        self.log.clear()
        self.run_requested(
            self.current, self.lander.text().strip(), operator_id, self.pause_on_failure.isChecked()
        )

    def _stop_clicked(self) -> None:
        if self.stop_requested is not None:
            self.stop_requested()

    def _signoff_clicked(self) -> None:
        if self.signoff_requested is not None:
            self.signoff_requested()

    def set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        if running:
            self.signoff_button.setEnabled(False)

    def _paint_row(self, row: int, colour: str, bold: bool = False) -> None:
        for column in range(self.steps.columnCount()):
            item = self.steps.item(row, column)
            if item is None:
                continue
            item.setBackground(QtGui.QColor(colour))
            font = item.font()
            font.setBold(bold)
            item.setFont(font)

    def _set(self, row: int, column: int, text: str) -> None:
        item = self.steps.item(row, column)
        if item is not None:
            item.setText(text)

    def on_card_event(self, event: CardEvent) -> None:
        if event.what == "card_started" and event.record is not None:
            self.record = event.record
            self.outcome_label.setText(f"running {event.record.card['number']} ...")
        elif event.what == "attempt_started" and event.step is not None:
            row = self._rows.get(event.step.number)
            if row is not None:
                self._paint_row(row, RUNNING_COLOUR, bold=True)
                self._set(row, 5, str(event.attempt))
                self._set(row, 6, "running")
                first = self.steps.item(row, 0)
                if first is not None:
                    self.steps.scrollToItem(first)
        elif event.what == "attempt_finished" and event.entry is not None:
            self._show_attempt(event.entry)
        elif event.what == "logged":
            where = f"step {event.step.number}" if event.step is not None else "teardown"
            self.log.appendPlainText(f"{where}: {event.text}")
        elif event.what == "teardown_finished" and event.teardown is not None:
            error = f": {event.teardown.error}" if event.teardown.error else ""
            self.log.appendPlainText(f"teardown: {event.teardown.outcome}{error}")
        elif event.what == "finished" and event.record is not None:
            self.record = event.record
            for entry in event.record.attempts:
                if entry.attempt == 0:
                    self._show_attempt(entry)
            outcome = event.record.outcome
            colour = OUTCOME_COLOURS.get(outcome, "#ffffff")
            aborted = event.record.aborted_reason
            reason = f" ({escape(aborted)})" if aborted else ""
            self.outcome_label.setText(
                f"<span style='background:{colour}'>&nbsp;card {event.record.card['number']}: "
                f"<b>{outcome}</b>{reason}&nbsp;</span>"
            )

    def _show_attempt(self, entry: AttemptRecord) -> None:
        row = self._rows.get(entry.step)
        if row is None:
            return
        self._paint_row(row, OUTCOME_COLOURS.get(entry.outcome, "#ffffff"))
        if entry.kind == "measurement" and entry.value is not None:
            value = f"{entry.value:.5g} {entry.unit or ''}".rstrip()
        else:
            value = entry.result_text()
        self._set(row, 3, value)
        item = self.steps.item(row, 3)
        if item is not None:
            item.setToolTip(entry.failure_text() or entry.result_text())
        if entry.attempt:
            self._set(row, 5, str(entry.attempt))
        self._set(row, 6, str(entry.outcome))
        if entry.error and not entry.outcome.passed:
            self._last_error[entry.step] = entry.error
            self.log.appendPlainText(f"step {entry.step}: {entry.outcome}: {entry.error}")

    def step_outcome(self, number: int) -> str:
        """The outcome column of step ``number`` as shown."""
        item = self.steps.item(self._rows[number], 6)
        return item.text() if item is not None else ""

    # -- questions -----------------------------------------------------------------------------

    def open_question(self, request: OperatorRequest) -> QuestionDialog:
        """Show the dialog for ``request``; with a script, fill it and answer after
        ``auto_answer_ms``."""
        detail = self._last_error.get(request.step.number, "")
        dialog = dialog_for(request, detail, self)
        self.dialog = dialog
        dialog.show()
        if request.script is not None:
            try:
                answer = request.scripted_answer()
            except Exception as err:  # a missing scripted answer aborts the card, named
                request.cancel(str(err))
                dialog.hide()
                self.log.appendPlainText(f"scripted operator: {err}")
                return dialog
            dialog.fill(answer)
            QtCore.QTimer.singleShot(self.auto_answer_ms, dialog.answer_now)
        return dialog
