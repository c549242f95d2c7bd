"""The record store interface: runs, their append-only hash-chained events, and attachments.

``RecordStore`` is what the runner, sign-off, verification, export and the CLI talk to;
``SqliteStore`` (``hil.records.sqlite``) is the embedded implementation, ``PostgresStore``
(``hil.records.postgres``) the fleet one, both over ``hil.records.sqlstore``;
``hil.records.backends.open_store`` picks one by URL. Any implementation keeps payloads as the
exact canonical text (not a JSON column type that reorders keys), appends in one transaction
that reads the head and inserts, and makes each append durable before it returns.

Event kinds written by the bench: ``run_started`` (always seq 1), ``attempt_started``,
``attempt``, ``teardown``, ``attachment``, ``signature``, ``correction``, ``redline``,
``auth_failed``, ``run_finished``, ``run_interrupted``.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from hil.records.people import PeopleStore
from hil.records.trust import Trust

RUN_STATUSES = ("open", "finished", "interrupted")


@dataclass(frozen=True)
class Event:
    """One appended event. ``payload_json`` is the canonical text the hash covers."""

    run_id: str
    seq: int
    """1 for ``run_started``, then consecutive."""
    kind: str
    utc: str
    payload_json: str
    prev_hash: str
    hash: str

    @property
    def payload(self) -> dict[str, Any]:
        import json

        value = json.loads(self.payload_json)
        return value if isinstance(value, dict) else {"value": value}

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "seq": self.seq,
            "kind": self.kind,
            "utc": self.utc,
            "payload": self.payload,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True)
class RunInfo:
    """What the runs list shows about one run (derived from its events; the chain is the truth)."""

    run_id: str
    created_utc: str
    card_number: str
    revision: str
    title: str
    lander: str
    operator_id: str
    status: str
    """``open`` (being written), ``finished`` or ``interrupted`` (the bench process died)."""
    outcome: str | None
    event_count: int
    head_hash: str
    finished_utc: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


class RecordStore(ABC):
    """Runs, events and attachments behind one interface. Use as a context manager.

    Every method raises ``StorageError`` when the backing store cannot be read or written (the
    failed write is rolled back; nothing already appended is lost) and ``UnknownRecord`` for a
    run id that does not exist.
    """

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def location(self) -> str:
        """Where the records are, as messages name it (a path, or a URL without password)."""
        return type(self).__name__

    @abstractmethod
    def open(self) -> Self:
        """Open (creating and migrating when writable); runs left open by a dead bench process
        are marked interrupted. Returns ``self``."""

    @abstractmethod
    def close(self) -> None:
        """Close; safe to call twice."""

    @property
    @abstractmethod
    def people(self) -> PeopleStore:
        """The identity registry kept with these records."""

    _trust: Trust = Trust()

    @property
    def trust(self) -> Trust:
        """The trust file signers and checkpoints are checked against (none: nothing trusted)."""
        return self._trust

    @trust.setter
    def trust(self, trust: Trust) -> None:
        self._trust = trust

    def heads(self) -> dict[str, tuple[int, str]]:
        """Every run's last stored event as ``(seq, hash)``, read from the events themselves."""
        heads = {}
        for info in self.runs():
            event = self.head(info.run_id)
            if event is not None:
                heads[info.run_id] = (event.seq, event.hash)
        return heads

    def checkpoint(self, reason: str, signer: Any = None) -> list[Path]:
        """Sign a checkpoint of the whole store and write it to the trust file's witnesses
        (``hil.records.checkpoint``); ``signer`` is ``(person id, opened key)``, None for the
        bench key. Returns the files written (none where this store keeps no checkpoints)."""
        return []

    @abstractmethod
    def create_run(self, meta: Mapping[str, Any]) -> str:
        """Start a run; ``meta`` (card, lander, operator_id, bench, software) becomes the payload
        of its ``run_started`` event. Returns the new run id."""

    @abstractmethod
    def append(self, run_id: str, kind: str, payload: Mapping[str, Any]) -> Event:
        """Append one event, durable before this returns. Raises ``RecordError`` when the run is
        already finished or interrupted."""

    @abstractmethod
    def append_many(
        self, run_id: str, items: Iterable[tuple[str, Mapping[str, Any]]]
    ) -> list[Event]:
        """Append several events in one transaction (all or none), durable before returning."""

    @abstractmethod
    def events(self, run_id: str) -> list[Event]:
        """Every event of the run in stored ``seq`` order (as stored: verify checks it)."""

    @abstractmethod
    def head(self, run_id: str) -> Event | None:
        """The last event of the run (None for a run with no events)."""

    @abstractmethod
    def run(self, run_id: str) -> RunInfo:
        """One run, by id or unique id prefix."""

    @abstractmethod
    def runs(self) -> list[RunInfo]:
        """Every run, oldest first."""

    @abstractmethod
    def attach(self, run_id: str, path: str | os.PathLike[str], name: str | None = None) -> str:
        """Store a file (bus log, plot, evidence) by content and append an ``attachment`` event
        naming it. Returns its SHA-256 (hex). Raises ``StorageError`` if it cannot be read."""

    @abstractmethod
    def attachment_path(self, sha256: str) -> Path | None:
        """Where the stored content with that hash is, or None if it is missing."""

    def mark_interrupted(self, run_id: str, reason: str) -> Event:
        """Append ``run_interrupted`` with ``reason``: the run will take no more events."""
        return self.append(run_id, "run_interrupted", {"reason": reason})

    def finish(self, run_id: str, outcome: str, **details: Any) -> Event:
        """Append ``run_finished`` with the run's ``outcome``: no more step events after it
        (signatures, corrections and redlines still can be appended)."""
        return self.append(run_id, "run_finished", {"outcome": outcome, **details})
