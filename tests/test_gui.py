"""The bench GUI, offscreen with pytest-qt: a card run end to end through the dialogs with
performer and inspector sign-off, operator click-through after a failure, the live plots fed by
a running descent, the bench check on the status panel, and a Qt-signal regression guard for
the PySide6 pin (docs/architecture.md §10). Screenshots of each view go to ``artifacts/gui/``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from PySide6 import QtCore, QtWidgets
from pytestqt.qtbot import QtBot
from records_people import administer

from hil.cards.model import Card
from hil.cards.operators import ScriptedOperator
from hil.cards.record import Outcome
from hil.core.config import BenchConfig
from hil.flight.scenario import load_scenario
from hil.gui.dialogs import FailureDialog, InspectionDialog, PromptDialog
from hil.gui.window import MainWindow
from hil.records import Authorization, Kdf, SqliteStore, verify
from hil.services.operator import GuiOperator
from hil.services.session import BenchSession, JobFinished, SessionBusy

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts" / "gui"
SECRET = "correct horse 1"
CARD_NUMBER = "LL-99-00-00-700-901"

CARD_SOURCE = """
from hil.cards import Card, action, inspection, measurement, prompt


def ping_ms(ctx):
    return ctx.fc.ping() * 1000.0


def flaky(ctx):
    if ctx.attempt == 1:
        raise RuntimeError("simulated fault on the first attempt")
    ctx.log("second attempt fine")


