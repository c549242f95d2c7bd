"""The shared record store: runs, events, attachments and people in one PostgreSQL database,
for a fleet of benches writing to one server (psycopg 3).

Each append is one READ COMMITTED transaction that locks the run's row (``SELECT ... FOR
UPDATE``), reads its head and inserts the next event, so benches, processes and threads
appending to the same run queue behind each other and the chain never forks (the ``(run_id,
seq)`` primary key would refuse a fork anyway). The session runs with ``synchronous_commit =
on``: an append is durable on the server before it returns. PL/pgSQL triggers refuse UPDATE,
DELETE and TRUNCATE on events, attachments and the authentication log, and any change of a run's
index row that its events do not say (``hil.records.guards``, which also holds the grants of the
least-privilege bench role). The schema is the one in
``hil.records.schema``, versioned like SQLite's (``schema_version``; migrations serialized
between benches by an advisory lock).

Attachments are kept *in the database* (``attachments.content``, bytea, at most
``MAX_ATTACHMENT_BYTES``): a record is then complete on the server, and any bench or office
machine can verify and export it. ``attachment_path`` writes the stored bytes to a local,
content-addressed cache folder (``cache_dir``, by default ``$HIL_DATA/postgres-objects``) each
time it is asked, so ``verify`` hashes exactly what the server holds.

Runs left open by a bench process that died are marked interrupted when a store is next opened
*on the same host* (the run row names its host and process id), as with SQLite. A dropped
connection fails the call in progress with ``StorageError``; the next call reconnects.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from hil.core.timestamps import utc_now
from hil.records.datadir import default_data_dir
from hil.records.errors import StorageError
from hil.records.people import Kdf
from hil.records.schema import migrations
from hil.records.sqlstore import (
    Dialect,
    Migration,
    SqlRecordStore,
    SqlTransaction,
    StagedObject,
    write_object,
)
from hil.records.trust import Trust

if TYPE_CHECKING:
    import psycopg

MAX_ATTACHMENT_BYTES = 512 * 1024 * 1024
"""Largest attachment kept in the database (one bytea value is read into memory whole)."""

CONNECT_TIMEOUT_S = 10
MIGRATION_LOCK_KEY = 0x68696C7265636F72
"""``pg_advisory_xact_lock`` key serializing schema upgrades between benches ("hilrecor")."""

REGISTRY_LOCK_KEY = 0x68696C70656F706C
"""``pg_advisory_xact_lock`` key serializing people-registry appends ("hilpeopl")."""

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and logs)."""
    url = re.sub(r"(://[^:/@?#]*:)[^@/?#]*@", r"\1***@", url)
    return re.sub(r"(password=)[^&\s]*", r"\1***", url)


