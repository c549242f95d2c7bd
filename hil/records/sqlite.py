"""The embedded record store: one SQLite database (WAL, ``synchronous=FULL``) in a data folder.

Layout of the data directory::

    records.sqlite3          runs, events, attachment index, people, authentication log
    objects/ab/abcdef...     attachment contents, named by SHA-256, written before their event
    open-runs/RUN_ID.json    one per run not yet ended: who started it, when (outside the
                             database, so a run the database lost is still named)

Every append is one ``BEGIN IMMEDIATE`` transaction that reads the run's head and inserts the
next event; it is on disk (WAL fsync) before ``append`` returns. Triggers refuse UPDATE, DELETE
and REPLACE on events, attachments and the authentication log, and any change of the run index
that its events do not say (``hil.records.guards``), so only someone dropping them can change
the records, and ``verify`` finds that. The schema is versioned (``schema_version``) and
upgraded on a writable open by the ordered functions in ``MIGRATIONS``, built from the tables
in ``hil.records.schema``. The run, event and people logic is shared with the PostgreSQL store
in ``hil.records.sqlstore``; this module owns the SQLite connection, transactions and attachment
files.

Damage is contained and named. When a run ends, its record is read back through a new
connection before the end is reported: a database damaged under the bench (a WAL truncated by
someone else, a failing disk) fails the run's end with a ``StorageError`` naming the run, rather
than a PASS whose record cannot be read. A run whose ``open-runs`` marker names it but that the
database does not hold (a WAL lost after a crash) is reported by ``lost_runs``.
``hil.records.recover`` reads a damaged store run by run and salvages what verifies.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from hil.core.timestamps import utc_now
from hil.records.canonical import file_sha256
from hil.records.errors import StorageError
from hil.records.people import Kdf
from hil.records.runindex import END_KINDS
from hil.records.schema import migrations
from hil.records.sqlstore import (
    AFTER_END_KINDS,
    Dialect,
    Migration,
    SqlPeople,
    SqlRecordStore,
    SqlTransaction,
    StagedObject,
    new_run_id,
    pid_alive,
    write_object,
)
from hil.records.store import Event
from hil.records.trust import Trust

__all__ = [
    "AFTER_END_KINDS",
    "DB_NAME",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "SqlitePeople",
    "SqliteStore",
    "new_run_id",
]

DB_NAME = "records.sqlite3"

_pid_alive = pid_alive


MIGRATIONS: tuple[Migration, ...] = migrations("sqlite")
"""Migration ``i`` brings the schema from version ``i`` to ``i + 1`` (``hil.records.schema``)."""

SCHEMA_VERSION = len(MIGRATIONS)


class SqliteStore(SqlRecordStore):
    """Records in ``data_dir/records.sqlite3``; attachments in ``data_dir/objects``.

    ``readonly`` opens without creating, migrating or recovering anything (for list, show,
    verify and export on a read-only medium). ``kdf`` sets the scrypt cost for people added
    through ``people``; ``trust`` is the trust file (default: the one ``$HIL_TRUST`` names).
    """

    dialect: ClassVar[Dialect] = "sqlite"
    MIGRATIONS: ClassVar[tuple[Migration, ...]] = MIGRATIONS

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        readonly: bool = False,
        kdf: Kdf | None = None,
        trust: Trust | None = None,
    ) -> None:
        super().__init__(readonly=readonly, kdf=kdf, trust=trust)
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / DB_NAME
        self.objects_dir = self.data_dir / "objects"
        self.open_runs_dir = self.data_dir / "open-runs"
        self._db: sqlite3.Connection | None = None
        self._damaged = False
        """The WAL was found damaged under us: closing must not checkpoint it."""

    @property
    def location(self) -> str:
        return str(self.path)

    # -- connection --------------------------------------------------------------------------

    def _connect(self) -> None:
        with self._guard("open"):
            if self.readonly:
                if not self.path.exists():
                    raise StorageError(
                        f"records database {self.path}: not found (nothing recorded here yet)"
                    )
                db = sqlite3.connect(
                    f"file:{self.path}?mode=ro",
                    uri=True,
                    isolation_level=None,
                    check_same_thread=False,
                )
            else:
                try:
                    self.data_dir.mkdir(parents=True, exist_ok=True)
                except OSError as err:
                    raise StorageError(
                        f"data directory {self.data_dir}: cannot create ({err.strerror})"
                    ) from err
                db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db = db
            db.execute("PRAGMA busy_timeout = 10000")
            if not self.readonly:
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = FULL")

    def _disconnect(self) -> None:
        if self._db is None:
            return
        guard = None
        if self._damaged:
            # Closing the last connection checkpoints the WAL into the database file, and a
            # damaged WAL would overwrite good pages with its holes (every run unreadable). A
            # read-only reader holding a read transaction makes that checkpoint step aside,
            # and a read-only connection never checkpoints when it closes.
            with contextlib.suppress(sqlite3.Error):
                guard = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
                guard.execute("BEGIN")
                guard.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        self._db = None
        if guard is not None:
            guard.close()

    @property
    def _is_open(self) -> bool:
        return self._db is not None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise StorageError(f"records database {self.path}: not open")
        return self._db

    def _run_read(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return list(self._conn().execute(sql, args).fetchall())

    def _execute(self, sql: str, args: tuple[Any, ...] | None) -> sqlite3.Cursor:
        db = self._conn()
        if args is not None:
            return db.execute(sql, args)
        return _execute_script(db, sql)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[SqlTransaction]:
        """One IMMEDIATE transaction (the database's write lock, waiting up to 10 s for it)."""
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield SqlTransaction(self.dialect, self._execute)
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise

    def _translate_error(self, err: BaseException, action: str) -> StorageError | None:
        if not isinstance(err, sqlite3.Error):
            return None
        text = str(err).splitlines()[0] if str(err) else type(err).__name__
        if len(text) > 160:  # (a damaged row's text can be quoted whole)
            text = text[:160] + "..."
        if "readonly" in text or "read-only" in text:
            text += f" (is the data directory {self.data_dir} writable?)"
        return StorageError(f"records database {self.path}: {action}: {text}")

    def _table_exists(self, name: str) -> bool:
        return bool(
            self._conn()
            .execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,))
            .fetchone()
        )

    def _read_schema_version(self) -> int:
        db = self._conn()
        if not self._table_exists("schema_version"):
            return 0
        row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def _make_people(self) -> SqlitePeople:
        return SqlitePeople(self, self._kdf, self.trust)

    @property
    def people(self) -> SqlitePeople:
        people = super().people
        assert isinstance(people, SqlitePeople)
        return people

    # -- runs: a marker outside the database, and the end read back ---------------------------

    def create_run(self, meta: Mapping[str, Any]) -> str:
        run_id = super().create_run(meta)
        if self._open_tx is None:  # (inside another transaction the run may yet roll back)
            card = meta.get("card") or {}
            self._write_marker(
                run_id,
                {
                    "run_id": run_id,
                    "card": str(card.get("number", "")) if isinstance(card, Mapping) else "",
                    "lander": str(meta.get("lander", "")),
                    "operator_id": str(meta.get("operator_id", "")),
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                    "started_utc": utc_now(),
                },
            )
        return run_id

    def append_many(
        self, run_id: str, items: Iterable[tuple[str, Mapping[str, Any]]]
    ) -> list[Event]:
        events = super().append_many(run_id, items)
        if events and self._open_tx is None and any(e.kind in END_KINDS for e in events):
            self._read_back(events[-1])
            with contextlib.suppress(FileNotFoundError):
                (self.open_runs_dir / f"{events[-1].run_id}.json").unlink()
        return events

    def _write_marker(self, run_id: str, marker: dict[str, Any]) -> None:
        text = json.dumps(marker, sort_keys=True).encode("utf-8")
        try:
            write_object(self.open_runs_dir / f"{run_id}.json", lambda dst: dst.write(text))
        except OSError as err:
            raise StorageError(
                f"records folder {self.open_runs_dir}: run {run_id}: cannot write its open-run "
                f"marker ({err.strerror})"
            ) from err

    def _read_back(self, head: Event) -> None:
        """Read the run's record through a new connection: it must end at ``head``. Raises
        ``StorageError`` naming the run when the database no longer holds what was written."""
        what = f"records database {self.path}: run {head.run_id}"
        damage = wal_damage(self.path.with_name(DB_NAME + "-wal"))
        if damage:
            self._damaged = True
            raise StorageError(
                f"{what}: the write-ahead log was damaged under this bench ({damage}); the run "
                "is NOT recorded as it ran (hil records recover salvages what verifies)"
            )
        try:
            with contextlib.closing(
                sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            ) as db:
                rows = db.execute(
                    "SELECT seq, hash FROM events WHERE run_id = ? ORDER BY seq", (head.run_id,)
                ).fetchall()
        except sqlite3.Error as err:
            raise StorageError(
                f"{what}: its record does not read back after event {head.seq} ({err}); the "
                "database was damaged under this bench: the run is NOT recorded as it ran "
                "(hil records recover salvages what verifies)"
            ) from err
        if len(rows) != head.seq or rows[-1] != (head.seq, head.hash):
            raise StorageError(
                f"{what}: the database holds {len(rows)} of its {head.seq} events; it was "
                "damaged under this bench: the run is NOT recorded as it ran"
            )

    def lost_runs(self) -> list[str]:
        """Runs an ``open-runs`` marker names that the database does not hold (lost with a
        WAL, say), one line each; markers of runs that have ended are cleared."""
        lost: list[str] = []
        if not self.open_runs_dir.is_dir():
            return lost
        for path in sorted(self.open_runs_dir.glob("*.json")):
            run_id = path.stem
            rows = self._query("SELECT status FROM runs WHERE run_id = ?", (run_id,))
            if rows:
                if rows[0][0] != "open" and not self.readonly:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                continue
            try:
                marker = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                marker = {}
            lost.append(
                f"run {run_id}: LOST: started {marker.get('started_utc', '?')} (card "
                f"{marker.get('card', '?')}, lander {marker.get('lander', '?')}, operator "
                f"{marker.get('operator_id', '?')}, process {marker.get('pid', '?')} on "
                f"{marker.get('host', '?')}) but the database holds no record of it"
            )
        return lost

    # -- attachments -------------------------------------------------------------------------

    def _stage_object(self, source: Path) -> StagedObject:
        """Hash the file and copy it into ``objects/`` (fsynced) before its event is written."""
        try:
            digest = file_sha256(str(source))
            size = source.stat().st_size
        except OSError as err:
            raise StorageError(f"attachment {source}: cannot read ({err.strerror})") from err
        target = self._object_path(digest)
        if not target.exists():

            def copy(dst: Any) -> None:
                with open(source, "rb") as src:
                    while block := src.read(1 << 20):
                        dst.write(block)

            write_object(target, copy)
        return StagedObject(digest, size, None)

    def _index_object(self, tx: SqlTransaction, staged: StagedObject) -> None:
        # (the guards refuse an insert over an existing row, ON CONFLICT DO NOTHING included;
        # the IMMEDIATE transaction holds the write lock, so nobody inserts in between)
        if tx.query("SELECT 1 FROM attachments WHERE sha256 = ?", (staged.sha256,)):
            return
        tx.execute(
            "INSERT INTO attachments (sha256, size_bytes, stored_utc) VALUES (?,?,?)",
            (staged.sha256, staged.size_bytes, utc_now()),
        )

    def _object_path(self, digest: str) -> Path:
        return self.objects_dir / digest[:2] / digest

    def attachment_path(self, sha256: str) -> Path | None:
        path = self._object_path(sha256)
        return path if path.is_file() else None