CARD = Card(
    number="LL-99-00-00-700-901",
    revision="A",
    title="GUI test card",
    roles=("flight_computer",),
    steps=(
        prompt(1, "Is the bench powered?", answers=("yes", "no"), expect="yes"),
        inspection(
            2, "Inspect FC connector J1.", criterion="No bent pins", evidence=True, rii=True
        ),
        measurement(
            3, "Measure the PING round trip.", name="ping", unit="ms", high=500.0,
            measure=ping_ms,
        ),
        action(4, "Run the flaky action.", run=flaky),
    ),
)
"""

ANSWERS = f"""
["{CARD_NUMBER}"]
"1" = "yes"
"2" = {{ passed = true, comment = "pins straight", evidence = "j1.png" }}
on_failure = {{ "4" = "retry" }}
"""


def cell(table: QtWidgets.QTableWidget, row: int, column: int) -> str:
    item = table.item(row, column)
    return "" if item is None else item.text()


def shoot(widget: QtWidgets.QWidget, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    assert widget.grab().save(str(path)), f"cannot write {path}"
    return path


@pytest.fixture
def card_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "gui_cards"
    folder.mkdir()
    (folder / "gui_test_card.py").write_text(CARD_SOURCE)
    (tmp_path / "j1.png").write_bytes(b"\x89PNG evidence photo")
    (tmp_path / "answers.toml").write_text(ANSWERS)
    return folder


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    with SqliteStore(tmp_path / "data", kdf=Kdf(n=2**10)) as opened:
        until = date.today() + timedelta(days=30)
        people = administer(opened)
        people.add(
            "tech.gui",
            "T. Technician",
            ["technician", "inspector"],
            SECRET,
            [Authorization("LL-*", "TC-1", until)],
        )
        people.add(
            "insp.gui",
            "I. Inspector",
            ["inspector"],
            SECRET,
            [Authorization("LL-*", "IA-2", until)],
        )
        people.add(
            "insp.old",
            "O. Lapsed",
            ["inspector"],
            SECRET,
            [Authorization("LL-*", "IA-3", date.today() - timedelta(days=1))],
        )
        yield opened


def make_window(
    qtbot: QtBot, session: BenchSession, cards: Path, store: SqliteStore | None = None
) -> MainWindow:
    window = MainWindow(session, cards_dir=cards, store=store)
    qtbot.addWidget(window)
    window.resize(1300, 850)
    window.show()
    return window


def test_card_runs_end_to_end_with_scripted_dialogs_and_rii_signoff(
    qtbot: QtBot, tmp_path: Path, hil_sim_config: BenchConfig, card_dir: Path, store: SqliteStore
) -> None:
    script = ScriptedOperator(tmp_path / "answers.toml")
    with BenchSession(
        hil_sim_config, operator=GuiOperator(script), store=store, out_dir=tmp_path / "runs"
    ) as session:
        window = make_window(qtbot, session, card_dir, store)
        cards = window.cards
        cards.auto_answer_ms = 50
        cards.select(CARD_NUMBER)
        cards.operator_id.setText("tech.gui")
        cards.run_button.click()
        seen: list[str] = []

        def inspection_open() -> bool:
            dialog = cards.dialog
            if dialog is not None and dialog.request.kind == "inspect":
                # The step being asked about is the highlighted one.
                seen.append(cell(cards.steps, cards._rows[2], 6))
                return True
            return False

        qtbot.waitUntil(inspection_open, timeout=10_000)
        assert cards.dialog is not None and seen == ["running"]
        assert cell(cards.steps, cards._rows[1], 6) == "PASS"
        shoot(cards.dialog, "inspection-dialog.png")
        qtbot.waitUntil(lambda: cards.signoff_button.isEnabled(), timeout=15_000)
        assert not session.busy or session.wait_idle(5.0)

        # What the technician sees: every step green, the retried step on attempt 2.
        assert [cards.step_outcome(n) for n in (1, 2, 3, 4)] == ["PASS"] * 4
        assert cell(cards.steps, cards._rows[4], 5) == "2"
        assert cards.record is not None and cards.record.outcome == Outcome.PASS
        shoot(window, "card-runner.png")
        run_id = session.last_run_id
        assert run_id is not None

        # Performer signs the whole card.
        window.sign_off()
        sequence = window.signoff
        assert sequence is not None and sequence.dialog is not None
        performer = sequence.dialog
        assert "PERFORMED" in performer.findChildren(QtWidgets.QLabel)[1].text()
        performer.person.setText("tech.gui")
        performer.secret.setText(SECRET)
        assert performer.try_sign()
        assert "T. Technician" in performer.message.text()

        # Then the inspector, on the RII step only; refusals are explained.
        inspector = sequence.dialog
        assert inspector is not performer and inspector.steps == (2,)
        inspector.person.setText("tech.gui")
        inspector.secret.setText(SECRET)
        assert not inspector.try_sign()
        assert "must be independent" in inspector.message.text()
        inspector.person.setText("insp.old")
        inspector.secret.setText(SECRET)
        assert not inspector.try_sign()
        assert "no valid authorization" in inspector.message.text()
        inspector.person.setText("insp.gui")
        inspector.secret.setText("wrong secret!")
        assert not inspector.try_sign()
        assert "Wrong secret" in inspector.message.text()
        shoot(inspector, "signoff-refused.png")
        inspector.secret.setText(SECRET)
        assert inspector.try_sign()
        assert "I. Inspector" in inspector.message.text()
        assert sequence.done
        shoot(inspector, "signoff-inspector.png")

        # The records browser: outcome, verify OK, the as-run card with both signatures.
        assert verify(store, run_id).ok
        records = window.records
        assert records is not None
        records.refresh()
        row = records.run_ids.index(run_id)
        assert cell(records.table, row, 6) == "PASS"
        assert cell(records.table, row, 7) == "OK"
        records.select_run(run_id)
        assert records.open_selected() is not None
        html = records.viewer.toHtml()
        assert "T. Technician" in html and "I. Inspector" in html
        window.tabs.setCurrentWidget(records)
        shoot(window, "records.png")
        window.close()


def test_operator_clicks_retry_after_a_failed_attempt(
    qtbot: QtBot, hil_sim_config: BenchConfig, card_dir: Path
) -> None:
    with BenchSession(hil_sim_config) as session:  # no script: a person answers
        window = make_window(qtbot, session, card_dir)
        cards = window.cards
        cards.select(CARD_NUMBER)
        cards.operator_id.setText("tech.gui")
        cards.run_button.click()
        qtbot.waitUntil(lambda: cards.dialog is not None, timeout=10_000)
        prompt = cards.dialog
        assert isinstance(prompt, PromptDialog)
        prompt.buttons["yes"].click()
        qtbot.waitUntil(
            lambda: cards.dialog is not None and cards.dialog.request.kind == "inspect",
            timeout=10_000,
        )
        inspection = cards.dialog
        assert isinstance(inspection, InspectionDialog)
        inspection.passed.setChecked(True)
        inspection.comment.setPlainText("pins straight")
        inspection.answer_now()
        qtbot.waitUntil(
            lambda: cards.dialog is not None and cards.dialog.request.kind == "failure",
            timeout=10_000,
        )
        failure = cards.dialog
        assert isinstance(failure, FailureDialog)
        assert "simulated fault" in failure.findChildren(QtWidgets.QLabel)[-2].text()
        shoot(failure, "failure-dialog.png")
        qtbot.mouseClick(failure.buttons["retry"], QtCore.Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not session.busy, timeout=10_000)
        window.tick()
        assert cards.step_outcome(4) == "PASS"
        assert cards.record is not None and cards.record.outcome == Outcome.PASS
        assert [e.outcome for e in cards.record.attempts if e.step == 4] == [
            Outcome.FAIL,
            Outcome.PASS,
        ]
        window.close()


def test_closing_the_window_aborts_an_open_question_and_runs_the_teardown(
    qtbot: QtBot, hil_sim_config: BenchConfig, card_dir: Path
) -> None:
    with BenchSession(hil_sim_config) as session:
        window = make_window(qtbot, session, card_dir)
        window.cards.select(CARD_NUMBER)
        window.cards.operator_id.setText("tech.gui")
        window.cards.run_button.click()
        qtbot.waitUntil(lambda: window.cards.dialog is not None, timeout=10_000)
        with pytest.raises(SessionBusy, match="bench busy"):
            session.start_bench_check()
        window.close()  # the card is waiting for an answer
        assert not session.busy
        finished = [e for e in session.poll() if isinstance(e, JobFinished)]
        assert finished and finished[-1].result.outcome == Outcome.ABORTED
        assert "the GUI was closed" in finished[-1].result.aborted_reason


def test_plots_and_trajectory_receive_data_from_a_running_descent(
    qtbot: QtBot, tmp_path: Path, hil_sim_config: BenchConfig
) -> None:
    with BenchSession(hil_sim_config, out_dir=tmp_path) as session:
        window = make_window(qtbot, session, tmp_path)
        window.tabs.setCurrentWidget(window.plots)
        window.fly(load_scenario("nominal"), 0, False, 40.0)
        plots = window.plots
        qtbot.waitUntil(lambda: plots.curve_points("truth.altitude_m") > 50, timeout=20_000)
        qtbot.waitUntil(lambda: plots.curve_points("FC_NavAltitude.Altitude") > 5, timeout=20_000)
        shoot(window, "plots.png")
        window.tabs.setCurrentWidget(window.descent)
        qtbot.waitUntil(lambda: not session.busy, timeout=30_000)
        qtbot.waitUntil(lambda: not window.descent.stop_button.isEnabled(), timeout=10_000)
        window.tick()
        true_x, true_z, fc_x, fc_z = window.descent.trajectory.tracks()
        assert true_x.size > 100 and fc_x.size > 10
        assert abs(true_z[-1] - fc_z[-1]) < 2000.0  # nominal: the FC knows where it is
        assert "end of run" in window.descent.verdict.text()
        assert "FC mode BRAKING" in window.descent.timeline.toPlainText()
        outputs = [p.name for p in tmp_path.glob("descent-nominal-*/*")]
        assert "trajectory.npz" in outputs and "profile.png" in outputs
        shoot(window, "descent.png")
        window.close()


def test_bench_check_fills_the_status_panel(
    qtbot: QtBot, tmp_path: Path, hil_sim_config: BenchConfig
) -> None:
    with BenchSession(hil_sim_config) as session:
        window = make_window(qtbot, session, tmp_path)
        window.check_action.trigger()
        qtbot.waitUntil(lambda: "bench check: PASS" in window.job_label.text(), timeout=15_000)
        status = window.status
        messages = {cell(status.can, r, 0): r for r in range(status.can.rowCount())}
        row = messages["FC_Heartbeat"]
        assert int(cell(status.can, row, 2)) > 5
        assert "STANDBY" in status.mode_label.text()
        shoot(window, "bench-status.png")
        window.close()


class _Emitter(QtCore.QObject):
    value = QtCore.Signal(int)


def test_ten_thousand_qt_signals_do_not_crash_the_interpreter(qtbot: QtBot) -> None:
    """PySide6 6.12.0 on Python 3.11 aborts after a few hundred emits (docs/architecture.md §10)."""
    emitter = _Emitter()
    received: list[int] = []
    emitter.value.connect(received.append)
    for index in range(10_000):
        emitter.value.emit(index)
    assert len(received) == 10_000 and received[-1] == 9_999

    queued: list[int] = []
    receiver = QtCore.QObject()
    emitter.value.connect(lambda v: queued.append(v), QtCore.Qt.ConnectionType.QueuedConnection)

    def emit_from_a_worker() -> None:
        for index in range(5_000):
            emitter.value.emit(index)

    worker = threading.Thread(target=emit_from_a_worker)
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: len(queued) == 5_000, timeout=10_000)
    del receiver


def test_card_library_lists_the_procedures(qtbot: QtBot, hil_sim_config: BenchConfig) -> None:
    with BenchSession(hil_sim_config) as session:
        window = make_window(qtbot, session, ROOT / "hil" / "data" / "procedures")
        assert "LL-31-10-00-740-801" in window.cards.loaded
        assert window.cards.library_errors.text() == ""
        window.cards.select("LL-31-10-00-740-801")
        assert isinstance(window.cards.current.card, Card)  # type: ignore[union-attr]
        assert "WARNING" in window.cards.header.text()
        window.close()


def test_a_real_time_descent_flies_in_its_own_process_and_streams_to_the_view(
    qtbot: QtBot, tmp_path: Path, hil_sim_config: BenchConfig
) -> None:
    with BenchSession(hil_sim_config, out_dir=tmp_path) as session:
        window = make_window(qtbot, session, tmp_path)
        window.tabs.setCurrentWidget(window.status)
        window.fly(load_scenario("nominal"), 0, True, 2.5)
        qtbot.waitUntil(lambda: window.traces.count("truth.altitude_m") > 500, timeout=20_000)
        qtbot.waitUntil(lambda: not session.busy, timeout=20_000)
        qtbot.waitUntil(lambda: not window.descent.stop_button.isEnabled(), timeout=5_000)
        assert "loop lateness p50" in window.status.timing_label.text()
        assert window.traces.unit("ENG_Cmd.ThrottleCmd") == "%"  # the bench's DBC unit
        assert "end of run" in window.descent.verdict.text()
        assert list(tmp_path.glob("descent-nominal-*/summary.json"))
        window.close()


def test_hil_gui_command_is_added_to_the_parser() -> None:
    import argparse

    from hil.cli.gui import add_commands, gui_command

    parser = argparse.ArgumentParser(prog="hil")
    add_commands(parser.add_subparsers())
    args = parser.parse_args(["gui", "--bench", "hil/data/benches/sim.toml", "--data", "d"])
    assert args.handler is gui_command
    assert args.bench == Path("hil/data/benches/sim.toml") and args.data == "d"
