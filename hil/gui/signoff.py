"""Sign-off dialogs and the records browser, on ``hil.records``.

``SignoffDialog`` shows what is being signed (run, card, covered steps with their outcomes, the
hash of the record it covers, the signatures already on it) and the meaning of the signature,
takes the two factors (person id and secret) and calls ``hil.records.sign`` once per submission
(Enter in the secret field or the button, never both; an empty secret is not an attempt). After
a signature the dialog stays open on its confirmation until closed. A refusal is explained in
the engineer's terms: wrong secret (tries left), the same person inspecting what they performed, an
expired or missing authorization. ``SignoffSequence`` runs performer then inspector for a card
with RII steps. ``RecordsBrowser`` lists every run with its outcome and verify status and opens
the as-run card (``export_html``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from html import escape
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from hil.records import (
    AuthenticationError,
    Meaning,
    RecordError,
    RecordStore,
    RunState,
    SignoffRefused,
    UnknownRecord,
    export_html,
    sign,
    verify,
)
from hil.records.store import Event

MEANING_TEXT = {
    Meaning.PERFORMED: "PERFORMED: I performed the covered steps as the card says, and the "
    "record shows what was done and measured.",
    Meaning.INSPECTED: "INSPECTED: I inspected the covered steps independently. I performed "
    "none of them.",
    Meaning.APPROVED: "APPROVED: I approve the completed card and its record; every required "
    "inspection item is inspected.",
}


def explain(err: RecordError) -> str:
    """A refusal as the dialog shows it: what kind of refusal, then the rule's own words."""
    text = str(err)
    if isinstance(err, AuthenticationError):
        if "wrong secret" in text:
            return f"Wrong secret - identity not confirmed. {text}"
        return f"Identity not accepted. {text}"
    if isinstance(err, SignoffRefused):
        if "inspector must be someone" in text:
            return f"Refused: an RII inspector must be independent. {text}"
        if "needs role" in text:
            return f"Refused: this person's role may not give that signature. {text}"
        if "no authorization" in text:
            return f"Refused: no valid authorization (expired or out of scope). {text}"
        return f"Refused by the sign-off rules. {text}"
    if isinstance(err, UnknownRecord):
        return f"Unknown person or run. {text}"
    return text


def signed_so_far(state: RunState) -> str:
    """The signatures already on a record, as the sign dialog lists them before signing."""
    if not state.signatures:
        return "none yet"
    return "; ".join(
        f"{escape(s.meaning)} by {escape(s.printed_name)} ({escape(s.person_id)}) on "
        + ("the card" if s.on_card else "step " + ",".join(map(str, s.steps)))
        + f" at {escape(s.signed_utc[:19])}"
        for s in state.signatures
    )


