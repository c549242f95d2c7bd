"""The fleet maintenance program as a maintenance controller meets it: due lists that pick the
limit that comes first, MEL deferrals counted in UTC days, card runs that complete and
reschedule their due items once fully signed, flights that add to the counters exactly once,
and a release to service that names every reason it is refused and, when clear, is a signed
record that verifies. Every store test runs on SQLite and on a real PostgreSQL server
(``tests/pg_server.py``; skipped where none is installed), two benches at once included."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from records_people import administer

from hil.cli.main import main
from hil.fleet import (
    DEFECT_CARD,
    RELEASE_CARD,
    CounterError,
    Counters,
    DeferralRefused,
    DuplicateUsage,
    Fleet,
    FleetError,
    ReleaseRefused,
    Task,
    UnknownSerial,
    compute_due,
    deferral_limit_date,
    load_program,
    read_usage,
)
from hil.fleet.db import MIGRATIONS, SCHEMA_VERSION
from hil.fleet.model import Deferral
from hil.records import Authorization, Kdf, SignoffRefused, StorageError, sign, verify
from hil.records.backends import make_store
from hil.records.errors import AuthenticationError
from hil.records.sqlstore import SqlRecordStore
from hil.records.state import RunState

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "hil" / "data" / "fleet" / "program.toml"
LANDER = "HR-M3-SN002"
BIT = "LL-31-10-00-740-801"  # FC power-on BIT: every descent or 30 days
IMU = "LL-34-21-00-720-801"  # IMU static: first at 2 descents, then 5 descents/50 h/90 days
SECRETS = {"tech": "tech-secret", "insp": "insp-secret", "eng": "eng-secret"}
VALID = Authorization("LL-*", "CERT-1", date.today() + timedelta(days=365))


class Clock:
    """The fleet's clock; starts 10 days before the real time the records stamp runs with."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC) - timedelta(days=10)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the records live: a SQLite data folder, or a fresh schema on the test server."""
    if request.param == "sqlite":
        return str(tmp_path / "data")
    return str(request.getfixturevalue("pg_url"))


def open_url(url: str, *, readonly: bool = False) -> SqlRecordStore:
    opened = make_store(url, readonly=readonly, kdf=Kdf(n=2**10))
    assert isinstance(opened, SqlRecordStore)
    return opened.open()


@pytest.fixture
def store(store_url: str) -> Iterator[SqlRecordStore]:
    with open_url(store_url) as opened:
        people = administer(opened)
        people.add("tech", "Jane Tech", ["technician"], SECRETS["tech"], [VALID])
        people.add("insp", "Ian Spector", ["inspector"], SECRETS["insp"], [VALID])
        people.add("eng", "Eve Engineer", ["engineer"], SECRETS["eng"], [VALID])
        yield opened


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fleet(store: SqlRecordStore, clock: Clock) -> Iterator[Fleet]:
    with Fleet(store, now=clock) as opened:
        opened.load_program(load_program(PROGRAM))
        opened.add_lander(LANDER, "HR-M3", "baseline", clock.now.date() - timedelta(days=5))
        yield opened


def attempt(step: int, *, rii: bool = False) -> dict[str, Any]:
    return {
        "step": step,
        "kind": "measurement",
        "text": f"step {step}",
        "attempt": 1,
        "rii": rii,
        "started_utc": "2026-06-05T10:00:00.000+00:00",
        "finished_utc": "2026-06-05T10:00:01.000+00:00",
        "outcome": "PASS",
    }


def card_run(
    store: SqlRecordStore,
    card: str,
    *,
    lander: str = LANDER,
    rii: tuple[int, ...] = (),
    outcome: str = "PASS",
    signed: tuple[str, ...] = ("performed", "inspected"),
) -> str:
    """A finished three-step card run, signed as asked (``inspected`` covers the RII steps)."""
    run_id = store.create_run(
        {
            "card": {"number": card, "revision": "A", "title": card},
            "lander": lander,
            "operator_id": "tech",
        }
    )
    for step in (1, 2, 3):
        store.append(run_id, "attempt", attempt(step, rii=step in rii))
    store.finish(run_id, outcome)
    if "performed" in signed:
        sign(store, run_id, "tech", SECRETS["tech"], "performed")
    if "inspected" in signed and rii:
        sign(store, run_id, "insp", SECRETS["insp"], "inspected", covers=list(rii))
    return run_id


