"""The SQL records database as a connection: one lock, transactions, savepoints, error
translation, and ``SqlAccess``, the documented way for other components to keep their own
tables in the same database.

``SqlDatabase`` is the base of the SQL record stores. A backend (``SqliteStore``,
``PostgresStore``) supplies the connection hooks (connect, read, begin/commit, translate a
driver error); this module owns what is built on them, the same on both back ends:

- every use of the one connection is serialized by a re-entrant lock, so a store may be shared
  by the threads of one process;
- ``_write`` is one transaction, committed (durably) when its block ends and rolled back on any
  exception; a write made by the thread that already holds one open joins it as a savepoint,
  undone alone on error;
- every driver or file-system error becomes a ``StorageError`` naming the database and the
  action.

Other components (the fleet-maintenance tables, say) use ``store.sql()``::

    access = store.sql()            # SqlAccess; access.dialect is "sqlite" or "postgresql"
    access.migrate("fleet", [create_v1, add_v2_column])  # callables(tx), each run once, in order
    with access.transaction("record oil change on HR-2") as tx:
        tx.execute("INSERT INTO fleet_jobs (lander, job) VALUES (?, ?)", ("HR-2", "oil"))
        rows = tx.query("SELECT COUNT(*) FROM fleet_jobs WHERE lander = ?", ("HR-2",))
    rows = access.query("SELECT lander, job FROM fleet_jobs ORDER BY lander")

Placeholders are always ``?``; they are translated for psycopg (which also makes a literal
``%`` safe). A record write (``create_run``, ``append``, ``finish``, ``sign``...) made by the
thread that holds an ``access.transaction`` joins it as a savepoint: the run, its events and the
component's rows commit together or not at all (a record written and signed only if the
component's own checks, made in the same transaction, still hold).
"""

from __future__ import annotations

import contextlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar, Protocol

from hil.core.timestamps import utc_now
from hil.records.errors import RecordError, StorageError
from hil.records.schema import Dialect


class _Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchall(self) -> list[Any]: ...


class SqlTransaction:
    """One open write transaction (from ``SqlAccess.transaction``); ``?`` placeholders."""

    def __init__(
        self, dialect: Dialect, run: Callable[[str, tuple[Any, ...] | None], _Cursor]
    ) -> None:
        self.dialect: Dialect = dialect
        self._run = run

    def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run one statement; returns the number of rows it changed (-1 when not known)."""
        return int(self._run(sql, tuple(args)).rowcount)

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement that returns rows; every row as a tuple."""
        return [tuple(row) for row in self._run(sql, tuple(args)).fetchall()]

    def script(self, sql: str) -> None:
        """Run several statements without parameters (DDL: tables, indexes, triggers)."""
        self._run(sql, None)


Migration = Callable[[SqlTransaction], None]
"""Brings a schema one version up, inside the migration's transaction."""


