"""The records against someone with write access to the database but no signer's secret: an
edited run index (outcome, lander, card, operator) is named by ``verify`` and never credited by
the fleet, an end appended behind the store's back is found, and the index can be rebuilt from
the events. Every test runs on SQLite and on a real PostgreSQL server (``tests/pg_server.py``;
skipped where none is installed), the edits made with plain SQL past the store."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pg_server import PgServer
from records_people import administer

from hil.cli.main import main
from hil.fleet import Counters, Fleet, load_program
from hil.records import Authorization, Kdf, PostgresStore, SqliteStore, sign, verify
from hil.records.canonical import canonical_json, event_hash
from hil.records.postgres import to_psycopg
from hil.records.runindex import derive_run_info
from hil.records.sqlite import DB_NAME
from hil.records.sqlstore import SqlRecordStore

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "hil" / "data" / "fleet" / "program.toml"
LANDER = "HR-M3-SN002"
OTHER = "HR-M3-SN009"
IMU = "LL-34-21-00-720-801"  # IMU static: first at 2 descents
SECRETS = {"tech": "tech-secret", "insp": "insp-secret"}
VALID = Authorization("LL-*", "CERT-1", date.today() + timedelta(days=365))


class Adversary:
    """Plain SQL on the records database, past the store: the SQLite file, or the tables'
    owner on PostgreSQL. ``edit`` first removes whatever triggers guard the table."""

    store_arg = ""

    def open(self) -> SqlRecordStore:
        raise NotImplementedError

    def sql(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def edit(self, table: str, sql: str, *args: Any) -> None:
        raise NotImplementedError


class SqliteAdversary(Adversary):
    def __init__(self, data: Path) -> None:
        self.data = data
        self.store_arg = str(data)

    def open(self) -> SqlRecordStore:
        return SqliteStore(self.data, kdf=Kdf(n=2**10))

    def sql(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with contextlib.closing(sqlite3.connect(self.data / DB_NAME)) as db, db:
            return db.execute(sql, args).fetchall()

    def edit(self, table: str, sql: str, *args: Any) -> None:
        with contextlib.closing(sqlite3.connect(self.data / DB_NAME)) as db, db:
            triggers = db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (table,)
            ).fetchall()
            for (name,) in triggers:
                db.execute(f"DROP TRIGGER {name}")
            db.execute(sql, args)


class PostgresAdversary(Adversary):
    def __init__(self, server: PgServer, cache: Path) -> None:
        self.server = server
        self.schema = server.new_schema()
        self.store_arg = server.url(self.schema)
        self.cache = cache

    def open(self) -> SqlRecordStore:
        return PostgresStore(self.store_arg, cache_dir=self.cache, kdf=Kdf(n=2**10))

    def sql(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with self.server.admin(self.schema) as db:
            cursor = db.execute(to_psycopg(sql), args)
            return cursor.fetchall() if cursor.description else []

    def edit(self, table: str, sql: str, *args: Any) -> None:
        with self.server.admin(self.schema) as db:
            db.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            db.execute(to_psycopg(sql), args)


@pytest.fixture(params=["sqlite", "postgresql"])
def adversary(request: pytest.FixtureRequest, tmp_path: Path) -> Adversary:
    if request.param == "sqlite":
        return SqliteAdversary(tmp_path / "data")
    return PostgresAdversary(request.getfixturevalue("pg_server"), tmp_path / "cache")


@pytest.fixture
def store(adversary: Adversary) -> Iterator[SqlRecordStore]:
    with adversary.open() as opened:
        people = administer(opened)
        people.add("tech", "Jane Tech", ["technician"], SECRETS["tech"], [VALID])
        people.add("insp", "Ian Spector", ["inspector"], SECRETS["insp"], [VALID])
        yield opened


def card_run(
    store: SqlRecordStore, *, lander: str = LANDER, outcome: str = "PASS", signed: bool = True
) -> str:
    """A finished three-step IMU card run, signed ``performed`` on the whole card."""
    run_id = store.create_run(
        {"card": {"number": IMU, "revision": "A", "title": "IMU"}, "lander": lander,
         "operator_id": "tech"}
    )  # fmt: skip
    for step in (1, 2, 3):
        store.append(
            run_id,
            "attempt",
            {"step": step, "attempt": 1, "rii": False, "outcome": outcome,
             "started_utc": "2026-06-05T10:00:00+00:00",
             "finished_utc": "2026-06-05T10:00:01+00:00"},
        )  # fmt: skip
    store.finish(run_id, outcome)
    if signed:
        sign(store, run_id, "tech", SECRETS["tech"], "performed")
    return run_id


@pytest.fixture
def fleet(store: SqlRecordStore) -> Iterator[Fleet]:
    clock = datetime.now(UTC) - timedelta(days=10)
    with Fleet(store, now=lambda: clock) as opened:
        opened.load_program(load_program(PROGRAM))
        for serial in (LANDER, OTHER):
            opened.add_lander(serial, "HR-M3", "baseline", clock.date() - timedelta(days=5))
            opened.set_counters(serial, Counters(descents=2, powered_h=3.0), "flight log")
        yield opened


# -- the run index says what the events say ---------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "seq"),
    [
        ("outcome", "PASS", 5),
        ("lander", OTHER, 1),
        ("card_number", "LL-34-99-00-000-000", 1),
        ("revision", "Z", 1),
        ("operator_id", "insp", 1),
        ("status", "open", 5),
        ("finished_utc", "2030-01-01T00:00:00+00:00", 5),
    ],
)
def test_verify_names_an_edited_run_index_field(
    store: SqlRecordStore, adversary: Adversary, column: str, value: str, seq: int
) -> None:
    run_id = card_run(store, outcome="FAIL")
    assert verify(store, run_id).ok
    adversary.edit("runs", f"UPDATE runs SET {column} = ? WHERE run_id = ?", value, run_id)
    report = verify(store, run_id)
    assert not report.ok and report.index_field == column and report.first_bad_event == seq
    assert f"the run index says {column} {value!r}" in report.describe()
    assert report.describe().startswith(f"run {run_id}: FAILED at event {seq}:")


def test_a_failed_run_turned_pass_in_the_index_completes_nothing_and_is_named(
    store: SqlRecordStore, adversary: Adversary, fleet: Fleet
) -> None:
    run_id = card_run(store, outcome="FAIL")
    adversary.edit("runs", "UPDATE runs SET outcome = 'PASS' WHERE run_id = ?", run_id)
    report = fleet.sync_report()
    assert report.done == []
    (refused,) = report.refused
    assert refused.startswith(f"card {IMU} run {run_id} on lander {LANDER} refused:")
    assert "the run index says outcome 'PASS' but the record says 'FAIL'" in refused
    (imu,) = [i for i in fleet.due(LANDER) if i.card_number == IMU]
    assert imu.last is None
    assert fleet.refused_runs(LANDER) == [refused]
    assert any(run_id in reason for reason in fleet.release_blockers(LANDER))


def test_a_run_moved_to_another_lander_completes_nothing_there(
    store: SqlRecordStore, adversary: Adversary, fleet: Fleet, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = card_run(store, lander=LANDER)
    adversary.edit("runs", "UPDATE runs SET lander = ? WHERE run_id = ?", OTHER, run_id)
    assert fleet.sync(OTHER) == []
    (imu,) = [i for i in fleet.due(OTHER) if i.card_number == IMU]
    assert imu.last is None
    (refused,) = fleet.refused_runs(OTHER)
    assert f"run {run_id} on lander {OTHER} refused" in refused and repr(LANDER) in refused
    # and the CLI says so, in the sync and under the due list
    assert main(["fleet", "sync", "--store", adversary.store_arg]) == 0
    assert f"run {run_id} on lander {OTHER} refused" in capsys.readouterr().out
    assert main(["fleet", "due", "--lander", OTHER, "--store", adversary.store_arg]) == 0
    out = capsys.readouterr().out
    assert "card runs not credited" in out and f"run {run_id} on lander {OTHER}" in out


def test_an_honest_signed_run_still_completes_its_due_item(
    store: SqlRecordStore, fleet: Fleet
) -> None:
    run_id = card_run(store)
    report = fleet.sync_report()
    assert report.refused == [] and len(report.done) == 1 and run_id in report.done[0]


def _append_raw(adversary: Adversary, run_id: str, kind: str, payload: dict[str, Any]) -> int:
    """Chain one event onto the run's last one, as anyone can without a secret."""
    ((seq, head),) = adversary.sql(
        "SELECT seq, hash FROM events WHERE run_id = ? ORDER BY seq DESC LIMIT 1", run_id
    )
    utc = datetime.now(UTC).isoformat()
    text = canonical_json(payload)
    digest = event_hash(run_id, seq + 1, kind, utc, head, text)
    adversary.sql(
        "INSERT INTO events (run_id, seq, kind, utc, payload, prev_hash, hash) "
        "VALUES (?,?,?,?,?,?,?)",
        run_id, seq + 1, kind, utc, text, head, digest,
    )  # fmt: skip
    adversary.edit(
        "runs",
        "UPDATE runs SET head_seq = ?, head_hash = ? WHERE run_id = ?",
        seq + 1, digest, run_id,
    )  # fmt: skip
    return seq + 1


