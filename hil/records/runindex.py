"""The run index derived from a run's events, and what an index row must agree with.

The ``runs`` table is an index for listing and searching: card, lander, operator, status,
outcome and head of each run. Everything it holds is also said by the run's signed, chained
events: card, lander and operator by ``run_started`` (event 1), status, outcome and end time by
the first ``run_finished`` or ``run_interrupted``, the head by the last event. ``derive_run_info``
rebuilds an index row from the events alone (``hil records recover`` writes a new store's index
that way); ``index_mismatch`` names the first field of a stored row that the events contradict
(``verify`` fails on it, so an edited index never verifies); ``lifecycle_problem`` names an
event the append rules would have refused (a second end, a step event after the end).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hil.records.canonical import GENESIS_HASH
from hil.records.store import Event, RunInfo

END_KINDS = frozenset({"run_finished", "run_interrupted"})
"""Event kinds that end a run (at most one per run)."""

AFTER_END_KINDS = frozenset({"signature", "correction", "redline", "auth_failed", "attachment"})
"""Event kinds a finished or interrupted run still accepts (sign-off happens after the run)."""

CREATED_SLACK_S = 5.0
"""How far before its ``run_started`` event a run's index may say it was created (older stores
stamped the row a moment before the event)."""


@dataclass(frozen=True)
class IndexMismatch:
    """One index field the events contradict: the event that says otherwise and both values."""

    field: str
    seq: int
    indexed: Any
    recorded: Any

    def describe(self) -> str:
        return (
            f"the run index says {self.field} {self.indexed!r} but the record says "
            f"{self.recorded!r} (run index edited?)"
        )


def _end(events: Sequence[Event]) -> Event | None:
    return next((e for e in events if e.kind in END_KINDS), None)


def _meta(events: Sequence[Event]) -> dict[str, Any]:
    if not events or events[0].kind != "run_started":
        return {}
    try:
        return events[0].payload
    except ValueError:
        return {}


def _card(meta: dict[str, Any]) -> dict[str, Any]:
    card = meta.get("card") or {}
    return card if isinstance(card, dict) else {}


def derive_run_info(run_id: str, events: Sequence[Event]) -> RunInfo:
    """The index row ``events`` (one run's, in order) say: card, lander and operator from
    ``run_started``, status/outcome/end from the first end event, head from the last event."""
    meta = _meta(events)
    card = _card(meta)
    end = _end(events)
    status, outcome, finished_utc = "open", None, None
    if end is not None:
        finished_utc = end.utc
        if end.kind == "run_finished":
            status, outcome = "finished", str(_payload(end).get("outcome"))
        else:
            status = "interrupted"
    return RunInfo(
        run_id=run_id,
        created_utc=events[0].utc if events else "",
        card_number=str(card.get("number", "")),
        revision=str(card.get("revision", "")),
        title=str(card.get("title", "")),
        lander=str(meta.get("lander", "")),
        operator_id=str(meta.get("operator_id", "")),
        status=status,
        outcome=outcome,
        event_count=len(events),
        head_hash=events[-1].hash if events else GENESIS_HASH,
        finished_utc=finished_utc,
    )


def _payload(event: Event) -> dict[str, Any]:
    try:
        return event.payload
    except ValueError:
        return {}


def _seconds_apart(earlier: str, later: str) -> float | None:
    try:
        return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()
    except (TypeError, ValueError):
        return None


def index_mismatch(info: RunInfo, events: Sequence[Event]) -> IndexMismatch | None:
    """The first field of the stored index row ``info`` that the run's ``events`` contradict
    (None when they agree). The head (event count and hash) is checked by ``verify`` itself.
    An index row ``interrupted`` where the events have no end yet is accepted: the store shows
    an open run whose bench process died that way before it records the interruption."""
    derived = derive_run_info(info.run_id, events)
    for name in ("card_number", "revision", "title", "lander", "operator_id"):
        if getattr(info, name) != getattr(derived, name):
            return IndexMismatch(name, 1, getattr(info, name), getattr(derived, name))
    apart = _seconds_apart(info.created_utc, derived.created_utc)
    if apart is None or not 0.0 <= apart <= CREATED_SLACK_S:
        return IndexMismatch("created_utc", 1, info.created_utc, derived.created_utc)
    end = _end(events)
    end_seq = end.seq if end is not None else len(events)
    if info.status != derived.status and not (
        info.status == "interrupted" and derived.status == "open"
    ):
        return IndexMismatch("status", end_seq, info.status, derived.status)
    if info.outcome != derived.outcome:
        return IndexMismatch("outcome", end_seq, info.outcome, derived.outcome)
    if info.finished_utc != derived.finished_utc:
        return IndexMismatch("finished_utc", end_seq, info.finished_utc, derived.finished_utc)
    return None


def lifecycle_problem(events: Sequence[Event]) -> tuple[int, str] | None:
    """``(seq, reason)`` of the first event the append rules would have refused: a second end
    event, or a step event after the run ended. None when there is none."""
    ended: Event | None = None
    for event in events:
        if ended is None:
            if event.kind in END_KINDS:
                ended = event
            continue
        if event.kind not in AFTER_END_KINDS:
            return event.seq, (
                f"'{event.kind}' after the run ended ('{ended.kind}' at event {ended.seq}): "
                "appended behind the store's back?"
            )
    return None
