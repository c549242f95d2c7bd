"""The run/event append path of the SQL record stores: the ``runs`` and ``events`` tables.

``SqlRuns`` owns every statement on those two tables, the same on both back ends:

- ``create`` inserts a run row (its owner host and process) and its ``run_started`` event;
- ``append_in`` reads the run's head, locked against other writers (``RUN_LOCK_SUFFIX``),
  chains the next events onto it (``hil.records.canonical.event_hash``) and moves the head, in
  the caller's transaction, so every append is all or nothing;
- a finished or interrupted run takes only the kinds in ``AFTER_END_KINDS``;
- the reads resolve a run id or a unique prefix of one, and show an open run whose bench
  process has died on this host as ``interrupted``.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from hil.core.timestamps import utc_now
from hil.records.canonical import GENESIS_HASH, canonical_json, event_hash
from hil.records.errors import RecordError, UnknownRecord
from hil.records.runindex import AFTER_END_KINDS
from hil.records.sqldb import SqlDatabase, SqlTransaction
from hil.records.store import Event, RunInfo


def pid_alive(pid: int) -> bool:
    """True when a process with that id exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def new_run_id() -> str:
    """``20250605T103102Z-3f9a1c2e``: sortable by start time, unique by 32 random bits."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{uuid.uuid4().hex[:8]}"


class SqlRuns:
    """The runs and their hash-chained events in ``db`` (see the module docstring)."""

    _RUN_COLUMNS = (
        "run_id, created_utc, card_number, revision, title, lander, operator_id, status, "
        "outcome, head_seq, head_hash, finished_utc, owner_host, owner_pid"
    )

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    # -- writes ------------------------------------------------------------------------------

    def create(self, meta: Mapping[str, Any]) -> str:
        """A new run with its ``run_started`` event (payload ``meta``); returns its id."""
        card = meta.get("card") or {}
        if not isinstance(card, Mapping):
            raise RecordError("run meta: 'card' must be a table")
        run_id = new_run_id()
        created_utc = utc_now()  # the run_started event's time too: the index says the same
        with self._db._write(f"create run for card {card.get('number', '?')}") as tx:
            tx.execute(
                "INSERT INTO runs (run_id, created_utc, card_number, revision, title, lander, "
                "operator_id, status, outcome, finished_utc, owner_host, owner_pid, head_seq, "
                "head_hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    run_id,
                    created_utc,
                    str(card.get("number", "")),
                    str(card.get("revision", "")),
                    str(card.get("title", "")),
                    str(meta.get("lander", "")),
                    str(meta.get("operator_id", "")),
                    "open",
                    None,
                    None,
                    socket.gethostname(),
                    os.getpid(),
                    0,
                    GENESIS_HASH,
                ),
            )
            self.append_in(tx, run_id, [("run_started", meta)], utc=created_utc)
        return run_id

    def append(self, run_id: str, items: list[tuple[str, Mapping[str, Any]]]) -> list[Event]:
        """``items`` (at least one) appended in one transaction of their own."""
        with self._db._write(f"append {items[0][0]} to run {run_id}") as tx:
            return self.append_in(tx, run_id, items)

    def append_in(
        self,
        tx: SqlTransaction,
        run_id: str,
        items: list[tuple[str, Mapping[str, Any]]],
        *,
        utc: str | None = None,
    ) -> list[Event]:
        """Read the run's head (locked against other writers) and insert after it (``utc``:
        the events' time, else now)."""
        rows = tx.query(
            "SELECT status, head_seq, head_hash, outcome, finished_utc FROM runs "
            "WHERE run_id = ?" + self._db.RUN_LOCK_SUFFIX,
            (run_id,),
        )
        if not rows:
            raise UnknownRecord(f"run {run_id!r}: not in {self._db.location}")
        status, seq, head, outcome, finished_utc = rows[0]
        events = []
        for kind, payload in items:
            if status != "open" and kind not in AFTER_END_KINDS:
                raise RecordError(f"run {run_id}: is {status}; cannot append '{kind}'")
            try:
                payload_json = canonical_json(dict(payload))
            except (TypeError, ValueError) as err:
                raise RecordError(f"run {run_id}: '{kind}' payload is not JSON: {err}") from None
            seq += 1
            stamp = utc or utc_now()
            digest = event_hash(run_id, seq, kind, stamp, head, payload_json)
            tx.execute(
                "INSERT INTO events (run_id, seq, kind, utc, payload, prev_hash, hash) "
                "VALUES (?,?,?,?,?,?,?)",
                (run_id, seq, kind, stamp, payload_json, head, digest),
            )
            events.append(Event(run_id, seq, kind, stamp, payload_json, head, digest))
            head = digest
            if kind == "run_finished":
                status, outcome, finished_utc = "finished", str(payload.get("outcome")), stamp
            elif kind == "run_interrupted":
                status, finished_utc = "interrupted", stamp
        tx.execute(
            "UPDATE runs SET status=?, outcome=?, finished_utc=?, head_seq=?, head_hash=? "
            "WHERE run_id=?",
            (status, outcome, finished_utc, seq, head, run_id),
        )
        return events

    # -- reads -------------------------------------------------------------------------------

    def resolve(self, run_id: str) -> str:
        """The full id of the run ``run_id`` names (itself, or a unique prefix of one)."""
        rows = self._db._query(
            "SELECT run_id FROM runs WHERE run_id = ? OR run_id LIKE ? ESCAPE '\\' LIMIT 3",
            (run_id, run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"),
        )
        ids = [r[0] for r in rows]
        if run_id in ids:
            return run_id
        if not ids:
            raise UnknownRecord(f"run {run_id!r}: not in {self._db.location}")
        if len(ids) > 1:
            raise UnknownRecord(f"run {run_id!r}: ambiguous ({', '.join(ids[:2])}, ...)")
        return str(ids[0])

    def events(self, run_id: str) -> list[Event]:
        run_id = self.resolve(run_id)
        rows = self._db._query(
            "SELECT run_id, seq, kind, utc, payload, prev_hash, hash FROM events "
            "WHERE run_id = ? ORDER BY seq",
            (run_id,),
        )
        return [Event(*row) for row in rows]

    def head(self, run_id: str) -> Event | None:
        run_id = self.resolve(run_id)
        rows = self._db._query(
            "SELECT run_id, seq, kind, utc, payload, prev_hash, hash FROM events "
            "WHERE run_id = ? ORDER BY seq DESC LIMIT 1",
            (run_id,),
        )
        return Event(*rows[0]) if rows else None

    def heads(self) -> dict[str, tuple[int, str]]:
        """Every run's last stored event, ``run_id -> (seq, hash)``, from the events table."""
        rows = self._db._query(
            "SELECT e.run_id, e.seq, e.hash FROM events e JOIN "
            "(SELECT run_id, MAX(seq) AS last FROM events GROUP BY run_id) h "
            "ON e.run_id = h.run_id AND e.seq = h.last"
        )
        return {str(run_id): (int(seq), str(digest)) for run_id, seq, digest in rows}

    @staticmethod
    def _run_info(row: tuple[Any, ...]) -> RunInfo:
        *fields, host, pid = row
        info = RunInfo(*fields)
        if info.status == "open" and host == socket.gethostname() and not pid_alive(pid):
            info = RunInfo(**{**info.to_dict(), "status": "interrupted"})
        return info

    def run(self, run_id: str) -> RunInfo:
        run_id = self.resolve(run_id)
        rows = self._db._query(f"SELECT {self._RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,))
        return self._run_info(rows[0])

    def runs(self) -> list[RunInfo]:
        rows = self._db._query(f"SELECT {self._RUN_COLUMNS} FROM runs ORDER BY created_utc, run_id")
        return [self._run_info(row) for row in rows]

    def abandoned(self) -> list[tuple[str, int]]:
        """``(run_id, pid)`` of the open runs of this host whose bench process has ended."""
        rows = self._db._query(
            "SELECT run_id, owner_pid FROM runs WHERE status = 'open' AND owner_host = ?",
            (socket.gethostname(),),
        )
        return [(run_id, pid) for run_id, pid in rows if pid != os.getpid() and not pid_alive(pid)]
