"""As-run records as an auditor meets them: tampering found by verify, sign-off rules refused,
wrong secrets logged, and a record that survives a killed bench, a full disk, a lost server or
two benches appending at once. Every store test runs on SQLite and on a real PostgreSQL server
(``tests/pg_server.py``; skipped where none is installed)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from pg_server import PgServer
from records_people import administer

from hil.records import (
    AuthenticationError,
    Authorization,
    Kdf,
    PostgresStore,
    RecordError,
    SignoffRefused,
    SqliteStore,
    StorageError,
    StoreRecorder,
    correct,
    event_hash,
    export_html,
    export_json,
    redline,
    sign,
    verify,
)
from hil.records.canonical import event_hash_of
from hil.records.postgres import to_psycopg
from hil.records.sqlite import DB_NAME
from hil.records.sqlstore import SqlRecordStore

CARD = "LL-34-21-00-720-801"
VALID = Authorization("LL-34-*", "CERT-1", date.today() + timedelta(days=365))
SECRETS = {"tech": "tech-secret", "insp": "insp-secret", "eng": "eng-secret", "both": "both-secret"}


class Backend:
    """One kind of store under test: opens stores on one location, and reaches past the store
    into the database the way someone with the file or a superuser login could."""

    name = ""
    url = ""
    integrity_error: type[Exception] = Exception

    def open(self, *, readonly: bool = False, kdf: Kdf | None = None) -> SqlRecordStore:
        raise NotImplementedError

    def raw(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Run SQL directly (``?`` placeholders), the append-only triggers still in place."""
        raise NotImplementedError

    def tamper(self, sql: str, *args: Any) -> None:
        """Drop (or disable) the append-only guards, then edit."""
        raise NotImplementedError