def test_a_second_end_appended_past_the_store_is_named_and_not_credited(
    store: SqlRecordStore, adversary: Adversary, fleet: Fleet
) -> None:
    run_id = card_run(store, outcome="FAIL")
    seq = _append_raw(adversary, run_id, "run_finished", {"outcome": "PASS"})
    report = verify(store, run_id)
    assert not report.ok and report.first_bad_event == seq
    assert "'run_finished' after the run ended ('run_finished' at event 5)" in report.reason
    assert fleet.sync() == []


def test_an_outcome_nobody_signed_is_not_credited(
    store: SqlRecordStore, adversary: Adversary, fleet: Fleet
) -> None:
    """A run whose steps are signed one by one but whose end was appended afterwards, unsigned
    (by the store, or chained in by someone with the database)."""
    run_id = store.create_run(
        {"card": {"number": IMU, "revision": "A", "title": "IMU"}, "lander": LANDER,
         "operator_id": "tech"}
    )  # fmt: skip
    for step in (1, 2, 3):
        store.append(
            run_id, "attempt",
            {"step": step, "attempt": 1, "outcome": "PASS",
             "finished_utc": "2026-06-05T10:00:01+00:00"},
        )  # fmt: skip
    sign(store, run_id, "tech", SECRETS["tech"], "performed", [1, 2, 3])
    store.finish(run_id, "PASS")
    assert verify(store, run_id).ok
    assert fleet.sync() == []
    assert fleet.signature_gaps(run_id) == ["no signature covers its outcome (event 6)"]


