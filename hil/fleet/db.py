"""The fleet's one connection layer, and its versioned schema.

Every SQL statement of ``hil.fleet`` goes through ``FleetDb``: ``query`` (rows as tuples),
``execute`` (affected row count) and ``transaction`` (all or none; nested calls join the outer
one). The SQL is portable between SQLite and PostgreSQL: TEXT, INTEGER and DOUBLE PRECISION
columns, explicit text ids (no AUTOINCREMENT), ISO 8601 UTC text timestamps, JSON as TEXT and
``?`` placeholders; read-then-write races are closed by guarded UPDATEs (``WHERE`` the old
value), not by SQLite's database lock alone.

``FleetDb`` runs over any ``SqlHandle``: ``query(sql, args)`` and ``transaction(action)``
yielding an object with ``execute``/``query`` — the shape of the records stores'
``store.sql()``. ``FleetDb.for_store`` uses ``SqliteHandle``, its own connection to the
``SqliteStore``'s database file (the fleet tables live next to the records); switching to the
store's handle is ``FleetDb(store.sql(), where)``.

The fleet schema is versioned in ``fleet_schema_version`` and upgraded on open by the ordered
statement lists in ``MIGRATIONS`` (append, never edit).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from hil.records.errors import StorageError
from hil.records.store import RecordStore, utc_now

_V1 = (
    """CREATE TABLE fleet_landers (
        serial TEXT PRIMARY KEY,
        model TEXT NOT NULL,
        configuration TEXT NOT NULL,
        status TEXT NOT NULL,
        in_service TEXT NOT NULL,
        descents INTEGER NOT NULL,
        engine_starts INTEGER NOT NULL,
        burn_s DOUBLE PRECISION NOT NULL,
        powered_h DOUBLE PRECISION NOT NULL,
        created_utc TEXT NOT NULL,
        updated_utc TEXT NOT NULL
    )""",
    """CREATE TABLE fleet_counter_log (
        lander TEXT NOT NULL,
        seq INTEGER NOT NULL,
        utc TEXT NOT NULL,
        source TEXT NOT NULL,
        descents INTEGER NOT NULL,
        engine_starts INTEGER NOT NULL,
        burn_s DOUBLE PRECISION NOT NULL,
        powered_h DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (lander, seq)
    )""",
    """CREATE TABLE fleet_usage (
        usage_id TEXT PRIMARY KEY,
        lander TEXT NOT NULL,
        source TEXT NOT NULL,
        kind TEXT NOT NULL,
        logged_utc TEXT NOT NULL,
        descents INTEGER NOT NULL,
        engine_starts INTEGER NOT NULL,
        burn_s DOUBLE PRECISION NOT NULL,
        powered_h DOUBLE PRECISION NOT NULL
    )""",
    """CREATE TABLE fleet_parts (
        part_number TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        life_limits TEXT NOT NULL
    )""",
    """CREATE TABLE fleet_components (
        serial TEXT PRIMARY KEY,
        part_number TEXT NOT NULL,
        name TEXT NOT NULL,
        lander TEXT,
        parent TEXT,
        position TEXT,
        descents INTEGER NOT NULL,
        engine_starts INTEGER NOT NULL,
        burn_s DOUBLE PRECISION NOT NULL,
        powered_h DOUBLE PRECISION NOT NULL,
        life_limits TEXT NOT NULL,
        manufactured TEXT,
        created_utc TEXT NOT NULL
    )""",
    """CREATE TABLE fleet_component_history (
        serial TEXT NOT NULL,
        seq INTEGER NOT NULL,
        utc TEXT NOT NULL,
        action TEXT NOT NULL,
        lander TEXT,
        parent TEXT,
        position TEXT,
        reason TEXT NOT NULL,
        since_new TEXT NOT NULL,
        PRIMARY KEY (serial, seq)
    )""",
    """CREATE TABLE fleet_tasks (
        card_number TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        models TEXT NOT NULL,
        configurations TEXT NOT NULL,
        threshold TEXT NOT NULL,
        repeat TEXT NOT NULL,
        program TEXT NOT NULL,
        updated_utc TEXT NOT NULL
    )""",
    """CREATE TABLE fleet_due_items (
        lander TEXT NOT NULL,
        card_number TEXT NOT NULL,
        created_utc TEXT NOT NULL,
        last_done_utc TEXT,
        last_run_id TEXT,
        last_descents INTEGER,
        last_engine_starts INTEGER,
        last_burn_s DOUBLE PRECISION,
        last_powered_h DOUBLE PRECISION,
        PRIMARY KEY (lander, card_number)
    )""",
    """CREATE TABLE fleet_defects (
        defect_id TEXT PRIMARY KEY,
        lander TEXT NOT NULL,
        component TEXT,
        description TEXT NOT NULL,
        discovered_utc TEXT NOT NULL,
        reported_by TEXT NOT NULL,
        status TEXT NOT NULL,
        closed_utc TEXT,
        closure TEXT
    )""",
    """CREATE TABLE fleet_deferrals (
        deferral_id TEXT PRIMARY KEY,
        defect_id TEXT NOT NULL,
        category TEXT NOT NULL,
        reason TEXT NOT NULL,
        deferred_utc TEXT NOT NULL,
        deferred_by TEXT NOT NULL,
        limit_days INTEGER NOT NULL,
        limit_descents INTEGER,
        descents_at_deferral INTEGER NOT NULL,
        limit_date TEXT NOT NULL
    )""",
    """CREATE TABLE fleet_packages (
        package_id TEXT PRIMARY KEY,
        lander TEXT NOT NULL,
        title TEXT NOT NULL,
        created_utc TEXT NOT NULL,
        status TEXT NOT NULL,
        closed_utc TEXT
    )""",
    """CREATE TABLE fleet_package_items (
        package_id TEXT NOT NULL,
        item TEXT NOT NULL,
        kind TEXT NOT NULL,
        PRIMARY KEY (package_id, item)
    )""",
    """CREATE TABLE fleet_releases (
        release_id TEXT PRIMARY KEY,
        lander TEXT NOT NULL,
        run_id TEXT NOT NULL,
        released_utc TEXT NOT NULL,
        person_id TEXT NOT NULL,
        descents INTEGER NOT NULL,
        engine_starts INTEGER NOT NULL,
        burn_s DOUBLE PRECISION NOT NULL,
        powered_h DOUBLE PRECISION NOT NULL
    )""",
    """CREATE TABLE fleet_settings (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
)