_WAL_MAGIC = (0x377F0682, 0x377F0683)
_WAL_HEADER_BYTES = 32
_FRAME_HEADER_BYTES = 24


def wal_damage(wal: Path) -> str:
    """Why the WAL file ``wal`` cannot be what its writer wrote ("" when nothing shows): its
    header overwritten or cut off (truncated under a running writer), or a hole in its frames
    (a frame of the current log after frames that are not: the file was cut short and written
    on). Frames of an earlier log left behind a restarted one are not damage."""
    try:
        with open(wal, "rb") as stream:
            data = stream.read()
    except FileNotFoundError:
        return ""
    except OSError as err:
        return f"{wal.name}: cannot read ({err.strerror})"
    if not data:
        return ""
    if len(data) < _WAL_HEADER_BYTES or int.from_bytes(data[:4], "big") not in _WAL_MAGIC:
        return f"{wal.name}: its header is gone (truncated or overwritten)"
    page_bytes = int.from_bytes(data[8:12], "big")
    salts = data[16:24]
    frame_bytes = _FRAME_HEADER_BYTES + page_bytes
    current = True
    for number, offset in enumerate(range(_WAL_HEADER_BYTES, len(data), frame_bytes), start=1):
        same_log = data[offset + 8 : offset + 16] == salts
        if current and not same_log:
            current = False
        elif not current and same_log:
            return f"{wal.name}: frame {number} of the log follows a hole (cut short, written on)"
    return ""


def _execute_script(db: sqlite3.Connection, script: str) -> sqlite3.Cursor:
    """Run ``script`` statement by statement (``executescript`` would commit the migration's
    transaction half way); returns the last statement's cursor."""
    cursor = db.cursor()
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            cursor = db.execute(statement)
            statement = ""
    if statement.strip():
        cursor = db.execute(statement)
    return cursor


class SqlitePeople(SqlPeople):
    """People in the same database as the records they sign."""