class SignoffDialog(QtWidgets.QDialog):
    """One signature with ``meaning`` over ``steps`` (empty: the whole card) of ``run_id``."""

    def __init__(
        self,
        store: RecordStore,
        run_id: str,
        meaning: Meaning,
        steps: tuple[int, ...] = (),
        parent: QtWidgets.QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.run_id = run_id
        self.meaning = meaning
        self.steps = steps
        self.signed: Event | None = None
        self.on_signed: Callable[[Event], None] | None = None
        self.setModal(False)
        self.setWindowTitle(f"Sign: {meaning.value}")
        self.setMinimumWidth(560)
        state = RunState.from_events(run_id, store.events(run_id))
        head = store.head(run_id)
        card = state.meta.get("card") or {}
        covered = list(steps) or state.steps
        if not steps:
            covers = "the whole card"
        else:
            covers = ("step " if len(steps) == 1 else "steps ") + ", ".join(map(str, steps))
        rows = []
        for number in covered:
            attempts = state.attempts.get(number, [])
            last = attempts[-1] if attempts else {}
            rii = " RII" if number in state.rii_steps else ""
            rows.append(
                f"<tr><td>{number}{rii}</td><td>{last.get('kind', '')}</td>"
                f"<td>{last.get('outcome', '')}</td><td>{len(attempts)}</td></tr>"
            )
        what = QtWidgets.QLabel(
            f"<b>Run</b> {run_id} &nbsp; <b>card</b> {card.get('number', '?')} rev "
            f"{card.get('revision', '?')}: {card.get('title', '')}<br>"
            f"<b>lander</b> {state.meta.get('lander', '?')} &nbsp; <b>operator</b> "
            f"{state.operator_id} &nbsp; <b>outcome</b> "
            f"{(state.finished or {}).get('outcome', 'running')}<br>"
            f"<b>Covers</b> {covers}; signs the record up to event {head.seq if head else '?'} "
            f"(sha256 {head.hash[:16] if head else '?'}...)"
            "<table cellspacing=4><tr><th>step</th><th>kind</th><th>outcome</th>"
            f"<th>attempts</th></tr>{''.join(rows)}</table>"
            f"<b>Already signed</b>: {signed_so_far(state)}"
        )
        what.setWordWrap(True)
        meaning_label = QtWidgets.QLabel(MEANING_TEXT[meaning])
        meaning_label.setWordWrap(True)
        meaning_label.setStyleSheet("background: #fff6d8; padding: 6px; border: 1px solid #d8c070")
        self.person = QtWidgets.QLineEdit()
        self.person.setPlaceholderText("person id")
        self.person.editingFinished.connect(self._show_person)
        self.secret = QtWidgets.QLineEdit()
        self.secret.setEchoMode(QtWidgets.QLineEdit.EchoMode.Password)
        self.secret.setPlaceholderText("secret")
        self.secret.returnPressed.connect(self.try_sign)
        self.who = QtWidgets.QLabel("")
        self.who.setWordWrap(True)
        self.message = QtWidgets.QLabel("")
        self.message.setWordWrap(True)
        self.sign_button = QtWidgets.QPushButton(f"Sign as {meaning.value}")
        self.sign_button.clicked.connect(self.try_sign)
        close = QtWidgets.QPushButton("Close")
        close.clicked.connect(self.close)
        for button in (self.sign_button, close):
            # Enter in the secret field submits once (returnPressed): a default button
            # would submit the same Enter a second time, with the cleared secret.
            button.setAutoDefault(False)
            button.setDefault(False)
        self.close_button = close
        form = QtWidgets.QFormLayout()
        form.addRow("Identity", self.person)
        form.addRow("Secret", self.secret)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.sign_button)
        buttons.addWidget(close)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(what)
        layout.addWidget(meaning_label)
        layout.addLayout(form)
        layout.addWidget(self.who)
        layout.addWidget(self.message)
        layout.addLayout(buttons)

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:
        """Enter is the secret field's (one submission); the dialog itself never acts on it
        (QDialog would click a default button: a second attempt, or Close over the
        confirmation), and Escape closes it."""
        if event.key() in (QtCore.Qt.Key.Key_Return, QtCore.Qt.Key.Key_Enter):
            event.accept()
            return
        super().keyPressEvent(event)

    def _show_person(self) -> None:
        person_id = self.person.text().strip()
        if not person_id:
            self.who.setText("")
            return
        try:
            person = self.store.people.get(person_id)
        except RecordError as err:
            self.who.setText(f"<span style='color:#b00000'>{escape(explain(err))}</span>")
            return
        auths = "; ".join(
            f"{a.scope} cert {a.certificate} until {a.expires.isoformat()}"
            for a in person.authorizations
        )
        roles = ", ".join(r.value for r in person.roles)
        self.who.setText(
            f"<b>{person.printed_name}</b> ({roles}; {person.status})<br>authorizations: "
            f"{auths or 'none'}"
        )

    def try_sign(self) -> bool:
        """Sign with the entered identity and secret; True when the signature was appended."""
        if self.signed is not None or not self.sign_button.isEnabled():
            return False  # signed already, or a submission is in progress
        self._show_person()
        person_id = self.person.text().strip()
        secret = self.secret.text()
        self.secret.clear()
        if not person_id or not secret:
            self.message.setText(
                "<span style='color:#b00000'>Enter your person id and secret.</span>"
            )
            return False
        self.sign_button.setEnabled(False)
        try:
            event = sign(
                self.store, self.run_id, person_id, secret, self.meaning, covers=self.steps
            )
        except RecordError as err:
            self.message.setText(f"<span style='color:#b00000'>{escape(explain(err))}</span>")
            self.sign_button.setEnabled(True)
            return False
        payload = event.payload
        self.signed = event
        self.message.setText(
            f"<span style='color:#206020'>Signed <b>{payload['meaning']}</b> by "
            f"<b>{payload['printed_name']}</b> ({payload['role']}, certificate "
            f"{payload['certificate']}) at {payload['signed_utc']}; covers the record up to "
            f"event {payload['covers_seq']}.</span>"
        )
        self.person.setEnabled(False)
        self.secret.setEnabled(False)
        if self.on_signed is not None:
            self.on_signed(event)
        return True


class SignoffSequence(QtCore.QObject):
    """Performer on the whole card, then the inspector on its RII steps (if any)."""

    def __init__(self, store: RecordStore, run_id: str, parent: QtWidgets.QWidget) -> None:
        super().__init__(parent)
        self.store = store
        self.run_id = run_id
        self.parent_widget = parent
        state = RunState.from_events(run_id, store.events(run_id))
        self.rii_steps = tuple(sorted(state.rii_steps))
        self.dialog: SignoffDialog | None = None
        self.confirmed: SignoffDialog | None = None
        """The performer's dialog, left open on its confirmation."""
        self.done = False

    def start(self) -> SignoffDialog:
        return self._open(Meaning.PERFORMED, ())

    def _open(self, meaning: Meaning, steps: tuple[int, ...]) -> SignoffDialog:
        dialog = SignoffDialog(self.store, self.run_id, meaning, steps, self.parent_widget)
        dialog.on_signed = lambda _event: self._next(meaning)
        self.dialog = dialog
        dialog.show()
        return dialog

    def _next(self, meaning: Meaning) -> None:
        if meaning == Meaning.PERFORMED and self.rii_steps:
            # the performer's dialog stays open on its confirmation until they close it
            self.confirmed = self.dialog
            self._open(Meaning.INSPECTED, self.rii_steps)
            return
        self.done = True