MIGRATIONS: tuple[Sequence[str], ...] = (_V1,)
"""Migration ``i`` brings the fleet schema from version ``i`` to ``i + 1``. Append, never edit."""

SCHEMA_VERSION = len(MIGRATIONS)


class SqlTx(Protocol):
    """One open transaction of a ``SqlHandle``."""

    def execute(self, sql: str, args: Sequence[Any] = ()) -> int: ...

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...


class SqlHandle(Protocol):
    """SQL access to one database: the records stores' ``store.sql()`` has this shape."""

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def transaction(self, action: str = "write") -> AbstractContextManager[SqlTx]: ...


class SqliteHandle:
    """A ``SqlHandle`` on its own connection to a SQLite database file (WAL; a transaction is
    ``BEGIN IMMEDIATE``, so it holds the write lock from its start). Errors become
    ``StorageError`` naming the file and the statement."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            self._db: sqlite3.Connection | None = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=10.0
            )
            self._db.execute("PRAGMA busy_timeout = 10000")
        except sqlite3.Error as err:
            raise StorageError(f"fleet database {self.path}: cannot open ({err})") from err

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise StorageError(f"fleet database {self.path}: closed")
        return self._db

    @contextlib.contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as err:
            raise StorageError(f"fleet database {self.path}: {action}: {err}") from err

    def _run(self, sql: str, args: Sequence[Any]) -> sqlite3.Cursor:
        with self._guard(" ".join(sql.split()[:3]) + "..."):
            return self._conn().execute(sql, tuple(args))

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._run(sql, args).fetchall())

    def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        with self._lock:
            return int(self._run(sql, args).rowcount)

    @contextlib.contextmanager
    def transaction(self, action: str = "write") -> Iterator[SqliteHandle]:
        with self._lock:
            db = self._conn()
            with self._guard(f"{action}: begin"):
                db.execute("BEGIN IMMEDIATE")
            try:
                yield self
                with self._guard(f"{action}: commit"):
                    db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._db.close()
                self._db = None


class FleetDb:
    """The fleet's connection layer: ``query``, ``execute``, ``transaction``. Thread-safe: a
    transaction holds the object's lock until it ends, so one ``FleetDb`` shared by threads
    runs their transactions one after the other.

    ``handle`` is any ``SqlHandle``; ``where`` names the database in messages; ``closer`` is
    called by ``close`` (the handle's owner closes it otherwise). Database errors arrive as
    ``StorageError`` from the handle; a failed transaction is rolled back.
    """

    def __init__(
        self, handle: SqlHandle, where: str, closer: Callable[[], None] | None = None
    ) -> None:
        self.handle = handle
        self.where = where
        self._closer = closer
        self._lock = threading.RLock()
        self._tx: SqlTx | None = None

    @classmethod
    def for_store(cls, store: RecordStore) -> FleetDb:
        """The fleet tables in ``store``'s database, created or upgraded, on a connection of
        their own. Only a store with a SQLite database file (``store.path``) for now."""
        path = getattr(store, "path", None)
        if not isinstance(path, Path):
            raise StorageError(
                f"{type(store).__name__}: the fleet needs a SQLite record store for now"
            )
        handle = SqliteHandle(path)
        db = cls(handle, f"fleet database {path}", handle.close)
        try:
            db.migrate()
        except BaseException:
            handle.close()
            raise
        return db

    def close(self) -> None:
        if self._closer is not None:
            self._closer()
            self._closer = None

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a SELECT, as tuples (inside a transaction: in it)."""
        with self._lock:
            if self._tx is not None:
                return self._tx.query(sql, args)
            return self.handle.query(sql, args)

    def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run one statement (in the open transaction, else in one of its own); returns the
        number of rows it changed."""
        with self._lock:
            if self._tx is not None:
                return self._tx.execute(sql, args)
            with self.transaction():
                assert self._tx is not None
                return self._tx.execute(sql, args)

    @contextlib.contextmanager
    def transaction(self, action: str = "fleet write") -> Iterator[FleetDb]:
        """All statements inside commit together or not at all; nested calls join the outer
        one."""
        with self._lock:
            if self._tx is not None:
                yield self
                return
            with self.handle.transaction(action) as tx:
                self._tx = tx
                try:
                    yield self
                finally:
                    self._tx = None

    # -- schema ------------------------------------------------------------------------------

    def schema_version(self) -> int:
        rows = self.query("SELECT MAX(version) FROM fleet_schema_version")
        return int(rows[0][0] or 0)

    def migrate(self) -> None:
        """Create or upgrade the fleet tables. Raises ``StorageError`` for a newer schema."""
        with self.transaction("create fleet tables"):
            self.execute(
                "CREATE TABLE IF NOT EXISTS fleet_schema_version "
                "(version INTEGER PRIMARY KEY, applied_utc TEXT NOT NULL)"
            )
            version = self.schema_version()
            if version > SCHEMA_VERSION:
                raise StorageError(
                    f"{self.where}: fleet schema version {version} is newer than this hil "
                    f"({SCHEMA_VERSION}); upgrade hil"
                )
            for target, statements in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in statements:
                    self.execute(statement)
                self.execute(
                    "INSERT INTO fleet_schema_version (version, applied_utc) VALUES (?, ?)",
                    (target, utc_now()),
                )