def descent_folder(path: Path, burns_s: list[tuple[float, float]], duration_s: float) -> Path:
    """A closed-loop descent run folder: summary.json and trajectory.npz with the engine
    burning (true throttle > 0) in each (start, end) interval, sampled at 10 Hz."""
    path.mkdir(parents=True)
    time_s = np.round(np.arange(0.0, duration_s + 1e-9, 0.1), 6)
    throttle = np.zeros_like(time_s)
    for start, end in burns_s:
        throttle[(time_s >= start) & (time_s < end)] = 80.0
    np.savez_compressed(path / "trajectory.npz", time_s=time_s, true_throttle_pct=throttle)
    summary = {
        "scenario": "nominal",
        "stop_reason": "landed",
        "passed": True,
        "timing": {"simulated_s": duration_s},
        "out_dir": str(path),
    }
    (path / "summary.json").write_text(json.dumps(summary))
    return path


def test_the_program_file_uses_real_card_numbers() -> None:
    numbers = set()
    for card in (ROOT / "hil" / "data" / "procedures").glob("*.py"):
        numbers.update(re.findall(r'number="(LL-[0-9A-Z-]+)"', card.read_text()))
    program = load_program(PROGRAM)
    assert len(program.tasks) >= 8
    assert {task.card_number for task in program.tasks} <= numbers


def test_due_is_whichever_limit_comes_first() -> None:
    task = Task("LL-X", "IMU", repeat={"descents": 5, "days": 90}, threshold={"descents": 2})
    done = date(2026, 1, 1)
    from hil.fleet.model import LastDone

    last = LastDone("2026-01-01T12:00:00+00:00", "run-1", Counters(descents=10))
    # 4 of 5 descents flown, 89 of 90 days gone: the calendar drives (1 day left).
    item = compute_due("L", task, Counters(descents=14), done, last, done + timedelta(days=89))
    assert item.status == "DUE SOON"
    assert item.describe() == "calendar due 2026-04-01 (1 day left)"
    # A sixth descent beats the calendar.
    item = compute_due("L", task, Counters(descents=16), done, last, done + timedelta(days=10))
    assert (item.status, item.driver and item.driver.counter) == ("OVERDUE", "descents")
    assert item.describe() == "descents 16 of 15 (1 descent over)"
    # At its limit exactly it is not yet overdue; the day after the due date it is.
    assert compute_due("L", task, Counters(descents=15), done, last, done).status == "DUE SOON"
    late = compute_due("L", task, Counters(descents=11), done, last, done + timedelta(days=91))
    assert late.status == "OVERDUE" and "1 day over" in late.describe()
    # Never done: the threshold (2 descents) counts from new, the calendar from entry.
    first = compute_due("L", task, Counters(descents=1), done, None, done + timedelta(days=1))
    assert first.driver is not None and first.driver.due == 2.0
    assert first.status == "OK"


@pytest.mark.parametrize(
    ("discovered", "limit"),
    [
        ("2026-06-01T00:00:00+00:00", date(2026, 6, 4)),
        ("2026-06-01T23:59:59.999999+00:00", date(2026, 6, 4)),
        ("2026-06-02T00:00:00+00:00", date(2026, 6, 5)),
        ("2026-06-01T23:30:00-02:00", date(2026, 6, 5)),  # 01:30 UTC on 2 June
    ],
)
def test_deferral_days_are_utc_days_after_the_day_of_discovery(
    discovered: str, limit: date
) -> None:
    assert deferral_limit_date(datetime.fromisoformat(discovered), 3) == limit
    deferral = Deferral("M-1", "D-1", "B", "r", discovered, "tech", 3, None, 0, limit)
    last_moment = datetime.combine(limit, datetime.max.time(), UTC)
    assert deferral.expired_reason(last_moment, 0) == ""
    assert deferral.days_left(last_moment) == 0
    midnight = last_moment + timedelta(microseconds=1)
    assert "expired after" in deferral.expired_reason(midnight, 0)


@given(
    discovered=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
    ),
    days=st.integers(0, 120),
    later_s=st.integers(0, 200 * 86400),
)
def test_a_deferral_expires_exactly_when_its_whole_days_have_passed(
    discovered: datetime, days: int, later_s: int
) -> None:
    limit = deferral_limit_date(discovered, days)
    now = discovered + timedelta(seconds=later_s)
    deferral = Deferral("M", "D", "C", "r", discovered.isoformat(), "t", days, None, 0, limit)
    whole_days_after = (now.date() - discovered.date()).days
    assert bool(deferral.expired_reason(now, 0)) == (whole_days_after > days)


