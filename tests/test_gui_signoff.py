"""Sign-off in the GUI as people meet it, offscreen with pytest-qt: one Enter is one attempt,
a signature's confirmation stays on screen, a person cannot give the same signature twice,
"Sign off..." signs the run of the card shown, and an operator nobody registered runs no card.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from PySide6 import QtCore
from pytestqt.qtbot import QtBot
from records_people import administer

from hil.core.config import BenchConfig
from hil.gui.signoff import SignoffDialog, SignoffSequence
from hil.gui.window import MainWindow
from hil.records import Authorization, Kdf, Meaning, SqliteStore
from hil.services.operator import GuiOperator
from hil.services.session import BenchSession

SECRET = "correct horse 1"
CARDS = ("LL-99-00-00-700-911", "LL-99-00-00-700-912")
CARD_SOURCE = """
from hil.cards import Card, action


CARD = Card(
    number="{number}",
    revision="A",
    title="GUI sign-off card {number}",
    roles=("flight_computer",),
    steps=(action(1, "Ping the FC.", run=lambda ctx: ctx.fc.ping()),),
)
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    with SqliteStore(tmp_path / "data", kdf=Kdf(n=2**10)) as opened:
        until = date.today() + timedelta(days=30)
        people = administer(opened)
        for person_id, name, roles in (
            ("tech.gui", "T. Technician", ["technician"]),
            ("insp.gui", "I. Inspector", ["inspector"]),
        ):
            people.add(person_id, name, roles, SECRET, [Authorization("LL-*", "C", until)])
        yield opened


def finished_run(store: SqliteStore, *, rii: bool = False) -> str:
    run_id = store.create_run(
        {"card": {"number": CARDS[0], "revision": "A"}, "lander": "HR-2", "operator_id": "x"}
    )
    for step in (1, 2):
        store.append(
            run_id,
            "attempt",
            {"step": step, "attempt": 1, "rii": rii and step == 2, "outcome": "PASS",
             "finished_utc": "2026-06-05T10:00:01+00:00"},
        )  # fmt: skip
    store.finish(run_id, "PASS")
    return run_id


def failures(store: SqliteStore, person_id: str) -> int:
    return sum(not line["ok"] for line in store.people.auth_log(person_id))


def test_one_enter_on_a_wrong_secret_is_one_attempt(qtbot: QtBot, store: SqliteStore) -> None:
    dialog = SignoffDialog(store, finished_run(store), Meaning.PERFORMED)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.person.setText("tech.gui")
    dialog.secret.setText("wrong secret")
    dialog.secret.setFocus()
    qtbot.keyClick(dialog.secret, QtCore.Qt.Key.Key_Return)
    assert failures(store, "tech.gui") == 1
    assert "Wrong secret" in dialog.message.text()
    # Enter on an empty secret is no attempt at all
    qtbot.keyClick(dialog.secret, QtCore.Qt.Key.Key_Return)
    assert failures(store, "tech.gui") == 1 and "Enter your" in dialog.message.text()


def test_a_confirmation_stays_on_screen_and_a_second_signature_is_refused(
    qtbot: QtBot, store: SqliteStore
) -> None:
    run_id = finished_run(store, rii=True)
    sequence = SignoffSequence(store, run_id, None)  # type: ignore[arg-type]
    performer = sequence.start()
    qtbot.addWidget(performer)
    assert "Already signed</b>: none yet" in performer.findChildren(type(performer.who))[0].text()
    performer.person.setText("tech.gui")
    performer.secret.setText(SECRET)
    qtbot.keyClick(performer.secret, QtCore.Qt.Key.Key_Return)
    assert performer.signed is not None
    inspector = sequence.dialog
    assert inspector is not None and inspector is not performer
    qtbot.addWidget(inspector)
    # the performer can still read what they signed
    assert performer.isVisible() and "Signed <b>performed</b>" in performer.message.text()
    # the next dialog lists the signature already on the record
    assert "performed by T. Technician (tech.gui) on the card" in " ".join(
        label.text() for label in inspector.findChildren(type(inspector.who))
    )
    # the same person cannot sign the same meaning on the same run again
    again = SignoffDialog(store, run_id, Meaning.PERFORMED)
    qtbot.addWidget(again)
    again.person.setText("tech.gui")
    again.secret.setText(SECRET)
    assert not again.try_sign()
    assert "already signed &#x27;performed&#x27; on the whole card" in again.message.text()
    assert [s.meaning for s in store_signatures(store, run_id)] == ["performed"]


def store_signatures(store: SqliteStore, run_id: str) -> list[Meaning]:
    from hil.records import RunState

    return list(RunState.from_events(run_id, store.events(run_id)).signatures)  # type: ignore


@pytest.fixture
def two_cards(tmp_path: Path) -> Path:
    folder = tmp_path / "cards"
    folder.mkdir()
    for index, number in enumerate(CARDS):
        (folder / f"card_{index}.py").write_text(CARD_SOURCE.format(number=number))
    return folder


def test_sign_off_signs_the_run_of_the_card_shown_and_unknown_operators_run_nothing(
    qtbot: QtBot, tmp_path: Path, hil_sim_config: BenchConfig, two_cards: Path, store: SqliteStore
) -> None:
    with BenchSession(hil_sim_config, operator=GuiOperator(), store=store) as session:
        window = MainWindow(session, cards_dir=two_cards, store=store)
        qtbot.addWidget(window)
        window.show()
        cards = window.cards
        cards.select(CARDS[0])
        cards.operator_id.setText("nobody")
        cards.run_button.click()
        assert "&#x27;nobody&#x27;: not a registered person" in cards.outcome_label.text()
        assert store.runs() == [] and not session.busy
        cards.operator_id.setText("tech.gui")
        cards.run_button.click()
        qtbot.waitUntil(lambda: cards.signoff_button.isEnabled(), timeout=15_000)
        first = session.last_run_id
        assert first is not None
        cards.select(CARDS[1])  # another card: its run does not exist yet
        assert not cards.signoff_button.isEnabled()
        window.sign_off()
        assert window.signoff is None
        cards.select(CARDS[0])
        assert cards.signoff_button.isEnabled()
        window.sign_off()
        assert window.signoff is not None and window.signoff.run_id == first
        window.close()