RUN_COLUMNS = ["run", "created (UTC)", "card", "rev", "lander", "operator", "outcome", "verify"]


class RecordsBrowser(QtWidgets.QWidget):
    """Every run in the store: outcome and verify status; open the as-run card; sign."""

    def __init__(self, store: RecordStore, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.table = QtWidgets.QTableWidget(0, len(RUN_COLUMNS))
        self.table.setHorizontalHeaderLabels(RUN_COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.doubleClicked.connect(lambda _index: self.open_selected())
        self.refresh_button = QtWidgets.QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.open_button = QtWidgets.QPushButton("Open as-run card")
        self.open_button.clicked.connect(self.open_selected)
        self.meaning = QtWidgets.QComboBox()
        self.meaning.addItems([m.value for m in Meaning])
        self.sign_button = QtWidgets.QPushButton("Sign...")
        self.sign_button.clicked.connect(self.sign_selected)
        self.viewer = QtWidgets.QTextBrowser()
        self.viewer.setOpenExternalLinks(False)
        self.run_ids: list[str] = []
        self.verify_text: dict[str, str] = {}
        self.dialog: SignoffDialog | None = None
        self._html_dir = tempfile.TemporaryDirectory(prefix="hil-gui-records-")
        bar = QtWidgets.QHBoxLayout()
        bar.addWidget(self.refresh_button)
        bar.addWidget(self.open_button)
        bar.addStretch(1)
        bar.addWidget(QtWidgets.QLabel("Meaning"))
        bar.addWidget(self.meaning)
        bar.addWidget(self.sign_button)
        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.viewer)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 2)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)
        self.destroyed.connect(self._html_dir.cleanup)

    def refresh(self) -> None:
        """Re-read the runs and verify each one's hash chain and signatures."""
        runs = self.store.runs()
        self.run_ids = [run.run_id for run in runs]
        self.table.setRowCount(len(runs))
        for row, run in enumerate(runs):
            try:
                report = verify(self.store, run.run_id)
                status = "OK" if report.ok else f"FAILED at event {report.first_bad_event}"
                detail = report.describe()
            except RecordError as err:
                status, detail = "cannot verify", str(err)
            self.verify_text[run.run_id] = detail
            outcome = run.outcome or run.status
            values = (
                run.run_id,
                run.created_utc[:19].replace("T", " "),
                run.card_number,
                run.revision,
                run.lander,
                run.operator_id,
                outcome,
                status,
            )
            for column, text in enumerate(values):
                item = QtWidgets.QTableWidgetItem(str(text))
                if column == 6:
                    good = outcome in ("PASS", "MARGINAL")
                    item.setBackground(QtGui.QColor("#d4eed4" if good else "#f6c9c9"))
                if column == 7:
                    item.setBackground(QtGui.QColor("#d4eed4" if status == "OK" else "#f0a8a8"))
                    item.setToolTip(detail)
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()

    def select_run(self, run_id: str) -> None:
        self.table.selectRow(self.run_ids.index(run_id))

    def selected_run(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return self.run_ids[-1] if self.run_ids else None
        return self.run_ids[rows[0].row()]

    def open_selected(self) -> Path | None:
        """Show the as-run card of the selected run (exported HTML) below the table."""
        run_id = self.selected_run()
        if run_id is None:
            return None
        path = Path(self._html_dir.name) / f"{run_id}.html"
        try:
            export_html(self.store, run_id, path)
        except RecordError as err:
            self.viewer.setPlainText(f"cannot open run {run_id}: {err}")
            return None
        self.viewer.setHtml(path.read_text(encoding="utf-8"))
        return path

    def sign_selected(self) -> SignoffDialog | None:
        run_id = self.selected_run()
        if run_id is None:
            return None
        meaning = Meaning(self.meaning.currentText())
        steps: tuple[int, ...] = ()
        if meaning == Meaning.INSPECTED:
            state = RunState.from_events(run_id, self.store.events(run_id))
            steps = tuple(sorted(state.rii_steps)) or tuple(state.steps)
        dialog = SignoffDialog(self.store, run_id, meaning, steps, self)
        dialog.on_signed = lambda _event: self.refresh()
        self.dialog = dialog
        dialog.show()
        return dialog