def test_a_deferral_past_its_category_limit_is_refused(fleet: Fleet, clock: Clock) -> None:
    found = fleet.report_defect(
        LANDER, "LRF window scratched", "tech", discovered=clock.now - timedelta(days=4)
    )
    with pytest.raises(DeferralRefused, match="5 days is past category B's limit of 3 days"):
        fleet.defer(found.defect_id, "B", "spare on order", "eng", days=5)
    with pytest.raises(DeferralRefused, match=r"category B \(3 days\) ran out after"):
        fleet.defer(found.defect_id, "B", "spare on order", "eng")
    with pytest.raises(DeferralRefused, match="category A needs the limit stated"):
        fleet.defer(found.defect_id, "A", "spare on order", "eng", descents=2)
    with pytest.raises(DeferralRefused, match="only category A takes a descent limit"):
        fleet.defer(found.defect_id, "C", "spare on order", "eng", descents=2)
    deferral = fleet.defer(found.defect_id, "C", "spare on order", "eng")
    assert deferral.limit_date == (clock.now - timedelta(days=4)).date() + timedelta(days=10)
    assert fleet.defect(found.defect_id).status == "deferred"
    with pytest.raises(DeferralRefused, match="is deferred; only an open defect"):
        fleet.defer(found.defect_id, "D", "again", "eng")


def test_a_category_a_cycle_limit_expires_after_its_descents(
    fleet: Fleet, clock: Clock, tmp_path: Path
) -> None:
    found = fleet.report_defect(LANDER, "heater 2 inoperative", "tech")
    fleet.defer(found.defect_id, "A", "redundant heater", "eng", days=30, descents=1)
    fleet.set_counters(LANDER, Counters(descents=1), "flight log")
    assert not any("deferral" in r for r in fleet.release_blockers(LANDER))
    fleet.set_counters(LANDER, Counters(descents=2), "flight log")
    (reason,) = [r for r in fleet.release_blockers(LANDER) if "deferral" in r]
    assert "2 descents flown, category A allows 1" in reason


def test_log_descent_adds_to_the_lander_and_its_installed_parts_once(
    fleet: Fleet, tmp_path: Path
) -> None:
    folder = descent_folder(tmp_path / "descent-1", [(10.0, 300.0), (320.0, 600.0)], 720.0)
    fleet.add_component("ME-0007", "ME-100", since_new=Counters(engine_starts=4))
    fleet.add_component("LRF-0002", "LRF-3")
    fleet.install("ME-0007", LANDER, "main-engine")
    usage = read_usage(folder)
    assert usage.counters.descents == 1 and usage.counters.engine_starts == 2
    assert usage.counters.burn_s == pytest.approx(570.0, abs=0.2)
    assert usage.counters.powered_h == pytest.approx(0.2)
    lander = fleet.log_usage(LANDER, usage)
    assert lander.counters == usage.counters
    engine = fleet.component("ME-0007")
    assert engine.since_new.engine_starts == 6 and engine.since_new.descents == 1
    assert fleet.component("LRF-0002").since_new == Counters()  # on the shelf, not flown
    with pytest.raises(DuplicateUsage, match="already logged to lander HR-M3-SN002"):
        fleet.log_usage(LANDER, read_usage(folder))
    shutil.copytree(folder, tmp_path / "copied")
    with pytest.raises(DuplicateUsage, match=r"from .*descent-1"):
        fleet.log_usage(LANDER, read_usage(tmp_path / "copied"))
    assert fleet.lander(LANDER).counters == usage.counters


def test_a_flight_log_file_counts_and_bad_ones_are_named(fleet: Fleet, tmp_path: Path) -> None:
    log = tmp_path / "flight-7.json"
    log.write_text(json.dumps({"descents": 1, "engine_starts": 3, "burn_s": 400.5}))
    assert fleet.log_usage(LANDER, read_usage(log)).counters.engine_starts == 3
    bad = tmp_path / "flight-8.json"
    bad.write_text(json.dumps({"descents": 1, "burn_s": -3}))
    with pytest.raises(CounterError, match=r"flight-8.json: burn_s = -3 would take the counter"):
        read_usage(bad)
    with pytest.raises(CounterError, match="no such run folder"):
        read_usage(tmp_path / "missing")