class SqliteBackend(Backend):
    name = "sqlite"
    integrity_error: type[Exception] = sqlite3.IntegrityError

    def __init__(self, data: Path) -> None:
        self.data = data
        self.url = str(data)

    def open(self, *, readonly: bool = False, kdf: Kdf | None = None) -> SqlRecordStore:
        return SqliteStore(self.data, readonly=readonly, kdf=kdf)

    def raw(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with contextlib.closing(sqlite3.connect(self.data / DB_NAME)) as db, db:
            return db.execute(sql, args).fetchall()

    def tamper(self, sql: str, *args: Any) -> None:
        with contextlib.closing(sqlite3.connect(self.data / DB_NAME)) as db, db:
            db.execute("DROP TRIGGER IF EXISTS events_append_only_update")
            db.execute("DROP TRIGGER IF EXISTS events_append_only_delete")
            db.execute(sql, args)


class PostgresBackend(Backend):
    name = "postgresql"

    def __init__(self, server: PgServer, cache: Path) -> None:
        import psycopg

        self.integrity_error = psycopg.errors.IntegrityError
        self.server = server
        self.schema = server.new_schema()
        self.url = server.url(self.schema)
        self.cache = cache

    def open(self, *, readonly: bool = False, kdf: Kdf | None = None) -> SqlRecordStore:
        return PostgresStore(self.url, cache_dir=self.cache, readonly=readonly, kdf=kdf)

    def raw(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with self.server.admin(self.schema) as db:
            cursor = db.execute(to_psycopg(sql), args)
            return cursor.fetchall() if cursor.description else []

    def tamper(self, sql: str, *args: Any) -> None:
        with self.server.admin(self.schema) as db:
            db.execute("ALTER TABLE events DISABLE TRIGGER USER")
            db.execute("ALTER TABLE attachments DISABLE TRIGGER USER")
            db.execute(to_psycopg(sql), args)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return SqliteBackend(tmp_path / "data")
    return PostgresBackend(request.getfixturevalue("pg_server"), tmp_path / "cache")


def _with_people(opened: SqlRecordStore) -> SqlRecordStore:
    people = administer(opened)
    people.add("tech", "Jane Tech", ["technician"], SECRETS["tech"], [VALID])
    people.add("insp", "Ian Spector", ["inspector"], SECRETS["insp"], [VALID])
    people.add("eng", "Eve Engineer", ["engineer"], SECRETS["eng"], [VALID])
    people.add("both", "Bo Th", ["technician", "inspector"], SECRETS["both"], [VALID])
    return opened


@pytest.fixture
def store(backend: Backend) -> Iterator[SqlRecordStore]:
    with backend.open(kdf=Kdf(n=2**10)) as opened:
        yield _with_people(opened)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteStore]:
    with SqliteStore(tmp_path / "data", kdf=Kdf(n=2**10)) as opened:
        _with_people(opened)
        yield opened


def attempt(step: int, *, rii: bool = False, value: float = 10.0) -> dict[str, Any]:
    return {
        "step": step,
        "kind": "measurement",
        "text": f"Measure IMU rate (step {step})",
        "attempt": 1,
        "rii": rii,
        "started_utc": "2025-06-05T10:00:00.000+00:00",
        "finished_utc": "2025-06-05T10:00:01.000+00:00",
        "outcome": "PASS",
        "name": "imu_rate_hz",
        "value": value,
        "unit": "Hz",
        "low": 9.5,
        "high": 10.5,
    }


def new_run(store: SqlRecordStore, operator: str = "tech", finish: bool = True) -> str:
    run_id = store.create_run(
        {
            "card": {"number": CARD, "revision": "B", "title": "IMU"},
            "lander": "HR-2",
            "operator_id": operator,
        }
    )
    for step in (1, 2, 3):
        store.append(run_id, "attempt", attempt(step, rii=step == 2))
    if finish:
        store.finish(run_id, "PASS")
    return run_id


def signed_off(store: SqlRecordStore) -> str:
    run_id = new_run(store)
    sign(store, run_id, "tech", SECRETS["tech"], "performed")
    sign(store, run_id, "insp", SECRETS["insp"], "inspected", [2])
    sign(store, run_id, "eng", SECRETS["eng"], "approved")
    return run_id


# -- the chain --------------------------------------------------------------------------------


def test_a_signed_off_record_verifies_after_reopening(
    store: SqlRecordStore, backend: Backend
) -> None:
    run_id = signed_off(store)
    store.close()
    with backend.open() as again:
        report = verify(again, run_id)
        assert report.ok, report.describe()
        assert (report.events, report.signatures) == (8, 3)
        info = again.run(run_id[:12])
        assert (info.status, info.outcome, info.card_number) == ("finished", "PASS", CARD)
    if backend.name == "sqlite":
        assert backend.raw("PRAGMA journal_mode") == [("wal",)]


def test_event_hash_is_sha256_over_the_canonical_event(store: SqlRecordStore) -> None:
    event = store.events(new_run(store))[1]
    body = {**event.to_dict()}
    assert event_hash_of(body) == event.hash
    assert (
        event_hash(
            event.run_id, event.seq, event.kind, event.utc, event.prev_hash, event.payload_json
        )
        == event.hash
    )


def test_the_store_refuses_edits_and_deletes(store: SqlRecordStore, backend: Backend) -> None:
    new_run(store)
    administer(store).unlock("tech")  # logged in the authentication log
    with pytest.raises(backend.integrity_error, match="events are append-only"):
        backend.raw("UPDATE events SET payload = '{}' WHERE seq = 2")
    with pytest.raises(backend.integrity_error, match="events are append-only"):
        backend.raw("DELETE FROM events WHERE seq = 2")
    with pytest.raises(backend.integrity_error, match="append-only"):
        backend.raw("DELETE FROM auth_log")
    if backend.name == "postgresql":
        with pytest.raises(backend.integrity_error, match="events are append-only"):
            backend.raw("TRUNCATE events")
    assert len(store.events(store.runs()[0].run_id)) == 5


def test_verify_names_an_edited_value(store: SqlRecordStore, backend: Backend) -> None:
    run_id = signed_off(store)
    (payload,) = store._query("SELECT payload FROM events WHERE run_id=? AND seq=3", (run_id,))[0]
    backend.tamper("UPDATE events SET payload=? WHERE seq=3", payload.replace("10.0", "10.4"))
    report = verify(store, run_id)
    assert not report.ok
    assert report.first_bad_event == 3
    assert "content does not match its hash" in report.reason


def test_verify_names_an_edit_whose_hash_was_recomputed(
    store: SqlRecordStore, backend: Backend
) -> None:
    run_id = new_run(store)
    event = store.events(run_id)[2]
    payload = event.payload_json.replace("10.0", "10.4")
    digest = event_hash(run_id, 3, event.kind, event.utc, event.prev_hash, payload)
    backend.tamper("UPDATE events SET payload=?, hash=? WHERE seq=3", payload, digest)
    report = verify(store, run_id)
    assert (report.ok, report.first_bad_event) == (False, 4)
    assert "does not chain to event 3" in report.reason


def test_verify_names_a_deleted_event(store: SqlRecordStore, backend: Backend) -> None:
    run_id = new_run(store)
    backend.tamper("DELETE FROM events WHERE run_id=? AND seq=3", run_id)
    report = verify(store, run_id)
    assert (report.ok, report.first_bad_event) == (False, 3)
    assert "missing" in report.reason


def test_verify_finds_a_deleted_last_event(store: SqlRecordStore, backend: Backend) -> None:
    run_id = new_run(store)
    backend.tamper("DELETE FROM events WHERE run_id=? AND seq=5", run_id)
    report = verify(store, run_id)
    assert (report.ok, report.first_bad_event) == (False, 5)
    assert "head is event 5" in report.reason


def test_verify_names_reordered_events(store: SqlRecordStore, backend: Backend) -> None:
    run_id = new_run(store)
    backend.tamper("UPDATE events SET seq = -1 WHERE run_id=? AND seq=2", run_id)
    backend.tamper("UPDATE events SET seq = 2 WHERE run_id=? AND seq=3", run_id)
    backend.tamper("UPDATE events SET seq = 3 WHERE run_id=? AND seq=-1", run_id)
    report = verify(store, run_id)
    assert (report.ok, report.first_bad_event) == (False, 2)


def test_verify_finds_a_signature_moved_to_another_record(store: SqlRecordStore) -> None:
    signed = signed_off(store)
    other = new_run(store)
    stolen = next(e for e in store.events(signed) if e.kind == "signature")
    moved = store.append(other, "signature", stolen.payload)
    report = verify(store, other)
    assert (report.ok, report.first_bad_event) == (False, moved.seq)
    assert "moved from another record" in report.reason
    assert verify(store, signed).ok


def test_verify_finds_a_forged_signature_field(store: SqlRecordStore, backend: Backend) -> None:
    run_id = new_run(store)
    event = sign(store, run_id, "tech", SECRETS["tech"], "performed")
    forged = event.payload_json.replace('"meaning":"performed"', '"meaning":"approved"')
    digest = event_hash(run_id, event.seq, event.kind, event.utc, event.prev_hash, forged)
    backend.tamper("UPDATE events SET payload=?, hash=? WHERE seq=?", forged, digest, event.seq)
    backend.tamper("UPDATE runs SET head_hash=? WHERE run_id=?", digest, run_id)
    report = verify(store, run_id)
    assert (report.ok, report.first_bad_event) == (False, event.seq)
    assert "does not verify" in report.reason


# -- sign-off rules ---------------------------------------------------------------------------


def test_rii_signed_by_its_performer_is_refused(store: SqlRecordStore) -> None:
    run_id = new_run(store, operator="both")
    sign(store, run_id, "both", SECRETS["both"], "performed")
    with pytest.raises(SignoffRefused, match=r"Bo Th \(both\) performed step 2"):
        sign(store, run_id, "both", SECRETS["both"], "inspected", [2])
    other = new_run(store, operator="tech")
    sign(store, other, "both", SECRETS["both"], "performed", [2])
    with pytest.raises(SignoffRefused, match="performed step 2"):
        sign(store, other, "both", SECRETS["both"], "inspected", [2])
    assert not [s for s in store.events(other) if '"inspected"' in s.payload_json]


def test_an_inspector_needs_the_role_and_a_performer_signature_first(store: SqlRecordStore) -> None:
    run_id = new_run(store)
    with pytest.raises(SignoffRefused, match="needs role inspector"):
        sign(store, run_id, "eng", SECRETS["eng"], "inspected", [2])
    with pytest.raises(SignoffRefused, match="no 'performed' signature"):
        sign(store, run_id, "insp", SECRETS["insp"], "inspected", [2])


def test_approval_waits_for_every_rii_step(store: SqlRecordStore) -> None:
    run_id = new_run(store)
    sign(store, run_id, "tech", SECRETS["tech"], "performed")
    with pytest.raises(SignoffRefused, match="RII step 2 has no inspector signature"):
        sign(store, run_id, "eng", SECRETS["eng"], "approved")


def test_a_signature_only_after_the_signed_steps_are_complete(store: SqlRecordStore) -> None:
    run_id = new_run(store, finish=False)
    with pytest.raises(SignoffRefused, match="still running"):
        sign(store, run_id, "tech", SECRETS["tech"], "performed")
    store.append(run_id, "attempt", {**attempt(4), "attempt": 0, "outcome": "SKIPPED"})
    with pytest.raises(SignoffRefused, match="step 4 is not complete"):
        sign(store, run_id, "tech", SECRETS["tech"], "performed", [4])
    event = sign(store, run_id, "tech", SECRETS["tech"], "performed", [1, 2])
    assert event.payload["covers_seq"] == event.seq - 1
    assert event.payload["covers_hash"] == event.prev_hash


def test_an_expired_or_out_of_scope_authorization_is_refused(store: SqlRecordStore) -> None:
    expired = Authorization("LL-34-*", "OLD-1", date.today() - timedelta(days=1))
    administer(store).add("old", "Olga Old", ["technician"], "old-secret", [expired])
    elsewhere = Authorization("LL-72-*", "C-9", VALID.expires)
    administer(store).add("far", "Fay Far", ["technician"], "far-secret", [elsewhere])
    run_id = new_run(store)
    with pytest.raises(SignoffRefused, match="no authorization for card LL-34-21-00-720-801"):
        sign(store, run_id, "old", "old-secret", "performed")
    with pytest.raises(SignoffRefused, match="no authorization"):
        sign(store, run_id, "far", "far-secret", "performed")


def test_a_wrong_secret_is_refused_logged_and_locks_out(store: SqlRecordStore) -> None:
    run_id = new_run(store)
    with pytest.raises(AuthenticationError, match="'tech': wrong secret"):
        sign(store, run_id, "tech", "not-the-secret", "performed")
    failed = [e.payload for e in store.events(run_id) if e.kind == "auth_failed"]
    assert failed and failed[0]["person_id"] == "tech"
    log = store.people.auth_log("tech")
    assert log[-1]["ok"] is False and "wrong secret" in log[-1]["detail"]
    for _ in range(4):
        with pytest.raises(AuthenticationError):
            sign(store, run_id, "tech", "not-the-secret", "performed")
    with pytest.raises(AuthenticationError, match="locked"):
        sign(store, run_id, "tech", SECRETS["tech"], "performed")
    administer(store).unlock("tech")
    sign(store, run_id, "tech", SECRETS["tech"], "performed")
    assert verify(store, run_id).ok


def test_a_revoked_person_cannot_sign_but_old_signatures_stand(store: SqlRecordStore) -> None:
    run_id = new_run(store)
    sign(store, run_id, "tech", SECRETS["tech"], "performed")
    administer(store).revoke("tech", "left the company")
    with pytest.raises(AuthenticationError, match="revoked"):
        sign(store, new_run(store), "tech", SECRETS["tech"], "performed")
    assert verify(store, run_id).ok


def test_secrets_and_private_keys_are_not_stored_in_the_clear(
    store: SqlRecordStore, backend: Backend
) -> None:
    store.close()
    if isinstance(backend, SqliteBackend):
        raw = (backend.data / DB_NAME).read_bytes()
        wal = backend.data / f"{DB_NAME}-wal"
        raw += wal.read_bytes() if wal.exists() else b""
    else:
        rows = backend.raw("SELECT p::text FROM people p UNION ALL SELECT a::text FROM auth_log a")
        raw = "\n".join(row[0] for row in rows).encode()
        assert b"Jane Tech" in raw
    for secret in SECRETS.values():
        assert secret.encode() not in raw


def test_corrections_and_redlines_need_a_reason_and_erase_nothing(store: SqlRecordStore) -> None:
    run_id = new_run(store)
    with pytest.raises(SignoffRefused, match="needs a reason"):
        correct(store, run_id, "tech", SECRETS["tech"], 3, " ", {"comment": "typo"})
    correct(store, run_id, "tech", SECRETS["tech"], 3, "wrong unit typed", {"unit": "Hz"})
    with pytest.raises(SignoffRefused, match="needs role engineer"):
        redline(store, run_id, "tech", SECRETS["tech"], 2, "sensor swap", "high 11", major=True)
    redline(store, run_id, "eng", SECRETS["eng"], 2, "sensor swap", "high 11 Hz", major=True)
    events = store.events(run_id)
    assert json.loads(events[2].payload_json)["value"] == 10.0
    assert [e.kind for e in events[-2:]] == ["correction", "redline"]
    assert verify(store, run_id).ok


def test_exports_show_values_limits_and_signatures(store: SqlRecordStore, tmp_path: Path) -> None:
    run_id = signed_off(store)
    page = export_html(store, run_id, tmp_path / "card.html").read_text()
    assert "imu_rate_hz = 10 Hz" in page and "9.5 .. 10.5 Hz" in page
    for name, meaning in (("Jane Tech", "performed"), ("Ian Spector", "inspected")):
        assert f"<td>{name}</td><td>{meaning}</td>" in page
    assert f"run {run_id}: OK" in page
    data = json.loads(export_json(store, run_id, tmp_path / "card.json").read_text())
    assert data["verify"]["ok"] and len(data["events"]) == 8
    assert all(event_hash_of(e) == e["hash"] for e in data["events"])


# -- the runner's write path --------------------------------------------------------------------


class _Obj:
    def __init__(self, **data: Any) -> None:
        self.data = data
        self.__dict__.update(data)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.data)


