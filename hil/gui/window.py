"""The bench main window: status, live plots, cards, records and descents in tabs.

One ``QTimer`` (``FRAME_MS``, >= 30 frames/s) drives the whole view: each tick drains the
session's signal buffer into the ``TraceStore``, handles the session's queued events (status,
card steps, questions, job ends) and redraws the visible views. Bench work happens only in the
``BenchSession``'s worker threads; a queued Qt signal wakes the window at once when a worker
posts an event (an operator question must not wait for the next frame), never per sample.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets

from hil.cards.loader import LoadedCard
from hil.cards.model import CardError
from hil.core.paths import DATA_DIR
from hil.errors import HilError
from hil.gui.cards_view import CardsView
from hil.gui.descent_view import DescentView
from hil.gui.fleet_view import fleet_view_for
from hil.gui.plots import LivePlotPanel
from hil.gui.status import StatusPanel
from hil.services.session import (
    BenchSession,
    CardEvent,
    DescentProgress,
    JobFinished,
    JobStarted,
    OperatorQuestion,
    SessionEvent,
    StatusSnapshot,
)
from hil.services.traces import TraceStore

if TYPE_CHECKING:
    from hil.flight.scenario import Scenario
    from hil.gui.signoff import RecordsBrowser, SignoffSequence
    from hil.records.store import RecordStore

FRAME_MS = 30
"""Redraw period: 33 frames/s."""

DESCENT_SIGNALS = (
    "truth.altitude_m",
    "FC_NavAltitude.Altitude",
    "truth.vertical_speed_mps",
    "FC_NavVelocity.VelocityVertical",
    "ENG_Cmd.ThrottleCmd",
)


class _Waker(QtCore.QObject):
    """Carries "an event is queued" from a worker thread to the GUI thread (queued signal)."""

    wake = QtCore.Signal()


class MainWindow(QtWidgets.QMainWindow):
    """The bench GUI over one ``BenchSession``. ``store`` enables sign-off and the records
    browser; ``cards_dir`` is the card library."""

    def __init__(
        self,
        session: BenchSession,
        *,
        cards_dir: Path = DATA_DIR / "procedures",
        store: RecordStore | None = None,
        frame_ms: int = FRAME_MS,
    ) -> None:
        super().__init__()
        self.session = session
        self.store = store
        self.frames = 0
        self.setWindowTitle(f"hil bench - {session.config.name}")
        self.traces = TraceStore(unit_of=session.unit)
        self.status = StatusPanel(self.traces)
        self.plots = LivePlotPanel(self.traces)
        self.cards = CardsView(cards_dir, session.config)
        self.cards.run_requested = self.run_card
        self.cards.stop_requested = session.stop
        self.cards.signoff_requested = self.sign_off
        self.descent = DescentView(self.traces)
        self.descent.start_requested = self.fly
        self.descent.stop_requested = session.stop
        self.records: RecordsBrowser | None = None
        self.signoff: SignoffSequence | None = None
        if store is not None:
            from hil.gui.signoff import RecordsBrowser

            self.records = RecordsBrowser(store)
        self.fleet = None if store is None else fleet_view_for(store)
        self.tabs = QtWidgets.QTabWidget()
        self.tabs.addTab(self.status, "Bench")
        self.tabs.addTab(self.plots, "Plots")
        self.tabs.addTab(self.cards, "Cards")
        self.tabs.addTab(self.descent, "Descent")
        if self.records is not None:
            self.tabs.addTab(self.records, "Records")
            self.records.refresh()
        if self.fleet is not None:
            self.tabs.addTab(self.fleet, "Fleet")
        self.setCentralWidget(self.tabs)
        self.job_label = QtWidgets.QLabel("idle")
        self.statusBar().addPermanentWidget(self.job_label)
        toolbar = self.addToolBar("bench")
        toolbar.setMovable(False)
        self.check_action = QtGui.QAction("Bench check", self)
        self.check_action.triggered.connect(self.bench_check)
        toolbar.addAction(self.check_action)
        self.stop_action = QtGui.QAction("Stop job", self)
        self.stop_action.triggered.connect(session.stop)
        toolbar.addAction(self.stop_action)
        self.status.show_snapshot(session.idle_status())
        self.resize(1280, 820)

        self._waker = _Waker()
        self._waker.wake.connect(self.tick, QtCore.Qt.ConnectionType.QueuedConnection)
        session.wake = self._waker.wake.emit
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(frame_ms)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    # -- commands (through the session, never a driver) ----------------------------------------

    def _refuse(self, err: HilError) -> None:
        self.statusBar().showMessage(str(err), 10_000)

    def bench_check(self) -> None:
        try:
            self.session.start_bench_check()
        except HilError as err:
            self._refuse(err)

    def run_card(
        self, loaded: LoadedCard, lander: str, operator_id: str, pause_on_failure: bool
    ) -> None:
        try:
            self.session.start_card(
                loaded, lander=lander, operator_id=operator_id, pause_on_failure=pause_on_failure
            )
        except (HilError, CardError) as err:
            self.cards.outcome_label.setText(
                f"<span style='color:#b00000'>{escape(str(err))}</span>"
            )

    def fly(self, scenario: Scenario, seed: int, realtime: bool, limit_s: float | None) -> None:
        try:
            self.session.start_descent(
                scenario, seed=seed, realtime=realtime, max_duration_s=limit_s
            )
        except HilError as err:
            self.descent.verdict.setText(f"<span style='color:#b00000'>{escape(str(err))}</span>")
            return
        self.descent.scenario.setCurrentText(scenario.path.stem)
        self.descent.seed.setValue(seed)
        self.descent.realtime.setChecked(realtime)
        self.descent.started(scenario)

    def sign_off(self) -> None:
        """Performer, then inspector for RII steps, on the record of the last run of the card
        shown (``self.signoff`` holds the sequence and its open dialog)."""
        if self.store is None:
            self.statusBar().showMessage("no record store: start the GUI with --data", 10_000)
            return
        run_id = self.cards.signable_run()
        if run_id is None:
            shown = self.cards.current.card.number if self.cards.current else "no card"
            self.statusBar().showMessage(f"{shown}: no run of this card to sign yet", 10_000)
            return
        from hil.gui.signoff import SignoffSequence

        self.signoff = SignoffSequence(self.store, run_id, self)
        self.signoff.start()

    # -- the frame -----------------------------------------------------------------------------

    def tick(self) -> None:
        """Drain signals and events, redraw what is visible."""
        self.frames += 1
        for event in self.session.poll():  # first: a new job resets the traces
            self._handle(event)
        self.traces.drain(self.session.signals)
        self.status.refresh()
        current = self.tabs.currentWidget()
        if current is self.plots:
            self.plots.refresh_names()
            self.plots.redraw()
        elif current is self.descent:
            self.descent.trajectory.redraw()

    def _handle(self, event: SessionEvent) -> None:
        if isinstance(event, StatusSnapshot):
            self.status.show_snapshot(event)
        elif isinstance(event, CardEvent):
            self.cards.on_card_event(event)
            if event.what == "attempt_started" and event.step is not None:
                self.plots.clear_bands()
                for monitor in event.step.monitors:
                    self.plots.set_bands(monitor.signal, monitor.red, monitor.yellow)
        elif isinstance(event, OperatorQuestion):
            self.tabs.setCurrentWidget(self.cards)
            self.cards.open_question(event.request)
        elif isinstance(event, DescentProgress):
            self.descent.show_progress(event)
        elif isinstance(event, JobStarted):
            self.traces.reset()
            self.job_label.setText(f"running: {event.title}")
            self.status.set_job(f"running: {event.title}")
            if event.kind == "card":
                self.cards.set_running(True)
            if event.kind == "descent":
                self.plots.clear()
                for name in DESCENT_SIGNALS:
                    self.plots.add_signal(name)
        elif isinstance(event, JobFinished):
            self._finished(event)

    def _finished(self, event: JobFinished) -> None:
        if event.on_gui_thread is not None:
            try:
                event.on_gui_thread()
            except Exception as err:  # the run's result stands without its files
                self.statusBar().showMessage(f"outputs not written: {err}", 20_000)
        self.job_label.setText(f"idle; last: {event.summary.splitlines()[0][:120]}")
        self.status.set_job("idle")
        self.statusBar().showMessage(event.summary.splitlines()[0][:200], 20_000)
        if event.kind == "card":
            self.cards.set_running(False)
            run_id = self.session.last_run_id
            record = getattr(event, "result", None)
            card = getattr(record, "card", None)
            if self.store is not None and run_id is not None and isinstance(card, dict):
                self.cards.signable[str(card.get("number"))] = run_id
            self.cards.signoff_button.setEnabled(self.cards.signable_run() is not None)
            if self.records is not None:
                self.records.refresh()
        elif event.kind == "descent":
            result = event.result
            events = list(getattr(result, "events", []))
            out_dir = getattr(result, "out_dir", None)
            if out_dir is not None:
                events.append((0.0, f"outputs: {out_dir}/ ({', '.join(result.files.values())})"))
            self.descent.finished(event.summary, events, event.ok)
            self.descent.trajectory.redraw()

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self.timer.stop()
        self.session.wake = None
        self.session.close()
        super().closeEvent(event)
