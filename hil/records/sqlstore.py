"""The SQL record stores' shared logic: ``SqlRecordStore`` implements every ``RecordStore``
method once, in portable SQL with ``?`` placeholders, for ``SqliteStore`` and ``PostgresStore``.

A backend supplies the connection, the transaction and the few dialect facts (how to lock a run
row, how to find the schema version, where attachment bytes live); its migrations run the DDL
of the tables defined once in ``hil.records.schema``. The work is split by concern, and this
module composes it:

- ``hil.records.sqldb``: the connection, transactions and savepoints, error translation, and
  ``SqlAccess`` (``store.sql()``), how other components keep their own tables in the same
  database and join a record write to their own transaction;
- ``hil.records.sqlruns``: the ``runs`` and ``events`` tables, the hash-chained append path;
- ``hil.records.sqlpeople``: the ``people`` table and the authentication log;
- ``hil.records.sqlobjects``: attachment content, staged and hashed before its transaction.

This module owns opening (the records schema upgrade, recovery of runs a dead bench process
left open), the backend hooks for attachments, and ``attach``. The names above are re-exported
here, so ``from hil.records.sqlstore import SqlAccess, SqlRecordStore, ...`` keeps working.
"""

from __future__ import annotations

import contextlib
import os
import socket
from abc import abstractmethod
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

from hil.core.timestamps import utc_now
from hil.records.checkpoint import write_checkpoint
from hil.records.errors import RecordError, StorageError
from hil.records.people import Kdf
from hil.records.schema import Dialect
from hil.records.sqldb import Migration, SqlAccess, SqlDatabase, SqlTransaction
from hil.records.sqlobjects import StagedObject, write_object
from hil.records.sqlpeople import SqlPeople
from hil.records.sqlruns import AFTER_END_KINDS, SqlRuns, new_run_id, pid_alive
from hil.records.store import Event, RecordStore, RunInfo
from hil.records.trust import Trust

__all__ = [
    "AFTER_END_KINDS",
    "Dialect",
    "Migration",
    "SqlAccess",
    "SqlPeople",
    "SqlRecordStore",
    "SqlTransaction",
    "StagedObject",
    "new_run_id",
    "pid_alive",
    "write_object",
]


