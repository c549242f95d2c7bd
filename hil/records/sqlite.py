"""The embedded record store: one SQLite database (WAL, ``synchronous=FULL``) in a data folder.

Layout of the data directory::

    records.sqlite3          runs, events, attachment index, people, authentication log
    objects/ab/abcdef...     attachment contents, named by SHA-256, written before their event

Every append is one ``BEGIN IMMEDIATE`` transaction that reads the run's head and inserts the
next event; it is on disk (WAL fsync) before ``append`` returns. Triggers refuse UPDATE, DELETE
and REPLACE on events, attachments and the authentication log, and any change of the run index
that its events do not say (``hil.records.guards``), so only someone dropping them can change
the records, and ``verify`` finds that. The schema is versioned (``schema_version``) and
upgraded on a writable open by the ordered functions in ``MIGRATIONS``, built from the tables
in ``hil.records.schema``. The run, event and people logic is shared with the PostgreSQL store
in ``hil.records.sqlstore``; this module owns the SQLite connection, transactions and attachment
files.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from hil.core.timestamps import utc_now
from hil.records.canonical import file_sha256
from hil.records.errors import StorageError
from hil.records.people import Kdf
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
    through ``people``.
    """

    dialect: ClassVar[Dialect] = "sqlite"
    MIGRATIONS: ClassVar[tuple[Migration, ...]] = MIGRATIONS

    def __init__(
        self, data_dir: str | os.PathLike[str], *, readonly: bool = False, kdf: Kdf | None = None
    ) -> None:
        super().__init__(readonly=readonly, kdf=kdf)
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / DB_NAME
        self.objects_dir = self.data_dir / "objects"
        self._db: sqlite3.Connection | None = None

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
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None

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
        text = str(err)
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
        return SqlitePeople(self, self._kdf)

    @property
    def people(self) -> SqlitePeople:
        people = super().people
        assert isinstance(people, SqlitePeople)
        return people

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
