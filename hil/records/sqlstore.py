"""What the SQL record stores share: the run/event/people logic, written once over a small
dialect seam, and ``SqlAccess``, the documented way for other components to keep their own
tables in the same database.

``SqlRecordStore`` implements every ``RecordStore`` method in portable SQL with ``?``
placeholders. A backend (``SqliteStore``, ``PostgresStore``) supplies the connection, the
transaction and the few dialect facts (how to lock a run row, how to find the schema version,
where attachment bytes live); its migrations run the DDL of the tables defined once in
``hil.records.schema``. ``SqlPeople`` is the identity registry for both.

Extra components (the fleet-maintenance tables, say) use ``store.sql()``::

    access = store.sql()            # SqlAccess; access.dialect is "sqlite" or "postgresql"
    access.migrate("fleet", [create_v1, add_v2_column])  # callables(tx), each run once, in order
    with access.transaction("record oil change on HR-2") as tx:
        tx.execute("INSERT INTO fleet_jobs (lander, job) VALUES (?, ?)", ("HR-2", "oil"))
        rows = tx.query("SELECT COUNT(*) FROM fleet_jobs WHERE lander = ?", ("HR-2",))
    rows = access.query("SELECT lander, job FROM fleet_jobs ORDER BY lander")

Placeholders are always ``?``; they are translated for psycopg (which also makes a literal
``%`` safe). Everything raises ``StorageError`` naming the database and the action; a
transaction is committed (durably) when the block ends and rolled back on any exception.

A record write (``create_run``, ``append``, ``finish``, ``sign``...) made by the thread that
holds an ``access.transaction`` joins it as a savepoint: the run, its events and the
component's rows commit together or not at all (a record written and signed only if the
component's own checks, made in the same transaction, still hold).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import uuid
from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self

from hil.core.timestamps import utc_now
from hil.records.canonical import GENESIS_HASH, canonical_json, event_hash
from hil.records.errors import RecordError, StorageError, UnknownRecord
from hil.records.people import Authorization, Kdf, PeopleStore, Person, Role, SecretRecord
from hil.records.schema import Dialect
from hil.records.store import Event, RecordStore, RunInfo

AFTER_END_KINDS = frozenset({"signature", "correction", "redline", "auth_failed", "attachment"})
"""Event kinds a finished or interrupted run still accepts (sign-off happens after the run)."""


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


class SqlAccess:
    """SQL on the records database for other components (see the module docstring).

    ``dialect`` is ``"sqlite"`` or ``"postgresql"``: write portable SQL, or branch on it for
    DDL. Reads outside a transaction see every committed write.
    """

    def __init__(self, store: SqlRecordStore) -> None:
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


@dataclass(frozen=True)
class StagedObject:
    """An attachment read and hashed, before its transaction."""

    sha256: str
    size_bytes: int
    content: bytes | None
    """The bytes, for a backend that keeps them in the database; None when written to disk."""


class SqlRecordStore(RecordStore):
    """``RecordStore`` over SQL: the shared logic. Subclasses implement the hooks below.

    All use of the one connection is serialized by a lock, so a store may be shared by the
    threads of one process (the GUI and its card runner); separate processes and hosts each
    open their own store and the database serializes their appends.
    """

    dialect: ClassVar[Dialect]
    MIGRATIONS: ClassVar[tuple[Migration, ...]]
    """Migration ``i`` brings the schema from version ``i`` to ``i + 1``. Append, never edit."""

    def __init__(self, *, readonly: bool, kdf: Kdf | None) -> None:
        self.readonly = readonly
        self._kdf = kdf
        self._people: SqlPeople | None = None
        self._lock = threading.RLock()
        self._open_tx: SqlTransaction | None = None
        """The transaction the thread holding ``_lock`` has open (None: none open)."""
        self._savepoints = 0

    # -- backend hooks -----------------------------------------------------------------------

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

    @abstractmethod
    def _read_schema_version(self) -> int:
        """The records schema version (0 when there is no schema yet)."""

    def _lock_migrations(self, tx: SqlTransaction) -> None:
        """Serialize migrations between processes (no-op where the transaction already is)."""

    RUN_LOCK_SUFFIX: ClassVar[str] = ""
    """Appended to the SELECT of the run's head, e.g. `` FOR UPDATE``."""

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
            self._people = self._make_people()
        if not self.readonly:
            self._recover_interrupted()
        return self

    def _make_people(self) -> SqlPeople:
        return SqlPeople(self, self._kdf)

    def close(self) -> None:
        with self._lock:
            self._disconnect()

    @property
    def people(self) -> SqlPeople:
        if self._people is None:
            raise StorageError(f"records database {self.location}: not open")
        return self._people

    def sql(self) -> SqlAccess:
        """Query and write other components' tables in this database (see ``SqlAccess``)."""
        if not self._is_open:
            raise StorageError(f"records database {self.location}: not open")
        return SqlAccess(self)

    def _migrate(self) -> None:
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
        rows = self._query(
            "SELECT run_id, owner_pid FROM runs WHERE status = 'open' AND owner_host = ?", (host,)
        )
        for run_id, pid in rows:
            if pid != os.getpid() and not pid_alive(pid):
                # (RecordError: another process on this host recovered it first)
                with contextlib.suppress(RecordError):
                    self.mark_interrupted(
                        run_id, f"bench process {pid} on {host} ended without finishing the run"
                    )

    # -- plumbing ----------------------------------------------------------------------------

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
            with self._transaction() as tx:
                self._open_tx = tx
                try:
                    yield tx
                finally:
                    self._open_tx = None

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

    # -- runs and events ---------------------------------------------------------------------

    def create_run(self, meta: Mapping[str, Any]) -> str:
        card = meta.get("card") or {}
        if not isinstance(card, Mapping):
            raise RecordError("run meta: 'card' must be a table")
        run_id = new_run_id()
        with self._write(f"create run for card {card.get('number', '?')}") as tx:
            tx.execute(
                "INSERT INTO runs (run_id, created_utc, card_number, revision, title, lander, "
                "operator_id, status, outcome, finished_utc, owner_host, owner_pid, head_seq, "
                "head_hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    run_id,
                    utc_now(),
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
            self._append_in(tx, run_id, [("run_started", meta)])
        return run_id

    def append(self, run_id: str, kind: str, payload: Mapping[str, Any]) -> Event:
        return self.append_many(run_id, [(kind, payload)])[0]

    def append_many(
        self, run_id: str, items: Iterable[tuple[str, Mapping[str, Any]]]
    ) -> list[Event]:
        items = list(items)
        if not items:
            return []
        with self._write(f"append {items[0][0]} to run {run_id}") as tx:
            return self._append_in(tx, run_id, items)

    def _append_in(
        self, tx: SqlTransaction, run_id: str, items: list[tuple[str, Mapping[str, Any]]]
    ) -> list[Event]:
        """Read the run's head (locked against other writers) and insert after it."""
        rows = tx.query(
            "SELECT status, head_seq, head_hash, outcome, finished_utc FROM runs "
            "WHERE run_id = ?" + self.RUN_LOCK_SUFFIX,
            (run_id,),
        )
        if not rows:
            raise UnknownRecord(f"run {run_id!r}: not in {self.location}")
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
            utc = utc_now()
            digest = event_hash(run_id, seq, kind, utc, head, payload_json)
            tx.execute(
                "INSERT INTO events (run_id, seq, kind, utc, payload, prev_hash, hash) "
                "VALUES (?,?,?,?,?,?,?)",
                (run_id, seq, kind, utc, payload_json, head, digest),
            )
            events.append(Event(run_id, seq, kind, utc, payload_json, head, digest))
            head = digest
            if kind == "run_finished":
                status, outcome, finished_utc = "finished", str(payload.get("outcome")), utc
            elif kind == "run_interrupted":
                status, finished_utc = "interrupted", utc
        tx.execute(
            "UPDATE runs SET status=?, outcome=?, finished_utc=?, head_seq=?, head_hash=? "
            "WHERE run_id=?",
            (status, outcome, finished_utc, seq, head, run_id),
        )
        return events

    def _resolve(self, run_id: str) -> str:
        rows = self._query(
            "SELECT run_id FROM runs WHERE run_id = ? OR run_id LIKE ? ESCAPE '\\' LIMIT 3",
            (run_id, run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"),
        )
        ids = [r[0] for r in rows]
        if run_id in ids:
            return run_id
        if not ids:
            raise UnknownRecord(f"run {run_id!r}: not in {self.location}")
        if len(ids) > 1:
            raise UnknownRecord(f"run {run_id!r}: ambiguous ({', '.join(ids[:2])}, ...)")
        return str(ids[0])

    def events(self, run_id: str) -> list[Event]:
        run_id = self._resolve(run_id)
        rows = self._query(
            "SELECT run_id, seq, kind, utc, payload, prev_hash, hash FROM events "
            "WHERE run_id = ? ORDER BY seq",
            (run_id,),
        )
        return [Event(*row) for row in rows]

    def head(self, run_id: str) -> Event | None:
        run_id = self._resolve(run_id)
        rows = self._query(
            "SELECT run_id, seq, kind, utc, payload, prev_hash, hash FROM events "
            "WHERE run_id = ? ORDER BY seq DESC LIMIT 1",
            (run_id,),
        )
        return Event(*rows[0]) if rows else None

    _RUN_COLUMNS = (
        "run_id, created_utc, card_number, revision, title, lander, operator_id, status, "
        "outcome, head_seq, head_hash, finished_utc, owner_host, owner_pid"
    )

    def _run_info(self, row: tuple[Any, ...]) -> RunInfo:
        *fields, host, pid = row
        info = RunInfo(*fields)
        if info.status == "open" and host == socket.gethostname() and not pid_alive(pid):
            info = RunInfo(**{**info.to_dict(), "status": "interrupted"})
        return info

    def run(self, run_id: str) -> RunInfo:
        run_id = self._resolve(run_id)
        rows = self._query(f"SELECT {self._RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,))
        return self._run_info(rows[0])

    def runs(self) -> list[RunInfo]:
        rows = self._query(f"SELECT {self._RUN_COLUMNS} FROM runs ORDER BY created_utc, run_id")
        return [self._run_info(row) for row in rows]

    # -- attachments -------------------------------------------------------------------------

    def attach(self, run_id: str, path: str | os.PathLike[str], name: str | None = None) -> str:
        source = Path(path)
        run_id = self._resolve(run_id)
        with self._guard(f"store attachment {source.name}"):
            staged = self._stage_object(source)
        with self._write(f"attach {source.name} to run {run_id}") as tx:
            self._index_object(tx, staged)
            self._append_in(
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


def write_object(target: Path, write: Callable[[Any], None]) -> None:
    """Write a content-addressed file atomically (temp file, fsync, rename, fsync folder)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.partial")
    try:
        with open(partial, "wb") as dst:
            write(dst)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(partial, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SqlPeople(PeopleStore):
    """People in the same database as the records they sign."""

    def __init__(self, store: SqlRecordStore, kdf: Kdf | None) -> None:
        super().__init__(kdf)
        self._store = store

    _COLUMNS = (
        "person_id, printed_name, roles, authorizations, public_key, key_id, status, "
        "created_utc, revoked_utc, revoke_reason, failed_attempts, kdf, secret_salt, "
        "secret_hash, key_salt, key_nonce, key_ciphertext"
    )

    @staticmethod
    def _person(row: tuple[Any, ...]) -> tuple[Person, SecretRecord]:
        (
            pid,
            name,
            roles,
            auths,
            public,
            key_id,
            status,
            created,
            revoked,
            reason,
            failed,
            kdf,
            s_salt,
            s_hash,
            k_salt,
            k_nonce,
            k_ct,
        ) = row
        person = Person(
            person_id=pid,
            printed_name=name,
            roles=tuple(Role(role) for role in json.loads(roles)),
            authorizations=tuple(
                Authorization(a["scope"], a["certificate"], date.fromisoformat(a["expires"]))
                for a in json.loads(auths)
            ),
            public_key=public,
            key_id=key_id,
            status=status,
            created_utc=created,
            revoked_utc=revoked,
            revoke_reason=reason,
            failed_attempts=failed,
        )
        record = SecretRecord(
            Kdf(**json.loads(kdf)),
            bytes(s_salt),
            bytes(s_hash),
            bytes(k_salt),
            bytes(k_nonce),
            bytes(k_ct),
        )
        return person, record

    def _insert(self, person: Person, record: SecretRecord) -> None:
        with self._store._write(f"add person {person.person_id}") as tx:
            tx.execute(
                f"INSERT INTO people ({self._COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    person.person_id,
                    person.printed_name,
                    json.dumps([role.value for role in person.roles]),
                    json.dumps([a.to_dict() for a in person.authorizations]),
                    person.public_key,
                    person.key_id,
                    person.status,
                    person.created_utc,
                    None,
                    None,
                    0,
                    json.dumps(vars(record.kdf)),
                    record.secret_salt,
                    record.secret_hash,
                    record.key_salt,
                    record.key_nonce,
                    record.key_ciphertext,
                ),
            )

    def _get(self, person_id: str) -> tuple[Person, SecretRecord] | None:
        rows = self._store._query(
            f"SELECT {self._COLUMNS} FROM people WHERE person_id = ?", (person_id,)
        )
        return self._person(rows[0]) if rows else None

    def _all(self) -> list[Person]:
        rows = self._store._query(f"SELECT {self._COLUMNS} FROM people ORDER BY person_id")
        return [self._person(row)[0] for row in rows]

    def _set_status(self, person_id: str, status: str, reason: str | None, utc: str | None) -> None:
        with self._store._write(f"set person {person_id} {status}") as tx:
            if status == "revoked":
                tx.execute(
                    "UPDATE people SET status=?, revoke_reason=?, revoked_utc=? WHERE person_id=?",
                    (status, reason, utc, person_id),
                )
            else:
                tx.execute(
                    "UPDATE people SET status=?, failed_attempts=0 WHERE person_id=?",
                    (status, person_id),
                )
            self._log(tx, person_id, True, "admin", f"status set to {status}")

    def _failed(self, person_id: str, purpose: str, limit: int) -> int:
        with self._store._write(f"log wrong secret for {person_id}") as tx:
            tx.execute(
                "UPDATE people SET failed_attempts = failed_attempts + 1 WHERE person_id = ?",
                (person_id,),
            )
            ((count,),) = tx.query(
                "SELECT failed_attempts FROM people WHERE person_id = ?", (person_id,)
            )
            if count >= limit:
                tx.execute(
                    "UPDATE people SET status = 'locked' WHERE person_id = ? AND status='active'",
                    (person_id,),
                )
            self._log(tx, person_id, False, purpose, f"wrong secret ({count} in a row)")
        return int(count)

    def _log_attempt(self, person_id: str, ok: bool, purpose: str, detail: str) -> None:
        with self._store._write(f"log authentication of {person_id}") as tx:
            if ok:
                tx.execute(
                    "UPDATE people SET failed_attempts = 0 WHERE person_id = ?", (person_id,)
                )
            self._log(tx, person_id, ok, purpose, detail)

    @staticmethod
    def _log(tx: SqlTransaction, person_id: str, ok: bool, purpose: str, detail: str) -> None:
        tx.execute(
            "INSERT INTO auth_log (utc, person_id, ok, purpose, detail) VALUES (?,?,?,?,?)",
            (utc_now(), person_id, int(ok), purpose, detail),
        )

    def _auth_log(self, person_id: str | None) -> list[dict[str, Any]]:
        sql = "SELECT utc, person_id, ok, purpose, detail FROM auth_log"
        args: tuple[Any, ...] = ()
        if person_id is not None:
            sql += " WHERE person_id = ?"
            args = (person_id,)
        rows = self._store._query(sql + " ORDER BY id", args)
        keys = ("utc", "person_id", "ok", "purpose", "detail")
        return [{**dict(zip(keys, row, strict=True)), "ok": bool(row[2])} for row in rows]