def test_a_fully_signed_card_completes_and_reschedules_its_due_item(
    fleet: Fleet, store: SqlRecordStore, clock: Clock, tmp_path: Path
) -> None:
    fleet.set_counters(LANDER, Counters(descents=2, powered_h=3.0), "flight log")
    (imu,) = [i for i in fleet.due(LANDER) if i.card_number == IMU]
    assert imu.status == "DUE SOON" and imu.describe() == "descents 2 of 2 (0 descents left)"
    run_id = card_run(store, IMU, rii=(2,), signed=("performed",))
    # Performed but the RII step is not inspected: not complete, and a release blocker.
    assert fleet.sync() == []
    assert any(
        f"card {IMU} run {run_id}: RII step 2 not inspected" in reason
        for reason in fleet.release_blockers(LANDER)
    )
    # A failed run of another lander or card never completes anything.
    card_run(store, IMU, lander="HR-M3-SN009", rii=(2,))
    card_run(store, IMU, rii=(2,), outcome="FAIL")
    sign(store, run_id, "insp", SECRETS["insp"], "inspected", covers=[2])
    clock.now = datetime.now(UTC) + timedelta(days=1)  # usage after the card run finished
    fleet.set_counters(LANDER, Counters(descents=4, powered_h=5.0), "flight log")
    (done,) = fleet.sync()
    assert f"card {IMU} done by run {run_id}" in done and "at 2 descents" in done
    (imu,) = [i for i in fleet.due(LANDER) if i.card_number == IMU]
    assert imu.last is not None and imu.last.run_id == run_id
    assert {line.counter: line.due for line in imu.lines if line.counter != "days"} == {
        "descents": 7.0,
        "powered_h": 53.0,
    }
    assert imu.status == "OK"
    assert not any(IMU in reason for reason in fleet.release_blockers(LANDER))


def _make_releasable(fleet: Fleet, store: SqlRecordStore) -> None:
    for task in fleet.tasks():
        if task.applies_to("HR-M3", "baseline"):
            card_run(store, task.card_number)
    fleet.sync()


def test_release_is_refused_naming_every_reason(
    fleet: Fleet, store: SqlRecordStore, clock: Clock
) -> None:
    _make_releasable(fleet, store)
    clock.now = datetime.now(UTC) + timedelta(days=2)
    fleet.set_counters(LANDER, Counters(descents=1), "flight log")  # BIT overdue at 2
    fleet.set_counters(LANDER, Counters(descents=2), "flight log")
    unsigned = card_run(store, IMU, rii=(3,), signed=("performed",))
    open_defect = fleet.report_defect(LANDER, "leg 3 strut seal weep", "tech")
    old = fleet.report_defect(
        LANDER, "LRF window scratched", "tech", discovered=clock.now - timedelta(days=2)
    )
    fleet.defer(old.defect_id, "B", "spare on order", "eng")
    fleet.add_component("ME-0011", "ME-100", since_new=Counters(burn_s=15_100.0))
    fleet.install("ME-0011", LANDER, "main-engine")
    clock.now += timedelta(days=2)  # the B deferral (3 days) ran out
    with pytest.raises(ReleaseRefused) as refused:
        fleet.release(LANDER, "insp", SECRETS["insp"])
    reasons = refused.value.reasons
    assert len(reasons) == 5, reasons
    assert (
        f"due item {BIT} (Flight computer power-on and built-in test) overdue: "
        "descents 2 of 1 (1 descent over)" in reasons
    )
    assert f"signature missing: card {IMU} run {unsigned}: RII step 3 not inspected" in reasons
    assert any(
        r.startswith(f"defect {open_defect.defect_id} open and not deferred") for r in reasons
    )
    assert any(f"of defect {old.defect_id} expired after" in r for r in reasons)
    assert (
        "life-limited part ME-100 s/n ME-0011 at main-engine: burn_s 15100.0 over life "
        "limit 15000.0" in reasons
    )
    assert "5 reasons" in str(refused.value)
    assert [r.card_number for r in store.runs()].count(RELEASE_CARD) == 0


def test_a_clear_release_is_a_signed_record_that_verifies(
    fleet: Fleet, store: SqlRecordStore
) -> None:
    _make_releasable(fleet, store)
    assert fleet.release_blockers(LANDER) == []
    with pytest.raises(SignoffRefused, match=r"may not release lander .* to service: needs role"):
        fleet.release(LANDER, "tech", SECRETS["tech"])
    assert all(r.card_number != RELEASE_CARD for r in store.runs())
    release = fleet.release(LANDER, "insp", SECRETS["insp"])
    info = store.run(release.run_id)
    assert (info.card_number, info.lander, info.outcome) == (RELEASE_CARD, LANDER, "RELEASED")
    report = verify(store, release.run_id)
    assert report.ok and report.signatures == 1
    state = RunState.from_events(release.run_id, store.events(release.run_id))
    (signature,) = state.signatures
    assert (signature.meaning, signature.person_id) == ("approved", "insp")
    checked = next(e for e in store.events(release.run_id) if e.kind == "release_to_service")
    assert checked.payload["lander"] == LANDER and len(checked.payload["due"]) == 9
    assert fleet.lander(LANDER).status == "released"
    assert [r.run_id for r in fleet.releases(LANDER)] == [release.run_id]