def test_store_recorder_writes_a_card_run(
    store: SqlRecordStore, tmp_path: Path, backend: Backend
) -> None:
    evidence = tmp_path / "photo.jpg"
    evidence.write_bytes(b"\xff\xd8 a photo")
    record = _Obj(
        card={"number": CARD, "revision": "B", "title": "IMU"},
        lander="HR-2",
        operator_id="tech",
        attempts=[],
        outcome="PASS",
    )
    recorder = StoreRecorder(store)
    run_id = recorder.card_started(record)
    recorder.attempt_started(_Obj(number=1), 1)
    first = _Obj(**attempt(1), evidence=str(evidence))
    recorder.attempt_finished(first)
    skipped = _Obj(**{**attempt(2), "attempt": 0, "outcome": "SKIPPED"})
    recorder.teardown_finished(_Obj(outcome="PASS"))
    # the runner adds steps skipped after a failure without notifying; finished() records them
    recorder.finished(_Obj(**{**record.data, "finished_utc": "now", "attempts": [first, skipped]}))
    kinds = [e.kind for e in store.events(run_id)]
    assert kinds == [
        "run_started",
        "attempt_started",
        "attachment",
        "attempt",
        "teardown",
        "attempt",
        "run_finished",
    ]
    assert store.run(run_id).status == "finished"
    with pytest.raises(RecordError, match="is finished"):
        store.append(run_id, "attempt", attempt(3))
    assert verify(store, run_id).ok
    digest = store.events(run_id)[2].payload["sha256"]
    path = store.attachment_path(digest)
    assert path is not None and path.read_bytes() == b"\xff\xd8 a photo"
    if backend.name == "sqlite":
        path.write_bytes(b"another photo")
    else:  # the bytes live in the database; the local copy is only a cache
        backend.tamper("UPDATE attachments SET content = ? WHERE sha256 = ?", b"other", digest)
    report = verify(store, run_id)
    assert (report.first_bad_event, "photo.jpg changed" in report.reason) == (3, True)


