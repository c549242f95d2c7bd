"""The fleet's one connection layer, and its versioned schema.

Every SQL statement of ``hil.fleet`` goes through ``FleetDb``: ``query`` (rows as tuples),
``execute`` (affected row count) and ``transaction`` (all or none; nested calls join the outer
one). ``FleetDb`` runs over the record store's own ``store.sql()`` (``SqlAccess``), so the
fleet tables live in the same database as the records, SQLite file or PostgreSQL server, and
share its connection, locks and error messages (``StorageError`` naming the database).

The SQL is portable between SQLite (>= 3.24) and PostgreSQL: TEXT, INTEGER and DOUBLE
PRECISION columns, explicit text ids (no AUTOINCREMENT), ISO 8601 UTC text timestamps, JSON as
TEXT, ``?`` placeholders and ``INSERT ... ON CONFLICT``. Several benches may write at once:

- on SQLite a transaction holds the database's write lock from its start;
- on PostgreSQL (READ COMMITTED) a read-then-write first locks the rows it decides on with
  ``lock_suffix`` (`` FOR UPDATE``), unique constraints refuse a second copy of a flight
  (content hash and path) or a part in an occupied position, and upserts with a ``WHERE``
  guard never move a completion or a counter backwards.

The fleet schema is the ``"fleet"`` component of the store's ``component_versions``, brought up
on open by ``SqlAccess.migrate`` with the ordered callables in ``MIGRATIONS`` (append, never
edit; migrations are serialized between benches).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from hil.records.errors import StorageError
from hil.records.sqlstore import Dialect, Migration, SqlAccess, SqlRecordStore, SqlTransaction
from hil.records.store import RecordStore

COMPONENT = "fleet"
"""The fleet's name in the store's ``component_versions`` table."""

_V1_TABLES = (
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
        source TEXT NOT NULL UNIQUE,
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
        created_utc TEXT NOT NULL,
        UNIQUE (lander, position)
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
        run_id TEXT NOT NULL UNIQUE,
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


def _v1_tables(tx: SqlTransaction) -> None:
    for statement in _V1_TABLES:
        tx.execute(statement)
    tx.execute("CREATE INDEX fleet_usage_by_lander ON fleet_usage (lander)")
    tx.execute("CREATE INDEX fleet_defects_by_lander ON fleet_defects (lander)")


def _v2_signed_defect_closures(tx: SqlTransaction) -> None:
    # the signed record of each defect closure (NULL for closures made before version 2)
    tx.execute("ALTER TABLE fleet_defects ADD COLUMN closure_run_id TEXT")


MIGRATIONS: tuple[Migration, ...] = (_v1_tables, _v2_signed_defect_closures)
"""Migration ``i`` brings the fleet schema from version ``i`` to ``i + 1``. Append, never edit."""

SCHEMA_VERSION = len(MIGRATIONS)


class FleetDb:
    """The fleet's connection layer over a store's ``SqlAccess``: ``query``, ``execute``,
    ``transaction``. Thread-safe: a transaction holds the object's lock until it ends, so one
    ``FleetDb`` shared by threads runs their transactions one after the other.

    ``where`` names the database in messages. Database errors arrive as ``StorageError`` from
    the store; a failed transaction is rolled back. The store's owner closes the connection.
    """

    def __init__(self, access: SqlAccess, where: str) -> None:
        self.access = access
        self.where = where
        self._lock = threading.RLock()
        self._tx: SqlTransaction | None = None

    @classmethod
    def for_store(cls, store: RecordStore) -> FleetDb:
        """The fleet tables in ``store``'s database, created or upgraded. Raises
        ``StorageError`` for a store without SQL access, a read-only store that has no fleet
        tables yet, or fleet tables newer than this code."""
        if not isinstance(store, SqlRecordStore):
            raise StorageError(
                f"{type(store).__name__} {store.location}: the fleet needs a SQL record store "
                "(a data directory or a postgresql:// URL)"
            )
        db = cls(store.sql(), f"records database {store.location}")
        if store.readonly:
            version = db.schema_version()
            if version != SCHEMA_VERSION:
                raise StorageError(
                    f"{db.where}: fleet tables at version {version}, this hil reads "
                    f"{SCHEMA_VERSION}; open the store writable to create or upgrade them"
                )
        else:
            db.access.migrate(COMPONENT, MIGRATIONS)
        return db

    @property
    def dialect(self) -> Dialect:
        return self.access.dialect

    @property
    def lock_suffix(self) -> str:
        """Appended to a SELECT inside a transaction to lock the rows it reads against other
        benches until the transaction ends: `` FOR UPDATE`` on PostgreSQL; nothing on SQLite,
        where the transaction already holds the database's write lock."""
        return " FOR UPDATE" if self.dialect == "postgresql" else ""

    def close(self) -> None:
        """Nothing to release: the connection is the store's (kept for ``Fleet.close``)."""

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a SELECT, as tuples (inside a transaction: in it)."""
        with self._lock:
            if self._tx is not None:
                return self._tx.query(sql, args)
            return self.access.query(sql, args)

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
            with self.access.transaction(action) as tx:
                self._tx = tx
                try:
                    yield self
                finally:
                    self._tx = None

    def schema_version(self) -> int:
        """The fleet schema version in force (0: no fleet tables yet)."""
        try:
            rows = self.query(
                "SELECT MAX(version) FROM component_versions WHERE component = ?", (COMPONENT,)
            )
        except StorageError:  # no component_versions table: nothing migrated here yet
            return 0
        return int(rows[0][0] or 0)
