"""Damage contained and named: which runs a damaged SQLite store still holds, and salvaging
every event that verifies into a new store.

A damaged database file (a corrupt page, a WAL truncated or lost under a writer) should cost
the runs whose events sat on the damage, not the whole store. ``survey`` reads a copy of the
store (the source is never written: SQLite's own WAL recovery runs on the copy) run by run:
every run id the ``runs`` index or the ``events`` table still yields, each run's events read
whole or, where that fails, one by one, and each run's chain checked from event 1. The longest
prefix that chains and hashes is what survives of a run. ``recover`` writes those prefixes to a
new data folder with their original hashes and times, derives each run's index from its events
(``hil.records.runindex``), copies the other tables (people, authentication log, attachments,
component tables such as the fleet's) as far as they read, and ends every run that lost events
or had no end with a ``run_interrupted`` naming what was lost. ``RecoverReport.lines`` names
every run kept whole, cut short or lost.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hil.records.canonical import GENESIS_HASH, event_hash, file_sha256
from hil.records.errors import RecordError, StorageError
from hil.records.runindex import END_KINDS, derive_run_info
from hil.records.sqldb import SqlTransaction
from hil.records.sqlite import SqliteStore
from hil.records.store import Event

DB_NAME = "records.sqlite3"
_EVENT_COLUMNS = "run_id, seq, kind, utc, payload, prev_hash, hash"
_OWN_TABLES = frozenset({"runs", "events", "schema_version", "sqlite_sequence"})


@dataclass
class RunSurvey:
    """What survives of one run: the events that verify from event 1, and why it stops."""

    run_id: str
    events: list[Event] = field(default_factory=list)
    problem: str = ""
    """Why nothing after ``events`` survives ("" when the whole run read and verified)."""

    @property
    def lost(self) -> bool:
        return not self.events

    @property
    def ended(self) -> bool:
        return any(event.kind in END_KINDS for event in self.events)

    def describe(self) -> str:
        if self.lost:
            return f"run {self.run_id}: LOST ({self.problem})"
        kept = f"{len(self.events)} events"
        if self.problem:
            return f"run {self.run_id}: DAMAGED, events 1-{len(self.events)} kept; {self.problem}"
        if not self.ended:
            return f"run {self.run_id}: {kept}, no end (interrupted before it finished)"
        return f"run {self.run_id}: intact ({kept})"


@dataclass
class RecoverReport:
    runs: list[RunSurvey] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Tables and attachments that could not be copied, one line each."""

    @property
    def damaged(self) -> list[RunSurvey]:
        return [run for run in self.runs if run.problem]

    def lines(self) -> list[str]:
        return [run.describe() for run in self.runs] + self.notes


def _one_line(err: BaseException) -> str:
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    return text[:160] + "..." if len(text) > 160 else text


@contextlib.contextmanager
def _copy_of(data_dir: Path) -> Iterator[sqlite3.Connection]:
    """A connection to a private copy of the store's database and WAL (never the original)."""
    source = data_dir / DB_NAME
    if not source.is_file():
        raise StorageError(f"records database {source}: not found")
    with tempfile.TemporaryDirectory(prefix="hil-recover-") as tmp:
        copy = Path(tmp) / DB_NAME
        try:
            shutil.copyfile(source, copy)
            wal = source.with_name(DB_NAME + "-wal")
            if wal.is_file():
                shutil.copyfile(wal, copy.with_name(DB_NAME + "-wal"))
        except OSError as err:
            raise StorageError(f"records database {source}: cannot copy ({err.strerror})") from err
        db = sqlite3.connect(copy, isolation_level=None)
        try:
            yield db
        finally:
            db.close()