class SqlRecordStore(SqlDatabase, RecordStore):
    """``RecordStore`` over SQL: the shared logic. Subclasses implement the connection hooks of
    ``SqlDatabase`` and the hooks below.

    All use of the one connection is serialized by a lock, so a store may be shared by the
    threads of one process (the GUI and its card runner); separate processes and hosts each
    open their own store and the database serializes their appends.
    """

    MIGRATIONS: ClassVar[tuple[Migration, ...]]
    """Migration ``i`` brings the schema from version ``i`` to ``i + 1``. Append, never edit."""

    def __init__(self, *, readonly: bool, kdf: Kdf | None, trust: Trust | None = None) -> None:
        super().__init__(readonly=readonly)
        self._kdf = kdf
        self._trust_given = trust
        self._people: SqlPeople | None = None
        self._runs = SqlRuns(self)
        self._checkpoint_due: tuple[str, Any] | None = None

    # -- backend hooks -----------------------------------------------------------------------

    @abstractmethod
    def _read_schema_version(self) -> int:
        """The records schema version (0 when there is no schema yet)."""

    @abstractmethod
    def _stage_object(self, source: Path) -> StagedObject:
        """Read and hash an attachment before its transaction (a file store writes it here)."""

    @abstractmethod
    def _index_object(self, tx: SqlTransaction, staged: StagedObject) -> None:
        """Record the attachment in the ``attachments`` table, inside the append transaction."""

    # -- opening -----------------------------------------------------------------------------

    def open(self) -> Self:
        with self._lock:
            if self._is_open:
                return self
            self._connect()
            try:
                with self._guard("open"):
                    if not self.readonly:
                        self._migrate()
                    version = self._read_schema_version()
                if version == 0 and self.readonly:
                    raise StorageError(
                        f"records database {self.location}: no records schema "
                        "(nothing recorded here yet)"
                    )
                if version != len(self.MIGRATIONS):
                    raise StorageError(
                        f"records database {self.location}: schema version {version}, this hil "
                        f"reads {len(self.MIGRATIONS)}"
                        + ("; open it writable to upgrade" if self.readonly else "")
                    )
            except BaseException:
                self._disconnect()
                raise
            self.trust = self._trust_given or Trust.from_env()
            self._people = self._make_people()
        if not self.readonly:
            self._recover_interrupted()
        return self

    def _make_people(self) -> SqlPeople:
        return SqlPeople(self, self._kdf, self.trust)

    @property
    def trust(self) -> Trust:
        return self._trust

    @trust.setter
    def trust(self, trust: Trust) -> None:
        self._trust = trust
        if self._people is not None:
            self._people.trust = trust

    def close(self) -> None:
        with self._lock:
            self._disconnect()

    @property
    def people(self) -> SqlPeople:
        if self._people is None:
            raise StorageError(f"records database {self.location}: not open")
        return self._people

    def _migrate(self) -> None:
        if self._read_schema_version() == len(self.MIGRATIONS):
            return  # up to date: nothing to write (a bench role need not create tables)
        with self._write("upgrade schema", check_readonly=False) as tx:
            self._lock_migrations(tx)
            tx.execute(
                "CREATE TABLE IF NOT EXISTS schema_version "
                "(version INTEGER PRIMARY KEY, applied_utc TEXT NOT NULL)"
            )
            (row,) = tx.query("SELECT MAX(version) FROM schema_version")
            version = int(row[0] or 0)
            if version > len(self.MIGRATIONS):
                raise StorageError(
                    f"records database {self.location}: schema version {version} is newer than "
                    f"this hil ({len(self.MIGRATIONS)}); upgrade hil"
                )
            for target, migration in enumerate(self.MIGRATIONS[version:], start=version + 1):
                migration(tx)
                tx.execute("INSERT INTO schema_version VALUES (?, ?)", (target, utc_now()))

    def _recover_interrupted(self) -> None:
        host = socket.gethostname()
        for run_id, pid in self._runs.abandoned():
            # (RecordError: another process on this host recovered it first)
            with contextlib.suppress(RecordError):
                self.mark_interrupted(
                    run_id, f"bench process {pid} on {host} ended without finishing the run"
                )

    # -- runs and events (SqlRuns) -----------------------------------------------------------

    def create_run(self, meta: Mapping[str, Any]) -> str:
        return self._runs.create(meta)

    def append(self, run_id: str, kind: str, payload: Mapping[str, Any]) -> Event:
        return self.append_many(run_id, [(kind, payload)])[0]

    def append_many(
        self, run_id: str, items: Iterable[tuple[str, Mapping[str, Any]]]
    ) -> list[Event]:
        items = list(items)
        if not items:
            return []
        return self._runs.append(run_id, items)

    def events(self, run_id: str) -> list[Event]:
        return self._runs.events(run_id)

    def head(self, run_id: str) -> Event | None:
        return self._runs.head(run_id)

    def run(self, run_id: str) -> RunInfo:
        return self._runs.run(run_id)

    def runs(self) -> list[RunInfo]:
        return self._runs.runs()

    def heads(self) -> dict[str, tuple[int, str]]:
        return self._runs.heads()

    # -- run ends and checkpoints (hil.records.checkpoint) -----------------------------------

    def finish(self, run_id: str, outcome: str, **details: Any) -> Event:
        event = super().finish(run_id, outcome, **details)
        self.checkpoint(f"run {event.run_id} finished {outcome}")
        return event

    def mark_interrupted(self, run_id: str, reason: str) -> Event:
        event = super().mark_interrupted(run_id, reason)
        self.checkpoint(f"run {event.run_id} interrupted")
        return event

    def checkpoint(self, reason: str, signer: Any = None) -> list[Path]:
        """Written at once, or, inside a transaction still open on this thread, when it
        commits (a checkpoint names only what is durable; a rolled-back one writes none)."""
        if not self.trust.witnesses or self.readonly:
            return []
        with self._lock:
            if self._open_tx is not None:
                if signer is not None or self._checkpoint_due is None:
                    self._checkpoint_due = (reason, signer)
                self._after_commit = self._write_due_checkpoint
                return []
        return write_checkpoint(self, reason, signer)

    def _write_due_checkpoint(self, committed: bool) -> None:
        due, self._checkpoint_due = self._checkpoint_due, None
        if committed and due is not None:
            write_checkpoint(self, *due)

    # -- attachments -------------------------------------------------------------------------

    def attach(self, run_id: str, path: str | os.PathLike[str], name: str | None = None) -> str:
        source = Path(path)
        run_id = self._runs.resolve(run_id)
        with self._guard(f"store attachment {source.name}"):
            staged = self._stage_object(source)
        with self._write(f"attach {source.name} to run {run_id}") as tx:
            self._index_object(tx, staged)
            self._runs.append_in(
                tx,
                run_id,
                [
                    (
                        "attachment",
                        {
                            "name": name or source.name,
                            "sha256": staged.sha256,
                            "size": staged.size_bytes,
                        },
                    )
                ],
            )
        return staged.sha256