# -- survival ---------------------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys
    from hil.records import open_store
    with open_store(sys.argv[1]) as store:
        run_id = store.create_run({"card": {"number": "LL-1"}, "operator_id": "tech"})
        print(run_id, flush=True)
        step = 0
        while True:
            step += 1
            event = store.append(run_id, "attempt", {"step": step, "value": step * 0.5})
            print(event.seq, flush=True)
    """
)


def test_a_bench_killed_mid_card_leaves_an_interrupted_record_that_verifies(
    backend: Backend,
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, backend.url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        run_id = child.stdout.readline().strip()
        for line in child.stdout:
            if int(line) >= 200:
                break
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=10)
        if child.stdout:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    with backend.open() as store:
        info = store.run(run_id)
        assert info.status == "interrupted"
        events = store.events(run_id)
        assert events[-1].kind == "run_interrupted"
        assert f"bench process {child.pid}" in events[-1].payload["reason"]
        steps = [e.payload["step"] for e in events if e.kind == "attempt"]
        assert steps == list(range(1, len(steps) + 1)) and len(steps) >= 199
        assert verify(store, run_id).ok


APPENDER = textwrap.dedent(
    """
    import sys
    from hil.records import open_store
    url, run_id, writer, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    with open_store(url) as store:
        print("ready", flush=True)
        sys.stdin.readline()
        for n in range(count):
            store.append(run_id, "attempt", {"step": n + 1, "writer": writer})
    """
)


def test_two_benches_appending_to_one_run_at_once_lose_nothing_and_never_fork(
    backend: Backend,
) -> None:
    count = 150
    with backend.open() as store:
        run_id = new_run(store, finish=False)
    children = [
        subprocess.Popen(
            [sys.executable, "-c", APPENDER, backend.url, run_id, writer, str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for writer in ("a", "b")
    ]
    try:
        for child in children:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        for child in children:  # both start appending at (nearly) the same instant
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        codes = [child.wait(timeout=120) for child in children]
    finally:
        for child in children:
            child.kill()
            child.wait(timeout=10)
            for pipe in (child.stdin, child.stdout):
                if pipe:
                    pipe.close()
    assert codes == [0, 0]
    with backend.open() as store:
        events = store.events(run_id)
        assert [e.seq for e in events] == list(range(1, 5 + 2 * count))
        for writer in ("a", "b"):
            steps = [e.payload["step"] for e in events if e.payload.get("writer") == writer]
            assert steps == list(range(1, count + 1))
        if backend.name == "postgresql":  # row-lock waiters queue fairly; SQLite's busy
            # handler backs off by sleeping, so there one writer may well take every turn
            writers = [str(e.payload.get("writer")) for e in events[4:]]
            assert writers != sorted(writers), "the two writers never interleaved"
        report = verify(store, run_id)
        assert report.ok, report.describe()
        assert store.run(run_id).event_count == len(events)


def test_other_components_keep_their_tables_in_the_store(store: SqlRecordStore) -> None:
    def create(tx: Any) -> None:
        tx.execute("CREATE TABLE fleet_jobs (lander TEXT NOT NULL, job TEXT NOT NULL)")

    def add_hours(tx: Any) -> None:
        tx.execute("ALTER TABLE fleet_jobs ADD COLUMN hours REAL")

    access = store.sql()
    assert access.dialect == store.dialect
    assert access.migrate("fleet", [create]) == 1
    assert access.migrate("fleet", [create, add_hours]) == 2
    assert access.migrate("fleet", [create, add_hours]) == 2  # nothing run twice
    with access.transaction("add jobs") as tx:
        assert tx.execute("INSERT INTO fleet_jobs VALUES (?, ?, ?)", ("HR-2", "50% check", 1.5))
        tx.execute("INSERT INTO fleet_jobs VALUES (?, ?, ?)", ("HR-3", "oil?", 2.0))
        assert tx.query("SELECT COUNT(*) FROM fleet_jobs") == [(2,)]
    with pytest.raises(RuntimeError), access.transaction("add a job") as tx:
        tx.execute("INSERT INTO fleet_jobs VALUES (?, ?, ?)", ("HR-4", "lost", 0.0))
        raise RuntimeError("operator cancelled")
    rows = access.query(
        "SELECT lander, job, hours FROM fleet_jobs WHERE job LIKE '%?%' OR lander = ? "
        "ORDER BY lander",
        ("HR-2",),
    )
    assert rows == [("HR-2", "50% check", 1.5), ("HR-3", "oil?", 2.0)]
    with pytest.raises(StorageError, match="newer than this code"):
        access.migrate("fleet", [create])
    bad = r"records database .*: bad insert: .*fleet_nowhere"
    with pytest.raises(StorageError, match=bad), access.transaction("bad insert") as tx:
        tx.execute("INSERT INTO fleet_nowhere VALUES (?)", (1,))


def test_records_written_in_another_components_transaction_commit_with_it_or_not_at_all(
    store: SqlRecordStore,
) -> None:
    access = store.sql()
    access.migrate("jobs", [lambda tx: tx.execute("CREATE TABLE jobs (run_id TEXT NOT NULL)")])
    before = len(store.runs())
    with pytest.raises(RuntimeError), access.transaction("release HR-2") as tx:
        run_id = signed_off(store)  # joins the transaction
        tx.execute("INSERT INTO jobs VALUES (?)", (run_id,))
        assert verify(store, run_id).ok  # seen inside the transaction
        raise RuntimeError("a check failed after signing")
    assert len(store.runs()) == before and access.query("SELECT * FROM jobs") == []
    with access.transaction("release HR-2") as tx:
        run_id = new_run(store)
        with pytest.raises(StorageError), access.transaction("bad insert") as inner:
            inner.execute("INSERT INTO nowhere VALUES (?)", (1,))  # undone alone
        sign(store, run_id, "tech", SECRETS["tech"], "performed")
        tx.execute("INSERT INTO jobs VALUES (?)", (run_id,))
    assert access.query("SELECT run_id FROM jobs") == [(run_id,)]
    report = verify(store, run_id)
    assert report.ok and report.signatures == 1


def test_a_full_disk_is_one_clear_error_and_loses_nothing(sqlite_store: SqliteStore) -> None:
    store = sqlite_store
    run_id = new_run(store, finish=False)
    (pages,) = store._query("PRAGMA page_count")[0]
    store._conn().execute(f"PRAGMA max_page_count = {pages + 2}")
    big = {"log": "x" * 50_000}
    with pytest.raises(StorageError, match=r"records\.sqlite3: append attempt to run .*full"):
        for _ in range(10):
            store.append(run_id, "attempt", {**attempt(9), **big})
    kept = store.run(run_id).event_count
    store.close()
    with SqliteStore(store.data_dir) as again:
        assert len(again.events(run_id)) == kept >= 4
        assert verify(again, run_id).ok


def test_a_lost_server_connection_is_one_clear_error_and_the_next_call_reconnects(
    pg_server: PgServer, tmp_path: Path
) -> None:
    backend = PostgresBackend(pg_server, tmp_path / "cache")
    with backend.open() as store:
        run_id = new_run(store, finish=False)
        backend.raw(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'hil-records'"
        )
        with pytest.raises(StorageError, match=r"records database postgresql://.*: append") as err:
            store.append(run_id, "attempt", attempt(4))
        assert "\n" not in str(err.value)
        store.append(run_id, "attempt", attempt(5))
        assert [e.payload.get("step") for e in store.events(run_id)][-2:] == [3, 5]
        assert verify(store, run_id).ok


def test_a_read_only_store_reads_and_refuses_writes_clearly(
    store: SqlRecordStore, backend: Backend, pg_or_none: PgServer | None
) -> None:
    run_id = signed_off(store)
    store.close()
    with backend.open(readonly=True) as reader:
        assert verify(reader, run_id).ok
        with pytest.raises(StorageError, match="opened read-only"):
            reader.append(run_id, "attempt", attempt(4))
    if isinstance(backend, SqliteBackend):
        with pytest.raises(StorageError, match="not found"):
            SqliteStore(backend.data / "nowhere", readonly=True).open()
    else:
        assert pg_or_none is not None
        empty = pg_or_none.url(pg_or_none.new_schema())
        with pytest.raises(StorageError, match="nothing recorded here yet"):
            PostgresStore(empty, readonly=True).open()


@pytest.fixture
def pg_or_none(backend: Backend) -> PgServer | None:
    return backend.server if isinstance(backend, PostgresBackend) else None


def test_a_newer_schema_is_refused(store: SqlRecordStore, backend: Backend) -> None:
    store.close()
    backend.raw("INSERT INTO schema_version VALUES (99, 'future')")
    with pytest.raises(StorageError, match="schema version 99 is newer"):
        backend.open().open()