def test_the_run_index_is_derived_from_the_events(store: SqlRecordStore) -> None:
    run_id = card_run(store, outcome="MARGINAL")
    open_run = store.create_run({"card": {"number": IMU}, "lander": LANDER, "operator_id": "x"})
    for rid in (run_id, open_run):
        derived = derive_run_info(rid, store.events(rid))
        assert derived == store.run(rid)
        report = verify(store, rid)
        assert report.ok and report.facts == derived


# -- append-only against ordinary SQL ---------------------------------------------------------

_COPY = {
    "events": (
        "(run_id, seq, kind, utc, payload, prev_hash, hash)",
        "SELECT run_id, seq, kind, utc, '{}', prev_hash, hash FROM events WHERE seq = 2",
        "(run_id, seq)",
        "payload = excluded.payload",
        "payload = '{}'",
    ),
    "auth_log": (
        "(id, utc, person_id, ok, purpose, detail)",
        "SELECT id, utc, person_id, 1, purpose, 'rewritten' FROM auth_log WHERE ok = 0",
        "(id)",
        "ok = excluded.ok",
        "ok = 1",
    ),
    "attachments": (
        "(sha256, size_bytes, stored_utc)",
        "SELECT sha256, 1, stored_utc FROM attachments WHERE size_bytes > 1",
        "(sha256)",
        "size_bytes = excluded.size_bytes",
        "size_bytes = 1",
    ),
    "runs": (
        "(run_id, created_utc, card_number, revision, title, lander, operator_id, status, "
        "outcome, finished_utc, owner_host, owner_pid, head_seq, head_hash)",
        "SELECT run_id, created_utc, card_number, revision, title, lander, operator_id, status, "
        "'PASS', finished_utc, owner_host, owner_pid, head_seq, head_hash FROM runs "
        "WHERE outcome = 'FAIL'",
        "(run_id)",
        "outcome = excluded.outcome",
        "outcome = 'PASS'",
    ),
}
"""Per table: its columns, a SELECT of one stored row with a value changed, its key, and the
change an upsert makes, and an UPDATE that changes it."""


