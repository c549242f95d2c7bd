"""``StoreRecorder``: the card runner's durable write path into a ``RecordStore``.

The runner calls it at each step event; every call appends (and fsyncs) one event before it
returns, so a bench killed mid-card leaves every completed event on disk. Its method names and
arguments match ``hil.cards.runner.RunListener``; objects are read through their ``to_dict()``
and a few attributes, so this module does not import ``hil.cards``.

Call it directly from the runner rather than only as a listener: a listener's exceptions are
logged and swallowed, and a ``StorageError`` (disk full, read-only data directory) should stop
the run instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

from hil.records.errors import RecordError, UnknownRecord
from hil.records.store import Event, RecordStore

_NOT_IN_META = ("attempts", "teardown", "finished_utc", "outcome", "aborted_reason")


class _HasToDict(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


def require_operator(store: RecordStore, operator_id: str) -> None:
    """Refuse a card run whose operator is not a registered person of ``store`` (a run's
    performer must be someone who can be identified and sign): ``RecordError``, one line."""
    try:
        store.people.get(operator_id)
    except UnknownRecord:
        raise RecordError(
            f"operator {operator_id!r}: not a registered person in {store.location}; "
            "a card run's operator must be registered (hil people add --admin ID)"
        ) from None


class StoreRecorder:
    """Appends a card run's events to ``store`` as they happen. One recorder per run."""

    def __init__(self, store: RecordStore) -> None:
        self.store = store
        self.run_id: str | None = None
        self._recorded: set[int] = set()

    def _run(self) -> str:
        if self.run_id is None:
            raise RecordError("StoreRecorder: card_started was not called")
        return self.run_id

    def card_started(self, record: _HasToDict) -> str:
        """Create the run from the as-run record's header (card with its content hash, lander,
        operator, bench, software, start time). Returns the run id."""
        meta = {k: v for k, v in record.to_dict().items() if k not in _NOT_IN_META}
        self.run_id = self.store.create_run(meta)
        return self.run_id

    def attempt_started(self, step: Any, attempt: int) -> Event:
        """Record that ``step`` (a card step, or its number) began attempt ``attempt``."""
        number = int(getattr(step, "number", step))
        return self.store.append(
            self._run(), "attempt_started", {"step": number, "attempt": attempt}
        )

    def attempt_finished(self, entry: _HasToDict) -> Event:
        """Record one finished attempt (``AttemptRecord``). An evidence file it names is stored
        first and its hash checked against ``evidence_sha256``."""
        payload = entry.to_dict()
        evidence = payload.get("evidence")
        if evidence and os.path.isfile(str(evidence)):
            digest = self.store.attach(self._run(), str(evidence))
            expected = payload.get("evidence_sha256")
            if expected and expected != digest:
                raise RecordError(
                    f"evidence {evidence}: changed since step {payload.get('step')} "
                    f"recorded it (sha256 {digest[:12]}, not {str(expected)[:12]})"
                )
            payload["evidence_sha256"] = digest
        self._recorded.add(id(entry))
        return self.store.append(self._run(), "attempt", payload)

    def logged(self, step: Any, text: str) -> None:
        """Log lines are part of each attempt's event; nothing to append here."""

    def teardown_finished(self, teardown: _HasToDict) -> Event:
        return self.store.append(self._run(), "teardown", teardown.to_dict())

    def finished(self, record: Any) -> Event:
        """Append the attempts the runner added without notifying (steps SKIPPED or ABORTED
        after a failure) and then ``run_finished`` with the outcome."""
        run_id = self._run()
        missing = [e for e in getattr(record, "attempts", []) if id(e) not in self._recorded]
        if missing:
            self.store.append_many(run_id, [("attempt", e.to_dict()) for e in missing])
            self._recorded.update(id(e) for e in missing)
        data = record.to_dict()
        return self.store.finish(
            run_id,
            str(data.get("outcome")),
            finished_utc=data.get("finished_utc"),
            aborted_reason=data.get("aborted_reason"),
        )

    def attach(self, path: str | os.PathLike[str], name: str | None = None) -> str:
        """Store a bus log, plot or other file with the run; returns its SHA-256."""
        return self.store.attach(self._run(), Path(path), name)