def to_psycopg(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s``; a literal ``%`` doubled. A ``?`` inside a quoted
    string, a quoted identifier, a comment or a dollar-quoted body is left alone (so the
    jsonb ``?`` operators cannot be used: write ``jsonb_exists(a, b)``)."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        char = sql[i]
        end = i + 1
        if char in "'\"":
            end = sql.find(char, i + 1)
            while end != -1 and sql.startswith(char, end + 1):
                end = sql.find(char, end + 2)
            end = n if end == -1 else end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end == -1 else end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end == -1 else end + 2
        elif char == "$" and (tag := re.match(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$", sql[i:])):
            close = sql.find(tag.group(0), i + len(tag.group(0)))
            end = n if close == -1 else close + len(tag.group(0))
        elif char == "?":
            out.append("%s")
            i = end
            continue
        out.append(sql[i:end].replace("%", "%%"))
        i = end
    return "".join(out)


MIGRATIONS: tuple[Migration, ...] = migrations("postgresql")
"""Same versions as ``hil.records.sqlite.MIGRATIONS``, in PostgreSQL's dialect."""


def _one_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return "; ".join(lines) or type(err).__name__


class PostgresStore(SqlRecordStore):
    """Records in the PostgreSQL database at ``url`` (``postgresql://user@host:port/db``; any
    libpq parameter works, e.g. ``?options=-csearch_path%3Dbench_a`` for a schema).

    ``cache_dir`` is where ``attachment_path`` puts the attachment bytes it fetches (default
    ``$HIL_DATA/postgres-objects``). ``readonly`` opens without creating, migrating or
    recovering anything, in a read-only session. ``kdf`` sets the scrypt cost for new people;
    ``trust`` is the trust file (default: ``$HIL_TRUST``).
    """

    dialect: ClassVar[Dialect] = "postgresql"
    MIGRATIONS: ClassVar[tuple[Migration, ...]] = MIGRATIONS
    RUN_LOCK_SUFFIX: ClassVar[str] = " FOR UPDATE"

    def __init__(
        self,
        url: str,
        *,
        cache_dir: str | Path | None = None,
        readonly: bool = False,
        kdf: Kdf | None = None,
        trust: Trust | None = None,
    ) -> None:
        super().__init__(readonly=readonly, kdf=kdf, trust=trust)
        self.url = url
        self.cache_dir = Path(cache_dir) if cache_dir else default_data_dir() / "postgres-objects"
        self._db: psycopg.Connection[Any] | None = None
        self._opened = False

    @property
    def location(self) -> str:
        return mask_url(self.url)

    # -- connection --------------------------------------------------------------------------

    def _new_connection(self) -> psycopg.Connection[Any]:
        try:
            import psycopg
        except ImportError:
            raise StorageError(
                f"records database {self.location}: PostgreSQL needs psycopg "
                "(pip install 'psycopg[binary]')"
            ) from None
        try:
            db = psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_S,
                application_name="hil-records",
            )
        except psycopg.Error as err:
            raise StorageError(
                f"records database {self.location}: cannot connect ({_one_line(err)})"
            ) from err
        except ValueError as err:  # a malformed URL (libpq's parser)
            raise StorageError(
                f"records database {self.location}: not a PostgreSQL URL ({_one_line(err)})"
            ) from err
        try:
            db.execute("SET synchronous_commit = on")
            if self.readonly:
                db.execute("SET default_transaction_read_only = on")
        except psycopg.Error as err:
            db.close()
            raise StorageError(
                f"records database {self.location}: cannot set up the session ({_one_line(err)})"
            ) from err
        return db

    def _connect(self) -> None:
        self._db = self._new_connection()
        self._opened = True

    def _disconnect(self) -> None:
        self._opened = False
        if self._db is not None:
            with contextlib.suppress(Exception):
                self._db.close()
            self._db = None

    @property
    def _is_open(self) -> bool:
        return self._opened

    def _conn(self) -> psycopg.Connection[Any]:
        """The connection, reconnecting when the last one was lost (server restart, network)."""
        if not self._opened:
            raise StorageError(f"records database {self.location}: not open")
        if self._db is None or self._db.closed or self._db.broken:
            if self._db is not None:
                with contextlib.suppress(Exception):
                    self._db.close()
            self._db = None
            self._db = self._new_connection()
        return self._db

    def _execute(self, sql: str, args: tuple[Any, ...] | None) -> Any:
        db = self._conn()
        if args is None:
            return db.execute(sql.encode("utf-8"))  # no parameters: taken as written
        return db.execute(to_psycopg(sql).encode("utf-8"), args)

    def _run_read(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._execute(sql, args).fetchall()]

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[SqlTransaction]:
        """BEGIN ... COMMIT (READ COMMITTED; durable at COMMIT), ROLLBACK on any exception."""
        with self._conn().transaction():
            yield SqlTransaction(self.dialect, self._execute)

    def _translate_error(self, err: BaseException, action: str) -> StorageError | None:
        import psycopg

        if not isinstance(err, psycopg.Error):
            return None
        return StorageError(f"records database {self.location}: {action}: {_one_line(err)}")

    def _lock_registry(self, tx: SqlTransaction) -> None:
        tx.query("SELECT pg_advisory_xact_lock(?)", (REGISTRY_LOCK_KEY,))

    def _lock_migrations(self, tx: SqlTransaction) -> None:
        tx.query("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK_KEY,))

    def _table_exists(self, name: str) -> bool:
        ((exists,),) = self._run_read("SELECT to_regclass(?) IS NOT NULL", (name,))
        return bool(exists)

    def _read_schema_version(self) -> int:
        if not self._table_exists("schema_version"):
            return 0
        ((version,),) = self._run_read("SELECT MAX(version) FROM schema_version", ())
        return int(version or 0)

    # -- attachments -------------------------------------------------------------------------

    def _stage_object(self, source: Path) -> StagedObject:
        try:
            size = source.stat().st_size
            if size > MAX_ATTACHMENT_BYTES:
                raise StorageError(
                    f"attachment {source}: {size} bytes, more than the "
                    f"{MAX_ATTACHMENT_BYTES >> 20} MiB a PostgreSQL records store keeps"
                )
            data = source.read_bytes()
        except OSError as err:
            if isinstance(err, StorageError):
                raise
            raise StorageError(f"attachment {source}: cannot read ({err.strerror})") from err
        return StagedObject(hashlib.sha256(data).hexdigest(), len(data), data)

    def _index_object(self, tx: SqlTransaction, staged: StagedObject) -> None:
        if tx.query("SELECT 1 FROM attachments WHERE sha256 = ?", (staged.sha256,)):
            return
        tx.execute(
            "INSERT INTO attachments (sha256, size_bytes, stored_utc, content) VALUES (?,?,?,?) "
            "ON CONFLICT DO NOTHING",
            (staged.sha256, staged.size_bytes, utc_now(), staged.content),
        )

    def attachment_path(self, sha256: str) -> Path | None:
        """The stored bytes, written afresh to ``cache_dir`` (None if the server lacks them)."""
        if not _SHA256.match(sha256):
            return None
        rows = self._query("SELECT content FROM attachments WHERE sha256 = ?", (sha256,))
        if not rows:
            return None
        content = bytes(rows[0][0])
        target = self.cache_dir / sha256[:2] / sha256
        try:
            write_object(target, lambda dst: dst.write(content))
        except OSError as err:
            raise StorageError(
                f"attachment cache {self.cache_dir}: cannot write ({err.strerror})"
            ) from err
        return target