def _rewrites(dialect: str, table: str) -> list[str]:
    """Statements that would rewrite a stored row of ``table`` without UPDATE or DELETE."""
    columns, changed, key, change, update = _COPY[table]
    if table == "attachments" and dialect == "postgresql":  # the content is in the row there
        columns = columns.replace(")", ", content)")
        changed = changed.replace(" FROM", ", content FROM")
    if table == "auth_log" and dialect == "postgresql":  # an identity column takes no value
        columns += " OVERRIDING SYSTEM VALUE"
    upsert = f"INSERT INTO {table} {columns} {changed} ON CONFLICT {key} DO UPDATE SET {change}"
    found = [upsert, f"UPDATE {table} SET {update}"]
    found.append(f"DELETE FROM {table}")
    if dialect == "sqlite":
        found += [
            f"INSERT OR REPLACE INTO {table} {columns} {changed}",
            f"REPLACE INTO {table} {columns} {changed}",
            f"INSERT OR IGNORE INTO {table} {columns} {changed}",
            f"INSERT INTO {table} {columns} {changed} ON CONFLICT DO NOTHING",
        ]
    else:
        found.append(f"TRUNCATE {table}")
    return found


def _a_failed_run_with_everything(store: SqlRecordStore, tmp_path: Path) -> str:
    run_id = card_run(store, outcome="FAIL")
    evidence = tmp_path / "evidence.txt"
    evidence.write_text("bus log\n")
    store.attach(run_id, evidence)
    with pytest.raises(Exception, match="secret"):
        sign(store, run_id, "insp", "wrong secret", "performed")
    return run_id


def _snapshot(adversary: Adversary) -> list[list[tuple[Any, ...]]]:
    return [adversary.sql(f"SELECT * FROM {table} ORDER BY 1") for table in sorted(_COPY)]


@pytest.mark.parametrize("table", sorted(_COPY))
def test_ordinary_sql_rewrites_no_stored_row(
    store: SqlRecordStore, adversary: Adversary, tmp_path: Path, table: str
) -> None:
    run_id = _a_failed_run_with_everything(store, tmp_path)
    before = _snapshot(adversary)
    dialect = "sqlite" if isinstance(adversary, SqliteAdversary) else "postgresql"
    for statement in _rewrites(dialect, table):
        with pytest.raises(Exception, match=r"append-only|never|are what|is its"):
            adversary.sql(statement)
    assert _snapshot(adversary) == before
    assert verify(store, run_id).ok


def test_a_replaced_event_is_refused_where_version_2_let_it_through(tmp_path: Path) -> None:
    """The hole version 4 closes: REPLACE deletes without firing delete triggers."""
    data = tmp_path / "data"
    with SqliteStore(data) as store:
        run_id = store.create_run({"card": {"number": IMU}, "lander": LANDER})
    with contextlib.closing(sqlite3.connect(data / DB_NAME)) as db:
        db.execute("DROP TRIGGER events_append_only_insert")  # as version 2 had it
        db.execute(
            "INSERT OR REPLACE INTO events SELECT run_id, seq, kind, utc, '{}', prev_hash, hash "
            "FROM events WHERE run_id = ?",
            (run_id,),
        )
        db.commit()
    with SqliteStore(data, readonly=True) as store:
        report = verify(store, run_id)
    assert not report.ok and report.first_bad_event == 1 and "edited?" in report.reason