class SqlDatabase(ABC):
    """One SQL database behind one connection: the lock, transactions and savepoints, error
    translation. Subclasses implement the connection hooks below.

    All use of the one connection is serialized by a lock, so a store may be shared by the
    threads of one process (the GUI and its card runner); separate processes and hosts each
    open their own store and the database serializes their writes.
    """

    dialect: ClassVar[Dialect]

    RUN_LOCK_SUFFIX: ClassVar[str] = ""
    """Appended to the SELECT of a run's head (``hil.records.sqlruns``) to lock its row against
    other writers until the transaction ends, e.g. `` FOR UPDATE`` (nothing where the
    transaction already holds the database's write lock)."""

    def __init__(self, *, readonly: bool) -> None:
        self.readonly = readonly
        self._lock = threading.RLock()
        self._open_tx: SqlTransaction | None = None
        """The transaction the thread holding ``_lock`` has open (None: none open)."""
        self._savepoints = 0
        self._after_commit: Callable[[bool], None] | None = None
        """Called once the outermost transaction ends (True: committed), then cleared."""

    # -- connection hooks --------------------------------------------------------------------

    @property
    @abstractmethod
    def location(self) -> str:
        """The database as error messages name it (a path, or a URL without its password)."""

    @abstractmethod
    def _connect(self) -> None:
        """Open the connection (creating the database where that makes sense)."""

    @abstractmethod
    def _disconnect(self) -> None:
        """Close the connection; safe when not open."""

    @property
    @abstractmethod
    def _is_open(self) -> bool: ...

    @abstractmethod
    def _run_read(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """One read statement outside any transaction (the store lock is held)."""

    @abstractmethod
    def _transaction(self) -> contextlib.AbstractContextManager[SqlTransaction]:
        """BEGIN (taking the write lock where the dialect has one) ... COMMIT / ROLLBACK."""

    @abstractmethod
    def _translate_error(self, err: BaseException, action: str) -> StorageError | None:
        """A ``StorageError`` for a driver error, or None for anything else."""

    def _lock_registry(self, tx: SqlTransaction) -> None:
        """Serialize appends to the people registry between processes. By default nothing: the
        transaction already holds the database's write lock (SQLite)."""
        return None

    @abstractmethod
    def _table_exists(self, name: str) -> bool:
        """True when the table ``name`` exists (a read: the store lock is held)."""

    def _lock_migrations(self, tx: SqlTransaction) -> None:
        """Serialize migrations between processes. By default nothing: the migration's
        transaction already is serialized where it holds the database's write lock (SQLite)."""
        return None

    # -- reads, writes, savepoints -----------------------------------------------------------

    def sql(self) -> SqlAccess:
        """Query and write other components' tables in this database (see ``SqlAccess``)."""
        if not self._is_open:
            raise StorageError(f"records database {self.location}: not open")
        return SqlAccess(self)

    @contextlib.contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        try:
            yield
        except StorageError:
            raise
        except RecordError:
            raise
        except Exception as err:
            translated = self._translate_error(err, action)
            if translated is None:
                if isinstance(err, OSError):
                    raise StorageError(
                        f"records database {self.location}: {action}: {err}"
                    ) from err
                raise
            raise translated from err

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock, self._guard("read"):
            return self._run_read(sql, args)

    @contextlib.contextmanager
    def _write(self, action: str, *, check_readonly: bool = True) -> Iterator[SqlTransaction]:
        """One transaction: committed (and durable) on success, rolled back on error. Inside
        a transaction already open (on this thread: it holds the lock), a savepoint of it."""
        with self._lock, self._guard(action):
            if check_readonly and self.readonly:
                raise StorageError(f"records database {self.location}: {action}: opened read-only")
            if self._open_tx is not None:
                with self._savepoint(self._open_tx) as tx:
                    yield tx
                return
            committed = False
            try:
                with self._transaction() as tx:
                    self._open_tx = tx
                    try:
                        yield tx
                    finally:
                        self._open_tx = None
                committed = True
            finally:
                after, self._after_commit = self._after_commit, None
                if after is not None:
                    after(committed)

    @contextlib.contextmanager
    def _savepoint(self, tx: SqlTransaction) -> Iterator[SqlTransaction]:
        """A nested write: undone alone on error (the outer transaction goes on), else kept
        for the outer transaction's commit."""
        self._savepoints += 1
        name = f"hil_write_{self._savepoints}"
        try:
            tx.execute(f"SAVEPOINT {name}")
            try:
                yield tx
            except BaseException:
                with contextlib.suppress(Exception):  # the first error is the one to report
                    tx.execute(f"ROLLBACK TO SAVEPOINT {name}")
                    tx.execute(f"RELEASE SAVEPOINT {name}")
                raise
            tx.execute(f"RELEASE SAVEPOINT {name}")
        finally:
            self._savepoints -= 1


class SqlAccess:
    """SQL on the records database for other components (see the module docstring).

    ``dialect`` is ``"sqlite"`` or ``"postgresql"``: write portable SQL, or branch on it for
    DDL. Reads outside a transaction see every committed write.
    """

    def __init__(self, store: SqlDatabase) -> None:
        self._store = store
        self.dialect: Dialect = store.dialect

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one read statement, each a tuple."""
        return self._store._query(sql, tuple(args))

    @contextlib.contextmanager
    def transaction(self, action: str = "write") -> Iterator[SqlTransaction]:
        """One write transaction: committed and durable when the block ends, rolled back (and
        re-raised) on an exception. ``action`` names the work in error messages. On SQLite it
        holds the database's write lock, on PostgreSQL it is READ COMMITTED: take row locks
        (``SELECT ... FOR UPDATE``) where read-then-write must not race another bench. Record
        writes made inside the block on this thread join it (see the module docstring)."""
        with self._store._write(action) as tx:
            yield tx

    def migrate(self, component: str, migrations: Sequence[Migration]) -> int:
        """Bring ``component``'s own tables to version ``len(migrations)``: migration ``i``
        runs once, in one transaction with the version bump, on the first open that needs it
        (concurrent benches are serialized). Returns the version now in force. Append
        migrations, never edit them; a database newer than ``migrations`` is a StorageError."""
        store = self._store
        with store._lock, store._guard(f"read {component} table versions"):
            if store._table_exists("component_versions"):
                (row,) = store._run_read(
                    "SELECT MAX(version) FROM component_versions WHERE component = ?",
                    (component,),
                )
                if int(row[0] or 0) == len(migrations):
                    # up to date: nothing to write (a bench role need not create tables)
                    return len(migrations)
        with store._write(f"migrate {component} tables") as tx:
            store._lock_migrations(tx)
            tx.execute(
                "CREATE TABLE IF NOT EXISTS component_versions (component TEXT NOT NULL, "
                "version INTEGER NOT NULL, applied_utc TEXT NOT NULL, "
                "PRIMARY KEY (component, version))"
            )
            (row,) = tx.query(
                "SELECT MAX(version) FROM component_versions WHERE component = ?", (component,)
            )
            version = int(row[0] or 0)
            if version > len(migrations):
                raise StorageError(
                    f"records database {store.location}: {component} tables are at version "
                    f"{version}, newer than this code ({len(migrations)}); upgrade"
                )
            for target, migration in enumerate(migrations[version:], start=version + 1):
                migration(tx)
                tx.execute(
                    "INSERT INTO component_versions VALUES (?, ?, ?)",
                    (component, target, utc_now()),
                )
        return len(migrations)
