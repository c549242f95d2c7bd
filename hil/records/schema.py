"""The records schema, written once: its tables as data, and their DDL for SQLite or PostgreSQL.

``VERSIONS[i]`` is what schema version ``i + 1`` adds; ``ddl(dialect, version)`` is that
version's DDL script in one dialect, and ``migrations(dialect)`` are a back end's migrations,
running them in order. The dialects differ only in what ``_TYPES`` and the append-only triggers
spell out: column types, collation, the autoincrementing id, ``WITHOUT ROWID``, and how a
trigger refuses a change (SQLite ``RAISE(ABORT)``; PostgreSQL a PL/pgSQL function, also
refusing TRUNCATE). A table or column may exist in one dialect only.

A released version is never edited: a store already at that version does not run it again, so
the change would reach new stores only (``tests/test_records_schema.py`` checks that a store
made at version 2 matches a new one). Change the schema with a new version at the end of
``VERSIONS``, which every existing store then runs on its next writable open; a change to an
existing table needs ``Version`` to learn that kind of step (an added column, say). A version
may also add DDL of its own (``Version.extra``: version 4 adds the guards of
``hil.records.guards`` against REPLACE and against rewriting the run index).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from hil.records import guards

Dialect = Literal["sqlite", "postgresql"]
DIALECTS: tuple[Dialect, ...] = ("sqlite", "postgresql")

ColumnType = Literal["text", "ordered_text", "int32", "int64", "bytes", "row_id"]
"""``ordered_text`` is text compared and sorted byte by byte, in any database locale (ids and
timestamps that ``ORDER BY`` and prefix searches use). ``row_id`` is an autoincrementing
integer primary key."""

_TYPES: dict[Dialect, dict[ColumnType, str]] = {
    "sqlite": {
        "text": "TEXT",
        "ordered_text": "TEXT",  # SQLite's default collation (BINARY) already is byte order
        "int32": "INTEGER",
        "int64": "INTEGER",  # every SQLite INTEGER holds 64 bits
        "bytes": "BLOB",
        "row_id": "INTEGER PRIMARY KEY AUTOINCREMENT",
    },
    "postgresql": {
        "text": "TEXT",
        "ordered_text": 'TEXT COLLATE "C"',
        "int32": "INTEGER",
        "int64": "BIGINT",
        "bytes": "BYTEA",
        "row_id": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
    },
}


@dataclass(frozen=True)
class Column:
    """One column: NOT NULL unless ``nullable`` (a one-column primary key is declared only
    ``PRIMARY KEY``, as version 1 did; SQLite then still takes NULL, never written)."""

    name: str
    type: ColumnType
    nullable: bool = False
    default: str | None = None
    """SQL literal."""
    dialects: tuple[Dialect, ...] = DIALECTS
    """Where the column exists."""


@dataclass(frozen=True)
class Table:
    """One table, and whether triggers guard its rows."""

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    """Empty when a ``row_id`` column is the key."""
    append_only: str | None = None
    """When set, triggers refuse UPDATE and DELETE (and TRUNCATE) with this message."""
    append_only_dialects: tuple[Dialect, ...] = DIALECTS
    without_rowid: bool = False
    """SQLite ``WITHOUT ROWID`` (the primary key is the storage order)."""


@dataclass(frozen=True)
class Version:
    """What one schema version adds."""

    tables: tuple[Table, ...]
    extra: Callable[[Dialect], str] | None = None
    """Further DDL (triggers, functions) in a dialect, run after the tables."""


def _text(name: str, *, nullable: bool = False) -> Column:
    return Column(name, "text", nullable=nullable)


RUNS = Table(
    "runs",
    (
        Column("run_id", "ordered_text"),
        Column("created_utc", "ordered_text"),
        _text("card_number"),
        _text("revision"),
        _text("title"),
        _text("lander"),
        _text("operator_id"),
        _text("status"),
        _text("outcome", nullable=True),
        _text("finished_utc", nullable=True),
        _text("owner_host"),
        Column("owner_pid", "int32"),
        Column("head_seq", "int32"),
        _text("head_hash"),
    ),
    primary_key=("run_id",),
)

EVENTS = Table(
    "events",
    (
        Column("run_id", "ordered_text"),
        Column("seq", "int32"),
        _text("kind"),
        _text("utc"),
        _text("payload"),
        _text("prev_hash"),
        _text("hash"),
    ),
    primary_key=("run_id", "seq"),
    append_only="events are append-only",
    without_rowid=True,
)

ATTACHMENTS = Table(
    "attachments",
    (
        Column("sha256", "ordered_text"),
        Column("size_bytes", "int64"),
        _text("stored_utc"),
        Column("content", "bytes", dialects=("postgresql",)),
    ),
    primary_key=("sha256",),
    # On SQLite the contents are files under objects/ and this table only indexes them;
    # version 1 made it without guards there (verify checks each file's hash instead).
    append_only="attachments are append-only",
    append_only_dialects=("postgresql",),
)

PEOPLE = Table(
    "people",
    (
        Column("person_id", "ordered_text"),
        _text("printed_name"),
        _text("roles"),
        _text("authorizations"),
        _text("public_key"),
        _text("key_id"),
        _text("status"),
        _text("created_utc"),
        _text("revoked_utc", nullable=True),
        _text("revoke_reason", nullable=True),
        Column("failed_attempts", "int32", default="0"),
        _text("kdf"),
        Column("secret_salt", "bytes"),
        Column("secret_hash", "bytes"),
        Column("key_salt", "bytes"),
        Column("key_nonce", "bytes"),
        Column("key_ciphertext", "bytes"),
    ),
    primary_key=("person_id",),
)

AUTH_LOG = Table(
    "auth_log",
    (
        Column("id", "row_id"),
        _text("utc"),
        _text("person_id"),
        Column("ok", "int32"),
        _text("purpose"),
        _text("detail"),
    ),
    append_only="the authentication log is append-only",
)

REGISTRY = Table(
    "registry",
    (
        Column("seq", "int32"),
        _text("kind"),
        _text("utc"),
        _text("payload"),
        _text("prev_hash"),
        _text("hash"),
    ),
    primary_key=("seq",),
    append_only="the people registry is append-only",
)
"""The people registry chain (``hil.records.registry``): who may sign, signed by admins."""

VERSIONS: tuple[Version, ...] = (
    Version((RUNS, EVENTS, ATTACHMENTS)),
    Version((PEOPLE, AUTH_LOG)),
    Version((REGISTRY,)),
    Version((), extra=guards.version4),
)
"""Schema version ``i + 1`` adds ``VERSIONS[i]``. Append, never edit (module docstring)."""

SCHEMA_VERSION = len(VERSIONS)

_REFUSE_CHANGE = """
CREATE FUNCTION hil_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    RAISE EXCEPTION USING MESSAGE = TG_ARGV[0], ERRCODE = 'restrict_violation';
END
$body$;
"""
"""The PostgreSQL trigger function every append-only guard calls (created by version 1)."""


def _column_sql(column: Column, dialect: Dialect, inline_key: bool) -> str:
    sql = f"{column.name} {_TYPES[dialect][column.type]}"
    if inline_key:
        sql += " PRIMARY KEY"
    elif not column.nullable and column.type != "row_id":
        sql += " NOT NULL"
    if column.default is not None:
        sql += f" DEFAULT {column.default}"
    return sql


def create_table(table: Table, dialect: Dialect) -> str:
    """``CREATE TABLE`` for ``table`` in ``dialect``."""
    inline = table.primary_key[0] if len(table.primary_key) == 1 else None
    lines = [
        _column_sql(column, dialect, column.name == inline)
        for column in table.columns
        if dialect in column.dialects
    ]
    if len(table.primary_key) > 1:
        lines.append(f"PRIMARY KEY ({', '.join(table.primary_key)})")
    body = ",\n    ".join(lines)
    tail = " WITHOUT ROWID" if table.without_rowid and dialect == "sqlite" else ""
    return f"CREATE TABLE {table.name} (\n    {body}\n){tail};\n"


def append_only_triggers(table: Table, dialect: Dialect) -> str:
    """The triggers refusing changes to ``table`` ("" when it has none in ``dialect``)."""
    message = table.append_only
    if message is None or dialect not in table.append_only_dialects:
        return ""
    if "'" in message:
        raise ValueError(f"table {table.name}: a quote in the append-only message")
    name = table.name
    if dialect == "sqlite":
        return "".join(
            f"CREATE TRIGGER {name}_append_only_{action.lower()} BEFORE {action} ON {name}\n"
            f"    BEGIN SELECT RAISE(ABORT, '{message}'); END;\n"
            for action in ("UPDATE", "DELETE")
        )
    return (
        f"CREATE TRIGGER {name}_append_only BEFORE UPDATE OR DELETE ON {name}\n"
        f"    FOR EACH ROW EXECUTE FUNCTION hil_refuse_change('{message}');\n"
        f"CREATE TRIGGER {name}_no_truncate BEFORE TRUNCATE ON {name}\n"
        f"    FOR EACH STATEMENT EXECUTE FUNCTION hil_refuse_change('{message}');\n"
    )


def ddl(dialect: Dialect, version: int) -> str:
    """The DDL script that brings the schema from ``version - 1`` to ``version`` (1-based)."""
    if not 1 <= version <= SCHEMA_VERSION:
        raise ValueError(f"records schema version {version}: there are 1 to {SCHEMA_VERSION}")
    step = VERSIONS[version - 1]
    parts: list[str] = []
    if dialect == "postgresql" and version == 1:
        parts.append(_REFUSE_CHANGE)
    for table in step.tables:
        parts.append(create_table(table, dialect))
        parts.append(append_only_triggers(table, dialect))
    if step.extra is not None:
        parts.append(step.extra(dialect))
    return "".join(parts)


class _Script(Protocol):
    def script(self, sql: str) -> None: ...


def migrations(dialect: Dialect) -> tuple[Callable[[_Script], None], ...]:
    """The records migrations in ``dialect`` (for ``SqlRecordStore.MIGRATIONS``): migration ``i``
    runs ``ddl(dialect, i + 1)`` in the migration's transaction (``SqlTransaction.script``)."""

    def migration(version: int) -> Callable[[_Script], None]:
        def migrate(tx: _Script) -> None:
            tx.script(ddl(dialect, version))

        migrate.__name__ = f"records_v{version}_{dialect}"
        return migrate

    return tuple(migration(version) for version in range(1, SCHEMA_VERSION + 1))