def test_the_postgres_bench_role_appends_and_rewrites_nothing(
    pg_server: PgServer, tmp_path: Path
) -> None:
    """The documented least-privilege login: records written through it verify, and nothing
    it may run changes a stored row, the run index included, or switches a guard off."""
    import psycopg

    from hil.records.guards import bench_role_sql

    schema = pg_server.new_schema()
    role = f"bench_{schema}"
    owner_url = pg_server.url(schema)
    with PostgresStore(owner_url, cache_dir=tmp_path / "cache", kdf=Kdf(n=2**10)) as owner:
        administer(owner).add("tech", "Jane Tech", ["technician"], SECRETS["tech"], [VALID])
        Fleet(owner).close()  # the owner creates the fleet's tables too
    with pg_server.admin(schema) as db:
        db.execute(f"CREATE ROLE {role} LOGIN")
        db.execute(bench_role_sql(role, schema).encode())
    bench_url = owner_url.replace("postgres@", f"{role}@")
    with PostgresStore(bench_url, cache_dir=tmp_path / "cache", kdf=Kdf(n=2**10)) as bench:
        failed = card_run(bench, outcome="FAIL")
        passed = card_run(bench)
        evidence = tmp_path / "evidence.txt"
        evidence.write_text("bus log\n")
        bench.attach(passed, evidence)
        assert verify(bench, failed).ok and verify(bench, passed).ok
        with Fleet(bench) as fleet:  # the fleet's own tables stay writable
            fleet.add_lander(LANDER, "HR-M3", "baseline", date.today())
    attempts = [
        "UPDATE events SET payload = '{}'",
        "DELETE FROM events",
        "TRUNCATE events",
        "INSERT INTO events SELECT * FROM events WHERE seq = 1 "
        "ON CONFLICT (run_id, seq) DO UPDATE SET payload = '{}'",
        "UPDATE runs SET outcome = 'PASS' WHERE outcome = 'FAIL'",
        "UPDATE runs SET lander = 'HR-M3-SN009'",
        "UPDATE runs SET head_seq = 1",
        "DELETE FROM runs",
        "TRUNCATE runs",
        "UPDATE attachments SET size_bytes = 1",
        "DELETE FROM auth_log",
        "ALTER TABLE events DISABLE TRIGGER USER",
        "DROP TRIGGER events_append_only ON events",
        "ALTER TABLE runs DISABLE TRIGGER runs_follow_events",
        "SET session_replication_role = replica",
        "DROP TABLE events",
    ]
    before = [
        pg_server.admin(schema).execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
        for t in ("events", "runs", "attachments", "auth_log")
    ]
    for statement in attempts:
        with psycopg.connect(bench_url, autocommit=True) as db:
            with pytest.raises(psycopg.Error) as refused:
                db.execute(statement)
            assert isinstance(
                refused.value, psycopg.errors.InsufficientPrivilege | psycopg.errors.IntegrityError
            ), statement
    after = [
        pg_server.admin(schema).execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
        for t in ("events", "runs", "attachments", "auth_log")
    ]
    assert after == before


def test_the_cli_prints_the_bench_role_grants(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["records", "bench-role", "hil_bench", "--schema", "lab"]) == 0
    out = capsys.readouterr().out
    assert "GRANT UPDATE (status, outcome, finished_utc, head_seq, head_hash) ON runs" in out
    assert "DELETE" not in out and "TRUNCATE" not in out
    assert main(["records", "bench-role", "bench; DROP TABLE events"]) == 2
    assert "bench-role:" in capsys.readouterr().err


# -- sign-off: one meaning once per person and scope ------------------------------------------


def test_the_same_person_cannot_sign_the_same_meaning_on_the_same_scope_twice(
    store: SqlRecordStore,
) -> None:
    from hil.records import SignoffRefused

    run_id = card_run(store, signed=False)
    sign(store, run_id, "tech", SECRETS["tech"], "performed", [1, 2])
    with pytest.raises(SignoffRefused, match=r"already signed 'performed' on step 2 \(event 6\)"):
        sign(store, run_id, "tech", SECRETS["tech"], "performed", [2, 3])
    sign(store, run_id, "tech", SECRETS["tech"], "performed", [3])
    sign(store, run_id, "tech", SECRETS["tech"], "performed")  # the whole card: a new scope
    with pytest.raises(SignoffRefused, match="already signed 'performed' on the whole card"):
        sign(store, run_id, "tech", SECRETS["tech"], "performed")
    with pytest.raises(SignoffRefused, match="already signed 'performed' on step 1"):
        sign(store, run_id, "tech", SECRETS["tech"], "performed", [1])
    meanings = [e.payload["steps"] for e in store.events(run_id) if e.kind == "signature"]
    assert meanings == [[1, 2], [3], []]
    assert verify(store, run_id).ok
