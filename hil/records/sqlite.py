"""The embedded record store: one SQLite database (WAL, ``synchronous=FULL``) in a data folder.

Layout of the data directory::

    records.sqlite3          runs, events, attachment index, people, authentication log
    objects/ab/abcdef...     attachment contents, named by SHA-256, written before their event

Every append is one ``BEGIN IMMEDIATE`` transaction that reads the run's head and inserts the
next event; it is on disk (WAL fsync) before ``append`` returns. Triggers refuse UPDATE and DELETE
on events and on the authentication log, so only someone bypassing the store can change them, and
``verify`` finds that. The schema is versioned (``schema_version``) and upgraded on a writable
open by the ordered functions in ``MIGRATIONS``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Self

from hil.records.canonical import GENESIS_HASH, canonical_json, event_hash, file_sha256
from hil.records.errors import RecordError, StorageError, UnknownRecord
from hil.records.people import Authorization, Kdf, PeopleStore, Person, Role, SecretRecord
from hil.records.store import Event, RecordStore, RunInfo, utc_now

DB_NAME = "records.sqlite3"

AFTER_END_KINDS = frozenset({"signature", "correction", "redline", "auth_failed", "attachment"})
"""Event kinds a finished or interrupted run still accepts (sign-off happens after the run)."""


def _v1_records(db: sqlite3.Connection) -> None:
    _execute_script(
        db,
        """
        CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            created_utc TEXT NOT NULL,
            card_number TEXT NOT NULL,
            revision TEXT NOT NULL,
            title TEXT NOT NULL,
            lander TEXT NOT NULL,
            operator_id TEXT NOT NULL,
            status TEXT NOT NULL,
            outcome TEXT,
            finished_utc TEXT,
            owner_host TEXT NOT NULL,
            owner_pid INTEGER NOT NULL,
            head_seq INTEGER NOT NULL,
            head_hash TEXT NOT NULL
        );
        CREATE TABLE events (
            run_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            kind TEXT NOT NULL,
            utc TEXT NOT NULL,
            payload TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL,
            PRIMARY KEY (run_id, seq)
        ) WITHOUT ROWID;
        CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
            BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
        CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
            BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
        CREATE TABLE attachments (
            sha256 TEXT PRIMARY KEY,
            size_bytes INTEGER NOT NULL,
            stored_utc TEXT NOT NULL
        );
        """,
    )


def _v2_people(db: sqlite3.Connection) -> None:
    _execute_script(
        db,
        """
        CREATE TABLE people (
            person_id TEXT PRIMARY KEY,
            printed_name TEXT NOT NULL,
            roles TEXT NOT NULL,
            authorizations TEXT NOT NULL,
            public_key TEXT NOT NULL,
            key_id TEXT NOT NULL,
            status TEXT NOT NULL,
            created_utc TEXT NOT NULL,
            revoked_utc TEXT,
            revoke_reason TEXT,
            failed_attempts INTEGER NOT NULL DEFAULT 0,
            kdf TEXT NOT NULL,
            secret_salt BLOB NOT NULL,
            secret_hash BLOB NOT NULL,
            key_salt BLOB NOT NULL,
            key_nonce BLOB NOT NULL,
            key_ciphertext BLOB NOT NULL
        );
        CREATE TABLE auth_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            utc TEXT NOT NULL,
            person_id TEXT NOT NULL,
            ok INTEGER NOT NULL,
            purpose TEXT NOT NULL,
            detail TEXT NOT NULL
        );
        CREATE TRIGGER auth_log_append_only_update BEFORE UPDATE ON auth_log
            BEGIN SELECT RAISE(ABORT, 'the authentication log is append-only'); END;
        CREATE TRIGGER auth_log_append_only_delete BEFORE DELETE ON auth_log
            BEGIN SELECT RAISE(ABORT, 'the authentication log is append-only'); END;
        """,
    )


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_v1_records, _v2_people)
"""Migration ``i`` brings the schema from version ``i`` to ``i + 1``. Append, never edit."""

SCHEMA_VERSION = len(MIGRATIONS)


def _pid_alive(pid: int) -> bool:
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


class SqliteStore(RecordStore):
    """Records in ``data_dir/records.sqlite3``; attachments in ``data_dir/objects``.

    ``readonly`` opens without creating, migrating or recovering anything (for list, show,
    verify and export on a read-only medium). ``kdf`` sets the scrypt cost for people added
    through ``people``.
    """

    def __init__(
        self, data_dir: str | os.PathLike[str], *, readonly: bool = False, kdf: Kdf | None = None
    ) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / DB_NAME
        self.objects_dir = self.data_dir / "objects"
        self.readonly = readonly
        self._kdf = kdf
        self._db: sqlite3.Connection | None = None
        self._people: SqlitePeople | None = None
        self._lock = threading.RLock()

    # -- opening -----------------------------------------------------------------------------

    def open(self) -> Self:
        if self._db is not None:
            return self
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
                self._migrate(db)
            version = self._schema_version(db)
            if version != SCHEMA_VERSION:
                raise StorageError(
                    f"records database {self.path}: schema version {version}, this hil reads "
                    f"{SCHEMA_VERSION}" + ("; open it writable to upgrade" if self.readonly else "")
                )
        self._people = SqlitePeople(self, self._kdf)
        if not self.readonly:
            self._recover_interrupted()
        return self

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._db.close()
                self._db = None

    @property
    def people(self) -> SqlitePeople:
        if self._people is None:
            raise StorageError(f"records database {self.path}: not open")
        return self._people

    @staticmethod
    def _schema_version(db: sqlite3.Connection) -> int:
        exists = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'"
        ).fetchone()
        if not exists:
            return 0
        row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def _migrate(self, db: sqlite3.Connection) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "CREATE TABLE IF NOT EXISTS schema_version "
                "(version INTEGER PRIMARY KEY, applied_utc TEXT NOT NULL)"
            )
            version = self._schema_version(db)
            if version > SCHEMA_VERSION:
                raise StorageError(
                    f"records database {self.path}: schema version {version} is newer than "
                    f"this hil ({SCHEMA_VERSION}); upgrade hil"
                )
            for target, migration in enumerate(MIGRATIONS[version:], start=version + 1):
                migration(db)
                db.execute("INSERT INTO schema_version VALUES (?, ?)", (target, utc_now()))
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise

    def _recover_interrupted(self) -> None:
        host = socket.gethostname()
        rows = self._query(
            "SELECT run_id, owner_pid FROM runs WHERE status = 'open' AND owner_host = ?", (host,)
        )
        for run_id, pid in rows:
            if pid != os.getpid() and not _pid_alive(pid):
                self.mark_interrupted(
                    run_id, f"bench process {pid} on {host} ended without finishing the run"
                )

    # -- plumbing ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as err:
            text = str(err)
            if "readonly" in text or "read-only" in text:
                text += f" (is the data directory {self.data_dir} writable?)"
            raise StorageError(f"records database {self.path}: {action}: {text}") from err
        except OSError as err:
            if isinstance(err, StorageError):
                raise
            raise StorageError(f"records database {self.path}: {action}: {err}") from err

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise StorageError(f"records database {self.path}: not open")
        return self._db

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock, self._guard("read"):
            return list(self._conn().execute(sql, args).fetchall())

    @contextlib.contextmanager
    def _write(self, action: str) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: committed (and fsynced) on success, rolled back on error."""
        with self._lock, self._guard(action):
            if self.readonly:
                raise StorageError(f"records database {self.path}: {action}: opened read-only")
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise

    # -- runs and events ---------------------------------------------------------------------

    def create_run(self, meta: Mapping[str, Any]) -> str:
        card = meta.get("card") or {}
        if not isinstance(card, Mapping):
            raise RecordError("run meta: 'card' must be a table")
        run_id = new_run_id()
        with self._write(f"create run for card {card.get('number', '?')}") as db:
            db.execute(
                "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
            self._append_in(db, run_id, [("run_started", meta)])
        return run_id

    def append(self, run_id: str, kind: str, payload: Mapping[str, Any]) -> Event:
        return self.append_many(run_id, [(kind, payload)])[0]

    def append_many(
        self, run_id: str, items: Iterable[tuple[str, Mapping[str, Any]]]
    ) -> list[Event]:
        items = list(items)
        if not items:
            return []
        with self._write(f"append {items[0][0]} to run {run_id}") as db:
            return self._append_in(db, run_id, items)

    def _append_in(
        self, db: sqlite3.Connection, run_id: str, items: list[tuple[str, Mapping[str, Any]]]
    ) -> list[Event]:
        row = db.execute(
            "SELECT status, head_seq, head_hash, outcome, finished_utc FROM runs WHERE run_id = ?",
            (run_id,),
        ).fetchone()
        if row is None:
            raise UnknownRecord(f"run {run_id!r}: not in {self.path}")
        status, seq, head, outcome, finished_utc = row
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
            db.execute(
                "INSERT INTO events VALUES (?,?,?,?,?,?,?)",
                (run_id, seq, kind, utc, payload_json, head, digest),
            )
            events.append(Event(run_id, seq, kind, utc, payload_json, head, digest))
            head = digest
            if kind == "run_finished":
                status, outcome, finished_utc = "finished", str(payload.get("outcome")), utc
            elif kind == "run_interrupted":
                status, finished_utc = "interrupted", utc
        db.execute(
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
            raise UnknownRecord(f"run {run_id!r}: not in {self.path}")
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
        if info.status == "open" and host == socket.gethostname() and not _pid_alive(pid):
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
        try:
            digest = file_sha256(str(source))
            size = source.stat().st_size
        except OSError as err:
            raise StorageError(f"attachment {source}: cannot read ({err.strerror})") from err
        target = self._object_path(digest)
        with self._guard(f"store attachment {source.name}"):
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = target.with_name(f".{digest}.{os.getpid()}.partial")
                try:
                    with open(source, "rb") as src, open(partial, "wb") as dst:
                        while block := src.read(1 << 20):
                            dst.write(block)
                        dst.flush()
                        os.fsync(dst.fileno())
                    os.replace(partial, target)
                finally:
                    with contextlib.suppress(FileNotFoundError):
                        partial.unlink()
                _fsync_dir(target.parent)
        with self._write(f"attach {source.name} to run {run_id}") as db:
            db.execute(
                "INSERT OR IGNORE INTO attachments VALUES (?,?,?)", (digest, size, utc_now())
            )
            self._append_in(
                db,
                run_id,
                [("attachment", {"name": name or source.name, "sha256": digest, "size": size})],
            )
        return digest

    def _object_path(self, digest: str) -> Path:
        return self.objects_dir / digest[:2] / digest

    def attachment_path(self, sha256: str) -> Path | None:
        path = self._object_path(sha256)
        return path if path.is_file() else None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _execute_script(db: sqlite3.Connection, script: str) -> None:
    """Run ``script`` statement by statement (``executescript`` would commit the migration's
    transaction half way)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""
    if statement.strip():
        db.execute(statement)


class SqlitePeople(PeopleStore):
    """People in the same database as the records they sign."""

    def __init__(self, store: SqliteStore, kdf: Kdf | None) -> None:
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
        record = SecretRecord(Kdf(**json.loads(kdf)), s_salt, s_hash, k_salt, k_nonce, k_ct)
        return person, record

    def _insert(self, person: Person, record: SecretRecord) -> None:
        with self._store._write(f"add person {person.person_id}") as db:
            db.execute(
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
        with self._store._write(f"set person {person_id} {status}") as db:
            if status == "revoked":
                db.execute(
                    "UPDATE people SET status=?, revoke_reason=?, revoked_utc=? WHERE person_id=?",
                    (status, reason, utc, person_id),
                )
            else:
                db.execute(
                    "UPDATE people SET status=?, failed_attempts=0 WHERE person_id=?",
                    (status, person_id),
                )
            db.execute(
                "INSERT INTO auth_log (utc, person_id, ok, purpose, detail) VALUES (?,?,?,?,?)",
                (utc_now(), person_id, 1, "admin", f"status set to {status}"),
            )

    def _failed(self, person_id: str, purpose: str, limit: int) -> int:
        with self._store._write(f"log wrong secret for {person_id}") as db:
            db.execute(
                "UPDATE people SET failed_attempts = failed_attempts + 1 WHERE person_id = ?",
                (person_id,),
            )
            (count,) = db.execute(
                "SELECT failed_attempts FROM people WHERE person_id = ?", (person_id,)
            ).fetchone()
            if count >= limit:
                db.execute(
                    "UPDATE people SET status = 'locked' WHERE person_id = ? AND status='active'",
                    (person_id,),
                )
            db.execute(
                "INSERT INTO auth_log (utc, person_id, ok, purpose, detail) VALUES (?,?,?,?,?)",
                (utc_now(), person_id, 0, purpose, f"wrong secret ({count} in a row)"),
            )
        return int(count)

    def _log_attempt(self, person_id: str, ok: bool, purpose: str, detail: str) -> None:
        with self._store._write(f"log authentication of {person_id}") as db:
            if ok:
                db.execute(
                    "UPDATE people SET failed_attempts = 0 WHERE person_id = ?", (person_id,)
                )
            db.execute(
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