def _run_ids(db: sqlite3.Connection, report: RecoverReport, where: str) -> list[str]:
    """Every run id the index or the events still yield (the index first, in its order)."""
    ids: list[str] = []
    try:
        ids = [r[0] for r in db.execute("SELECT run_id FROM runs ORDER BY created_utc, run_id")]
    except sqlite3.Error as err:
        report.notes.append(f"{where}: the run index is unreadable ({_one_line(err)})")
    seen = set(ids)
    last = ""
    while True:  # skip-scan the events' key: one probe per run
        try:
            row = db.execute(
                "SELECT run_id FROM events WHERE run_id > ? ORDER BY run_id LIMIT 1", (last,)
            ).fetchone()
        except sqlite3.Error as err:
            report.notes.append(
                f"{where}: events after run {last or '(first)'} cannot be listed "
                f"({_one_line(err)}); runs there are only found through the index"
            )
            break
        if row is None:
            break
        last = str(row[0])
        if last not in seen:
            ids.append(last)
            seen.add(last)
    return ids


def _read_events(db: sqlite3.Connection, run_id: str) -> tuple[list[Event], str]:
    """The run's events as stored, and why reading stopped early ("" when it did not)."""
    try:
        rows = db.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE run_id = ? ORDER BY seq", (run_id,)
        ).fetchall()
        return [Event(*row) for row in rows], ""
    except sqlite3.Error:
        pass  # read them one by one, up to the damage
    events: list[Event] = []
    seq = 1
    while True:
        try:
            row = db.execute(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE run_id = ? AND seq = ?", (run_id, seq)
            ).fetchone()
        except sqlite3.Error as err:
            return events, f"event {seq} is unreadable ({_one_line(err)})"
        if row is None:
            return events, ""
        events.append(Event(*row))
        seq += 1


def _verified_prefix(run_id: str, events: list[Event]) -> tuple[list[Event], str]:
    prev = GENESIS_HASH
    for index, event in enumerate(events):
        seq = index + 1
        if event.seq != seq:
            return events[:index], f"event {seq} is missing"
        digest = event_hash(run_id, seq, event.kind, event.utc, event.prev_hash, event.payload_json)
        if digest != event.hash or event.prev_hash != prev:
            return events[:index], f"event {seq} does not verify (damaged)"
        if seq == 1 and event.kind != "run_started":
            return [], "event 1 is not run_started"
        prev = event.hash
    return events, ""


def survey(data_dir: str | Path) -> RecoverReport:
    """What of each run in the SQLite store in ``data_dir`` can be read and verifies (reads a
    copy; the store is not touched). Raises ``StorageError`` when there is no database."""
    data_dir = Path(data_dir)
    report = RecoverReport()
    with _copy_of(data_dir) as db:
        _survey(db, report, str(data_dir / DB_NAME))
    _lost_markers(data_dir, report)
    return report


def _lost_markers(data_dir: Path, report: RecoverReport) -> None:
    """Runs an ``open-runs`` marker names that the database no longer holds at all."""
    import json

    found = {run.run_id for run in report.runs}
    for path in sorted((data_dir / "open-runs").glob("*.json")):
        if path.stem in found:
            continue
        try:
            marker = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            marker = {}
        report.runs.append(
            RunSurvey(
                path.stem,
                problem=f"started {marker.get('started_utc', '?')} (card "
                f"{marker.get('card', '?')}, lander {marker.get('lander', '?')}) by process "
                f"{marker.get('pid', '?')} on {marker.get('host', '?')}; the database holds no "
                "record of it",
            )
        )


def _survey(db: sqlite3.Connection, report: RecoverReport, where: str) -> None:
    try:
        db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    except sqlite3.Error as err:
        raise StorageError(f"records database {where}: unreadable ({_one_line(err)})") from err
    for run_id in _run_ids(db, report, where):
        events, problem = _read_events(db, run_id)
        kept, chain_problem = _verified_prefix(run_id, events)
        problem = chain_problem or problem
        if not kept and not problem:
            problem = "no event readable"
        report.runs.append(RunSurvey(run_id, kept, problem))


