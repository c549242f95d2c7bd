"""How the suite judges a library card's run: PASS, or, for a card whose limits are real-time
figures (``Card.timing_limits``), every step ran and was measured — a busy CI machine must not
fail a card that works (its speed is a benchmark's business)."""

from __future__ import annotations

from hil.cards import Outcome
from hil.cards.loader import LoadedCard
from hil.cards.record import AsRunRecord


def assert_card_worked(record: AsRunRecord, loaded: LoadedCard) -> None:
    if not loaded.card.timing_limits:
        assert record.outcome == Outcome.PASS, record.summary()
        return
    measured = (Outcome.PASS, Outcome.MARGINAL, Outcome.FAIL)
    for attempt in record.final_attempts():
        if attempt.kind == "measurement":
            assert attempt.outcome in measured, record.summary()
        else:
            assert attempt.outcome == Outcome.PASS, record.summary()
    assert record.outcome in measured and record.teardown.outcome == Outcome.PASS, record.summary()
