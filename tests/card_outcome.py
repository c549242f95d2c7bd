"""How the suite judges a library card's run: PASS, or, for a card whose limits are real-time
figures (``TIMING_LIMITS = True`` in its module), every step ran and was measured — a busy CI
machine must not fail a card that works (its speed is a benchmark's business)."""

from __future__ import annotations

from pathlib import Path

from hil.cards import Outcome
from hil.cards.record import AsRunRecord


def has_timing_limits(path: Path) -> bool:
    """The card module says so (read without importing it a second time)."""
    return "\nTIMING_LIMITS = True\n" in Path(path).read_text()


def assert_card_worked(record: AsRunRecord, path: Path) -> None:
    if not has_timing_limits(path):
        assert record.outcome == Outcome.PASS, record.summary()
        return
    measured = (Outcome.PASS, Outcome.MARGINAL, Outcome.FAIL)
    for attempt in record.final_attempts():
        if attempt.kind == "measurement":
            assert attempt.outcome in measured, record.summary()
        else:
            assert attempt.outcome == Outcome.PASS, record.summary()
    assert record.outcome in measured and record.teardown.outcome == Outcome.PASS, record.summary()