def _nothing_released(fleet: Fleet, store: SqlRecordStore, runs_before: int) -> None:
    """No release record, signature, release row or released state in the store."""
    assert len(store.runs()) == runs_before
    assert all(r.card_number != RELEASE_CARD for r in store.runs())
    approvals = [
        e
        for r in store.runs()
        for e in store.events(r.run_id)
        if e.kind == "signature" and e.payload["meaning"] == "approved"
    ]
    assert approvals == []
    assert fleet.releases() == []
    assert fleet.lander(LANDER).status == "awaiting release"


def test_a_release_refused_after_the_signer_is_checked_leaves_nothing_behind(
    fleet: Fleet, store: SqlRecordStore, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another bench reports a defect while the certifying person is being authenticated:
    the release checks again under the lander's lock, is refused, and writes nothing."""
    _make_releasable(fleet, store)
    assert fleet.release_blockers(LANDER) == []
    runs_before = len(store.runs())
    authenticate = store.people.authenticate
    reported = []

    def meanwhile_on_another_bench(person_id: str, secret: str, purpose: str) -> Any:
        key = authenticate(person_id, secret, purpose)
        if not reported:
            with open_url(store_url) as other_store, Fleet(other_store) as other:
                reported.append(other.report_defect(LANDER, "leg 2 strut seal weep", "tech"))
        return key

    monkeypatch.setattr(store.people, "authenticate", meanwhile_on_another_bench)
    with pytest.raises(ReleaseRefused) as refused:
        fleet.release(LANDER, "insp", SECRETS["insp"])
    (defect,) = reported
    assert refused.value.reasons == [
        f"defect {defect.defect_id} open and not deferred: leg 2 strut seal weep"
    ]
    _nothing_released(fleet, store, runs_before)


def test_a_release_whose_signature_is_refused_leaves_no_record_behind(
    fleet: Fleet, store: SqlRecordStore
) -> None:
    """The authorization is valid by the fleet's clock but has expired when the record is
    signed: the signature is refused, and the release record begun for it is not kept."""
    lapsed = Authorization("LL-*", "CERT-9", date.today() - timedelta(days=3))
    administer(store).add("cert", "Cora Tifying", ["inspector"], "cert-secret", [lapsed])
    _make_releasable(fleet, store)
    runs_before = len(store.runs())
    with pytest.raises(SignoffRefused, match="has no authorization for card LL-05-00-00-RTS"):
        fleet.release(LANDER, "cert", "cert-secret")
    _nothing_released(fleet, store, runs_before)
    assert fleet.release(LANDER, "insp", SECRETS["insp"]).lander == LANDER  # then one clean


def test_closing_a_defect_is_a_signed_record_that_verifies(
    fleet: Fleet, store: SqlRecordStore
) -> None:
    defect = fleet.report_defect(LANDER, "LRF window scratched", "tech")
    with pytest.raises(AuthenticationError):
        fleet.close_defect(defect.defect_id, "window replaced", "tech", "wrong secret")
    with pytest.raises(SignoffRefused, match=r"\(insp\) may not close D-.*: needs role technician"):
        fleet.close_defect(defect.defect_id, "window replaced", "insp", SECRETS["insp"])
    with pytest.raises(FleetError, match="closing needs the corrective action"):
        fleet.close_defect(defect.defect_id, "  ", "tech", SECRETS["tech"])
    assert fleet.defect(defect.defect_id).status == "open"
    assert all(r.card_number != DEFECT_CARD for r in store.runs())  # nothing written

    closed = fleet.close_defect(
        defect.defect_id, "window replaced, s/n W-114", "tech", SECRETS["tech"]
    )
    assert (closed.status, closed.closure) == ("closed", "window replaced, s/n W-114 (tech)")
    run_id = closed.closure_run_id
    assert run_id is not None
    info = store.run(run_id)
    assert (info.card_number, info.lander, info.outcome) == (DEFECT_CARD, LANDER, "CLOSED")
    report = verify(store, run_id)
    assert report.ok and report.signatures == 1
    (signature,) = RunState.from_events(run_id, store.events(run_id)).signatures
    assert (signature.meaning, signature.person_id) == ("performed", "tech")
    rectified = next(e for e in store.events(run_id) if e.kind == "defect_rectified")
    assert rectified.payload["defect"] == defect.defect_id
    assert rectified.payload["description"] == "LRF window scratched"
    with pytest.raises(FleetError, match="already closed"):
        fleet.close_defect(defect.defect_id, "again", "tech", SECRETS["tech"])


def test_a_defect_closure_whose_signature_is_refused_leaves_no_record_behind(
    fleet: Fleet, store: SqlRecordStore
) -> None:
    lapsed = Authorization("LL-*", "CERT-9", date.today() - timedelta(days=3))
    administer(store).add("temp", "Tim Porary", ["technician"], "temp-secret", [lapsed])
    defect = fleet.report_defect(LANDER, "LRF window scratched", "tech")
    with pytest.raises(SignoffRefused, match="has no authorization for card LL-05-00-00-DEF"):
        fleet.close_defect(defect.defect_id, "window replaced", "temp", "temp-secret")
    assert all(r.card_number != DEFECT_CARD for r in store.runs())
    assert fleet.defect(defect.defect_id).status == "open"


def test_a_version_1_fleet_is_upgraded_and_keeps_its_unsigned_closures(store_url: str) -> None:
    with open_url(store_url) as old:
        old.sql().migrate("fleet", MIGRATIONS[:1])  # what hil before signed closures made
        with old.sql().transaction("a closure from version 1") as tx:
            tx.execute(
                "INSERT INTO fleet_defects (defect_id, lander, component, description, "
                "discovered_utc, reported_by, status, closed_utc, closure) "
                "VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    "D-OLD1",
                    LANDER,
                    None,
                    "seal weep",
                    "2026-01-02T03:04:05+00:00",
                    "tech",
                    "closed",
                    "2026-01-03T00:00:00+00:00",
                    "seal replaced (tech)",
                ),
            )
    with open_url(store_url) as upgraded, Fleet(upgraded) as fleet:
        versions = upgraded.sql().query(
            "SELECT version FROM component_versions WHERE component = 'fleet' ORDER BY version"
        )
        assert versions == [(1,), (2,)] and SCHEMA_VERSION == 2
        old_closure = fleet.defect("D-OLD1")
        assert (old_closure.closure, old_closure.closure_run_id) == ("seal replaced (tech)", None)