def recover(source: str | Path, dest: str | Path) -> RecoverReport:
    """Salvage the SQLite store in ``source`` into a new store in ``dest`` (module docstring).
    Raises ``StorageError`` when the source has no readable database, and ``RecordError`` when
    ``dest`` already holds records."""
    source, dest = Path(source), Path(dest)
    if (dest / DB_NAME).exists():
        raise RecordError(f"recover: {dest / DB_NAME} already exists (give a new folder)")
    report = RecoverReport()
    where = str(source / DB_NAME)
    with _copy_of(source) as db, SqliteStore(dest) as store:
        _survey(db, report, where)
        _lost_markers(source, report)
        access = store.sql()
        with access.transaction(f"recover {where}") as tx:
            for run in report.runs:
                if run.lost:
                    continue
                info = derive_run_info(run.run_id, run.events)
                tx.execute(
                    "INSERT INTO runs (run_id, created_utc, card_number, revision, title, lander, "
                    "operator_id, status, outcome, finished_utc, owner_host, owner_pid, "
                    "head_seq, head_hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (info.run_id, info.created_utc, info.card_number, info.revision, info.title,
                     info.lander, info.operator_id, "open", None, None, "recovered", 0, 0,
                     GENESIS_HASH),
                )  # fmt: skip
                for event in run.events:
                    tx.execute(
                        f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES (?,?,?,?,?,?,?)",
                        (event.run_id, event.seq, event.kind, event.utc, event.payload_json,
                         event.prev_hash, event.hash),
                    )  # fmt: skip
                tx.execute(
                    "UPDATE runs SET status=?, outcome=?, finished_utc=?, head_seq=?, "
                    "head_hash=? WHERE run_id=?",
                    (info.status, info.outcome, info.finished_utc, info.event_count,
                     info.head_hash, info.run_id),
                )  # fmt: skip
            _copy_tables(db, tx, report, where)
        _copy_objects(source, store, report)
        for run in report.runs:
            if run.lost or run.ended:
                continue
            why = run.problem or "the record has no end"
            store.mark_interrupted(
                run.run_id, f"recovered from damaged store {where}: {why}; events after "
                f"{len(run.events)} lost or never written"
            )  # fmt: skip
    return report


def _copy_tables(
    db: sqlite3.Connection, tx: SqlTransaction, report: RecoverReport, where: str
) -> None:
    """Every other table of the source (people, authentication log, attachment index, the
    components' tables), as far as each reads; a table the new store lacks is created first."""
    try:
        objects = db.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL "
            "ORDER BY type = 'table' DESC"
        ).fetchall()
    except sqlite3.Error as err:
        report.notes.append(f"{where}: other tables not copied ({_one_line(err)})")
        return
    existing = {r[0] for r in tx.query("SELECT name FROM sqlite_master")}
    for kind, name, table, sql in objects:
        if table in _OWN_TABLES or table.startswith("sqlite_"):
            continue
        if name not in existing:
            tx.script(sql)
        if kind != "table":
            continue
        try:
            cursor = db.execute(f"SELECT * FROM {name}")
            columns = ", ".join(d[0] for d in cursor.description)
            rows = cursor.fetchall()
        except sqlite3.Error as err:
            report.notes.append(f"table {name}: unreadable, not copied ({_one_line(err)})")
            continue
        marks = ", ".join("?" * len(rows[0])) if rows else ""
        for row in rows:
            tx.execute(f"INSERT INTO {name} ({columns}) VALUES ({marks})", row)


def _copy_objects(source: Path, store: SqliteStore, report: RecoverReport) -> None:
    """Attachment files whose content still has its hash."""
    objects = source / "objects"
    if not objects.is_dir():
        return
    target_root = store.objects_dir
    for path in sorted(objects.glob("*/*")):
        if path.name.startswith("."):
            continue
        try:
            ok = file_sha256(str(path)) == path.name
        except OSError:
            ok = False
        if not ok:
            report.notes.append(f"attachment {path.name[:12]}: content damaged, not copied")
            continue
        target = target_root / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
