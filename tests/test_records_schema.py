"""The records schema written once (``hil.records.schema``): a store that hil made before the DDL
was generated still opens, takes new records and verifies, and has the very schema a new store
gets, on SQLite and on a real PostgreSQL server (``tests/pg_server.py``)."""

from __future__ import annotations

import contextlib
import re
import sqlite3
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from pg_server import PgServer
from records_people import administer

from hil.records import Authorization, Kdf, PostgresStore, SqliteStore, sign, verify
from hil.records.schema import DIALECTS, SCHEMA_VERSION, ddl
from hil.records.sqlite import DB_NAME
from hil.records.sqlstore import SqlRecordStore

EARLIER = Path(__file__).parent / "records_schema"
VALID = Authorization("LL-*", "CERT-1", date.today() + timedelta(days=365))


def _sqlite_schema(data: Path) -> list[tuple[str, ...]]:
    with contextlib.closing(sqlite3.connect(data / DB_NAME)) as db:
        rows = db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    return sorted(
        (kind, name, table, re.sub(r"\s+", " ", sql or "")) for kind, name, table, sql in rows
    )


_PG_SCHEMA = (
    "SELECT table_name, ordinal_position, column_name, data_type, is_nullable, column_default, "
    "collation_name, is_identity, identity_generation FROM information_schema.columns "
    "WHERE table_schema = %(s)s ORDER BY 1, 2",
    "SELECT tc.table_name, tc.constraint_type, kcu.column_name, kcu.ordinal_position "
    "FROM information_schema.table_constraints tc JOIN information_schema.key_column_usage kcu "
    "USING (constraint_schema, constraint_name) WHERE tc.table_schema = %(s)s ORDER BY 1, 2, 4",
    "SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
    "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = %(s)s AND NOT t.tgisinternal ORDER BY 1, 2",
    "SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p "
    "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %(s)s ORDER BY 1",
    "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = %(s)s ORDER BY 1, 2",
)


def _pg_schema(server: PgServer, schema: str) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    with server.admin() as db:
        for sql in _PG_SCHEMA:
            for row in db.execute(sql, {"s": schema}).fetchall():
                found.append(tuple(str(v).replace(f"{schema}.", "S.") for v in row))
    return found


def _use(store: SqlRecordStore) -> None:
    """What a bench does with a store: people, a run with an attachment, sign-off, verify."""
    administer(store).add("tech", "Jane Tech", ["technician"], "tech-secret", [VALID])
    run_id = store.create_run(
        {"card": {"number": "LL-34-1", "revision": "A"}, "lander": "HR-2", "operator_id": "tech"}
    )
    store.append(run_id, "attempt", {"step": 1, "attempt": 1, "outcome": "PASS"})
    store.finish(run_id, "PASS")
    sign(store, run_id, "tech", "tech-secret", "performed")
    assert verify(store, run_id).ok
    assert [a["ok"] for a in store.people.auth_log("tech")] == [True]


def test_a_sqlite_store_made_before_the_shared_schema_opens_and_matches_a_new_one(
    tmp_path: Path,
) -> None:
    earlier, fresh = tmp_path / "earlier", tmp_path / "fresh"
    earlier.mkdir()
    with contextlib.closing(sqlite3.connect(earlier / DB_NAME)) as db:
        db.executescript((EARLIER / "v2-sqlite.sql").read_text())
    with SqliteStore(earlier, kdf=Kdf(n=2**10)) as store:
        _use(store)
    with (
        contextlib.closing(sqlite3.connect(earlier / DB_NAME)) as db,
        pytest.raises(sqlite3.IntegrityError, match="events are append-only"),
    ):
        db.execute("DELETE FROM events")
    with SqliteStore(fresh):
        pass
    assert _sqlite_schema(earlier) == _sqlite_schema(fresh)


def test_a_postgres_store_made_before_the_shared_schema_opens_and_matches_a_new_one(
    pg_server: PgServer, tmp_path: Path
) -> None:
    import psycopg

    earlier, fresh = pg_server.new_schema(), pg_server.new_schema()
    with pg_server.admin(earlier) as db:
        db.execute((EARLIER / "v2-postgresql.sql").read_text().encode())
    store = PostgresStore(pg_server.url(earlier), cache_dir=tmp_path / "cache", kdf=Kdf(n=2**10))
    with store:
        _use(store)
    with (
        pg_server.admin(earlier) as db,
        pytest.raises(psycopg.errors.IntegrityError, match="events are append-only"),
    ):
        db.execute("TRUNCATE events")
    with PostgresStore(pg_server.url(fresh), cache_dir=tmp_path / "cache"):
        pass
    assert _pg_schema(pg_server, earlier) == _pg_schema(pg_server, fresh)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_each_schema_version_has_ddl_and_no_other(dialect: Any) -> None:
    scripts = [ddl(dialect, version) for version in range(1, SCHEMA_VERSION + 1)]
    assert all("CREATE TABLE" in script or "CREATE TRIGGER" in script for script in scripts)
    assert ("hil_refuse_change()" in scripts[0]) == (dialect == "postgresql")
    for version in (0, SCHEMA_VERSION + 1):
        with pytest.raises(ValueError, match="records schema version"):
            ddl(dialect, version)