def test_work_package_closes_only_when_its_items_are_done(
    fleet: Fleet, store: SqlRecordStore
) -> None:
    defect = fleet.report_defect(LANDER, "connector J4 bent pin", "tech")
    package = fleet.create_package(LANDER, "A-check", [BIT, defect.defect_id])
    with pytest.raises(FleetError, match=f"still open: {defect.defect_id}, {BIT}"):
        fleet.close_package(package.package_id)
    card_run(store, BIT)
    fleet.close_defect(defect.defect_id, "pin replaced", "tech", SECRETS["tech"])
    assert fleet.close_package(package.package_id).status == "closed"
    with pytest.raises(UnknownSerial, match="'LL-99': not a program card"):
        fleet.create_package(LANDER, "x", ["LL-99"])


def test_unknown_serials_and_backward_counters_are_refused(fleet: Fleet, tmp_path: Path) -> None:
    with pytest.raises(
        UnknownSerial,
        match=r"lander 'HR-M3-SN404': not registered \(landers: "
        "HR-M3-SN002\\)",
    ):
        fleet.due("HR-M3-SN404")
    with pytest.raises(UnknownSerial, match="component 'ME-404': not registered"):
        fleet.install("ME-404", LANDER, "main-engine")
    fleet.set_counters(LANDER, Counters(descents=3, burn_s=900.0), "flight log")
    with pytest.raises(CounterError, match=r"never go backwards \(descents 3 -> 2; burn_s 900.0"):
        fleet.set_counters(LANDER, Counters(descents=2, burn_s=10.0), "typo")
    assert fleet.lander(LANDER).counters == Counters(descents=3, burn_s=900.0)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(
        st.tuples(st.integers(0, 3), st.integers(-2, 3), st.floats(-50.0, 500.0)),
        min_size=1,
        max_size=8,
    )
)
def test_counters_never_go_backwards(fleet: Fleet, steps: list[tuple[int, int, float]]) -> None:
    serial = f"HR-M3-P{fleet.db.query('SELECT COUNT(*) FROM fleet_landers')[0][0]}"
    fleet.add_lander(serial, "HR-M3", "baseline", date(2026, 1, 1))
    fleet.add_component(f"{serial}-ME", "ME-100")
    fleet.install(f"{serial}-ME", serial, "main-engine")
    for kind, descents, burn_s in steps:
        before = fleet.lander(serial).counters
        try:
            if kind == 0:
                wanted = Counters(
                    descents=max(0, before.descents + descents),
                    burn_s=max(0.0, before.burn_s + burn_s),
                )
                fleet.set_counters(serial, wanted, "log")
            else:
                delta = Counters.parse({"descents": descents, "burn_s": burn_s}, "log")
                fleet.services.landers.add_usage(serial, delta, "log")
        except CounterError:
            pass
        after = fleet.lander(serial).counters
        assert after.backwards_from(before) == []
        assert fleet.component(f"{serial}-ME").since_new == after


def test_the_cli_reports_due_defers_and_refuses_release(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--store", store_url]
    assert main(["fleet", "load-program", str(PROGRAM), *data]) == 0
    assert (
        main(
            [
                "fleet",
                "add-lander",
                LANDER,
                "--model",
                "HR-M3",
                "--in-service",
                (date.today() - timedelta(days=40)).isoformat(),
                *data,
            ]
        )
        == 0
    )
    folder = descent_folder(tmp_path / "descent", [(5.0, 65.0)], 100.0)
    assert main(["fleet", "log-descent", "--lander", LANDER, str(folder), *data]) == 0
    assert "+descents 1, engine_starts 1, burn_s 60.0" in capsys.readouterr().out
    assert main(["fleet", "due", "--lander", LANDER, *data]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"{BIT} .* OVERDUE .* calendar due .* \(10 days over\)", out)
    # a passed run not yet signed is named under the list: what completes the item next
    with make_store(store_url, kdf=Kdf(n=2**10)) as records:
        assert isinstance(records, SqlRecordStore)
        unsigned = card_run(records, BIT, signed=())
        administer(records).add("tech", "Jane Tech", ["technician"], SECRETS["tech"], [VALID])
    assert main(["fleet", "due", "--lander", LANDER, *data]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"{BIT} .* OVERDUE", out)
    assert f"card {BIT} run {unsigned}: no 'performed' signature" in out
    assert (
        main(["fleet", "defect", "--lander", LANDER, "--text", "seal weep", "--by", "tech", *data])
        == 0
    )
    defect_id = capsys.readouterr().out.split()[1]
    assert (
        main(
            [
                "fleet",
                "defer",
                defect_id,
                "--category",
                "B",
                "--days",
                "4",
                "--reason",
                "spare",
                "--by",
                "eng",
                *data,
            ]
        )
        == 1
    )
    err = capsys.readouterr().err.strip()
    assert err == f"hil: defect {defect_id}: 4 days is past category B's limit of 3 days"
    assert main(["fleet", "release", "--lander", LANDER, "--person", "insp", *data]) == 1
    out = capsys.readouterr().out
    assert "release of lander HR-M3-SN002 refused:" in out
    assert f"defect {defect_id} open and not deferred" in out
    assert main(["fleet", "due", "--lander", "SN404", *data]) == 2  # usage, not a FAIL
    assert capsys.readouterr().err.strip() == (
        "hil: lander 'SN404': not registered (landers: HR-M3-SN002)"
    )
    assert main(["fleet", "log-descent", "--lander", LANDER, str(folder), *data]) == 1
    assert "a flight is counted once" in capsys.readouterr().err
    secret = tmp_path / "tech.secret"
    secret.write_text(SECRETS["tech"] + "\n")
    close = ["fleet", "close-defect", defect_id, "--action", "seal replaced", "--by", "tech"]
    assert main([*close, "--secret-file", str(secret), *data]) == 0
    closed = capsys.readouterr().out.strip()
    assert re.fullmatch(rf"closed {defect_id}: seal replaced \(tech\) \(record \S+\)", closed)
    assert main(["fleet", "defects", "--all", "--lander", LANDER, *data]) == 0
    assert re.search(rf"{defect_id} .* closed .*\[record \S+\]", capsys.readouterr().out)


def test_a_descent_flown_for_a_lander_is_logged_to_it_and_unknown_landers_never_fly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data", str(tmp_path / "data")]
    scenario = tmp_path / "short.toml"
    scenario.write_text(
        '[scenario]\nname = "short"\ndescription = "ignition, then 5 s of braking"\n'
        "[timeline]\nmax_duration_s = 15.0\n"
    )
    fly = ["descent", "--bench", str(ROOT / "hil/data/benches/sim.toml")]
    fly += ["--scenario", str(scenario), "--lander", "SN404", *data]
    assert main([*fly, "--out", str(tmp_path / "refused")]) == 2
    assert capsys.readouterr().err.strip() == "hil: lander 'SN404': not registered (landers: none)"
    assert not (tmp_path / "refused").exists()  # refused before flying

    assert main(["fleet", "load-program", str(PROGRAM), *data]) == 0
    assert (
        main(
            [
                "fleet",
                "add-lander",
                "SN404",
                "--model",
                "HR-M3",
                "--in-service",
                "2026-01-01",
                *data,
            ]
        )
        == 0
    )
    capsys.readouterr()
    main([*fly, "--out", str(tmp_path / "flown")])  # 15 s: no touchdown, a FAIL verdict
    out = capsys.readouterr().out
    assert "logged to lander SN404: +descents 1, engine_starts 1, burn_s 4.9" in out
    assert "lander SN404 now: descents 1, engine_starts 1" in out
    # the flight is in the counters once: logging its folder again is refused
    assert main(["fleet", "log-descent", "--lander", "SN404", str(tmp_path / "flown"), *data]) == 1
    assert "a flight is counted once" in capsys.readouterr().err


BENCH = textwrap.dedent(
    """
    import json, sys
    from hil.fleet import DuplicateUsage, Fleet, read_usage
    from hil.records.backends import open_store

    url, lander, *logs = sys.argv[1:]
    with open_store(url) as store, Fleet(store) as fleet:
        print("ready", flush=True)
        sys.stdin.readline()
        done = fleet.sync(lander)
        duplicates = 0
        for log in logs:
            try:
                fleet.log_usage(lander, read_usage(log))
            except DuplicateUsage:
                duplicates += 1
        print(json.dumps({"done": done, "duplicates": duplicates}), flush=True)
    """
)


def test_two_benches_syncing_and_logging_flights_at_once_lose_nothing(
    fleet: Fleet, store: SqlRecordStore, store_url: str, tmp_path: Path
) -> None:
    """Two bench processes on one lander: both sync the same signed card run, then log a
    dozen flights both hold (each must count once) and eight of their own."""
    fleet.add_component("ME-0007", "ME-100")
    fleet.install("ME-0007", LANDER, "main-engine")
    run_id = card_run(store, BIT)

    def flight(name: str, burn_s: float) -> str:
        log = tmp_path / f"{name}.json"
        log.write_text(json.dumps({"descents": 1, "engine_starts": 1, "burn_s": burn_s}))
        return str(log)

    shared = [flight(f"shared-{i}", 10.0 + i) for i in range(12)]
    own = {
        b: [flight(f"{b}-{i}", base + i) for i in range(8)]
        for b, base in (("a", 100.0), ("b", 200.0))
    }
    children = []
    try:
        for bench in ("a", "b"):
            logs = [log for pair in zip(shared, own[bench] + [""] * 4, strict=True) for log in pair]
            children.append(
                subprocess.Popen(
                    [sys.executable, "-c", BENCH, store_url, LANDER, *filter(None, logs)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        for child in children:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        for child in children:  # both start at (nearly) the same instant
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        outputs = [child.communicate(timeout=60) for child in children]
    finally:
        for child in children:
            child.kill()
            child.wait(timeout=10)
    assert [child.returncode for child in children] == [0, 0], [err for _, err in outputs]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    done = [line for result in results for line in result["done"]]
    assert len(done) == 1 and f"card {BIT} done by run {run_id}" in done[0]
    assert sum(result["duplicates"] for result in results) == len(shared)
    counters = fleet.lander(LANDER).counters
    assert (counters.descents, counters.engine_starts) == (28, 28)
    burn_s = sum(10.0 + i for i in range(12)) + sum(300.0 + 2 * i for i in range(8))
    assert counters.burn_s == pytest.approx(burn_s)
    assert fleet.component("ME-0007").since_new == counters
    seqs = [
        row[0]
        for row in fleet.db.query(
            "SELECT seq FROM fleet_counter_log WHERE lander = ? ORDER BY seq", (LANDER,)
        )
    ]
    assert seqs == list(range(1, 30))  # entry into service, then one per flight
    (bit,) = [i for i in fleet.due(LANDER) if i.card_number == BIT]
    assert bit.last is not None and bit.last.run_id == run_id


def test_the_fleet_tables_are_a_versioned_component_of_the_record_store(
    fleet: Fleet, store: SqlRecordStore, store_url: str
) -> None:
    versions = store.sql().query(
        "SELECT version FROM component_versions WHERE component = 'fleet' ORDER BY version"
    )
    assert versions == [(v,) for v in range(1, SCHEMA_VERSION + 1)]  # one row per migration
    with open_url(store_url) as again, Fleet(again) as other:  # another bench: no re-run
        assert [lander.serial for lander in other.landers()] == [LANDER]
    with open_url(store_url, readonly=True) as reader, Fleet(reader) as viewer:
        assert viewer.lander(LANDER).model == "HR-M3"
        assert viewer.sync() == []
        with pytest.raises(StorageError, match="read-only"):
            viewer.add_lander("HR-M3-SN005", "HR-M3", "baseline", date(2026, 1, 1))
    with store.sql().transaction("pretend a newer hil ran") as tx:
        tx.execute(
            "INSERT INTO component_versions VALUES (?, ?, ?)",
            ("fleet", SCHEMA_VERSION + 1, "2030-01-01T00:00:00+00:00"),
        )
    with pytest.raises(
        StorageError, match=f"fleet tables are at version {SCHEMA_VERSION + 1}, newer"
    ):
        Fleet(store)
