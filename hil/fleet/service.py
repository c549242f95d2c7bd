"""The fleet maintenance program over a record store: landers, components, due items,
defects, MEL deferrals, work packages and releases to service.

``Fleet`` owns the rules; its rows live in the fleet tables (``hil.fleet.db``) of the same
database as the records. Card completions are read from the records (``RecordStore.runs`` and
``events``): a PASS or MARGINAL run of a program card on a lander, verified and fully signed
(every step signed ``performed``, every RII step ``inspected``), completes that lander's due
item and reschedules it from the counters at the moment the run finished (the counter log keeps
every value the counters had). A release to service is itself a record: a run of card
``RELEASE_CARD`` holding what was checked, finished ``RELEASED`` and signed ``approved`` with
the certifying person's credential through ``hil.records.sign``. Closing a defect is a record
too: card ``DEFECT_CARD`` with the defect and the corrective action, finished ``CLOSED`` and
signed ``performed`` by whoever took the action.

Every write is one transaction; counters only ever grow (``CounterError`` otherwise). Two
benches may work on the same lander at once, on SQLite or PostgreSQL: rows decided on are read
locked (``FleetDb.lock_suffix``), a flight is counted once however many benches log it, and a
due item's completion only ever moves forward.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any, Self

from hil.fleet.db import FleetDb
from hil.fleet.errors import (
    CounterError,
    DeferralRefused,
    DuplicateUsage,
    FleetError,
    ReleaseRefused,
    UnknownSerial,
)
from hil.fleet.model import (
    COUNTERS,
    DEFAULT_SOON_FRACTION,
    OVERDUE,
    Counters,
    Deferral,
    DueItem,
    LastDone,
    Task,
    compute_due,
    deferral_days,
    deferral_limit_date,
    fmt,
    parse_utc,
    utc_date,
)
from hil.fleet.program import Program
from hil.fleet.usage import Usage
from hil.records.store import RecordStore

DEFECT_CARD = "LL-05-00-00-DEF"
"""Card number of defect-rectification records: the signer's authorization must cover it."""
RELEASE_CARD = "LL-05-00-00-RTS"
"""Card number of release-to-service records (a certifying person's authorization must cover
it, e.g. scope ``LL-*`` or ``LL-05-*``)."""

PASSING = ("PASS", "MARGINAL")
"""Run outcomes that complete a due item."""

AWAITING, RELEASED = "awaiting release", "released"


def utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


@dataclass(frozen=True)
class Lander:
    serial: str
    model: str
    configuration: str
    status: str
    """``awaiting release`` (new, flown or a defect reported since) or ``released``."""
    in_service: date
    counters: Counters

    def days_in_service(self, today: date) -> int:
        return (today - self.in_service).days


@dataclass(frozen=True)
class Component:
    serial: str
    part_number: str
    name: str
    lander: str | None
    parent: str | None
    position: str | None
    since_new: Counters
    life: dict[str, float]
    manufactured: date | None

    def over_limit(self, today: date) -> list[str]:
        """Life limits this part is past, one text each."""
        over = []
        for name, limit in sorted(self.life.items()):
            if name == "days":
                if self.manufactured is None:
                    continue
                value = float((today - self.manufactured).days)
            else:
                value = self.since_new.get(name)
            if value > limit:
                over.append(f"{name} {fmt(value, name)} over life limit {fmt(limit, name)}")
        return over


@dataclass(frozen=True)
class Defect:
    defect_id: str
    lander: str
    component: str | None
    description: str
    discovered_utc: str
    reported_by: str
    status: str
    """``open``, ``deferred`` or ``closed``."""
    closed_utc: str | None
    closure: str | None
    closure_run_id: str | None = None
    """The signed record of the closure (``DEFECT_CARD``)."""


@dataclass(frozen=True)
class Release:
    release_id: str
    lander: str
    run_id: str
    released_utc: str
    person_id: str
    counters: Counters


@dataclass(frozen=True)
class PackageItem:
    item: str
    kind: str
    """``task`` (a card number) or ``defect`` (a defect id)."""
    done: bool


@dataclass(frozen=True)
class WorkPackage:
    package_id: str
    lander: str
    title: str
    created_utc: str
    status: str
    closed_utc: str | None
    items: tuple[PackageItem, ...]


_LANDER_COLUMNS = (
    "serial, model, configuration, status, in_service, descents, engine_starts, burn_s, powered_h"
)
_COMPONENT_COLUMNS = (
    "serial, part_number, name, lander, parent, position, descents, engine_starts, burn_s, "
    "powered_h, life_limits, manufactured"
)
_DEFECT_COLUMNS = (
    "defect_id, lander, component, description, discovered_utc, reported_by, status, "
    "closed_utc, closure, closure_run_id"
)
_DEFERRAL_COLUMNS = (
    "deferral_id, defect_id, category, reason, deferred_utc, deferred_by, limit_days, "
    "limit_descents, descents_at_deferral, limit_date"
)


class Fleet:
    """The maintenance program of the landers recorded in ``store`` (a SQL record store:
    SQLite or PostgreSQL; its fleet tables are created or upgraded here, ``StorageError``
    otherwise). Use as a context manager (or call ``close``; the store stays open). ``now`` is
    the clock (aware UTC datetimes); tests pass their own."""

    def __init__(
        self,
        store: RecordStore,
        db: FleetDb | None = None,
        *,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.db = db or FleetDb.for_store(store)
        self.now = now

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def today(self) -> date:
        return utc_date(self.now())

    # -- landers and counters ----------------------------------------------------------------

    @staticmethod
    def _lander(row: tuple[Any, ...]) -> Lander:
        serial, model, config, status, in_service, d, e, b, p = row
        return Lander(
            serial, model, config, status, date.fromisoformat(in_service), Counters(d, e, b, p)
        )

    def add_lander(
        self,
        serial: str,
        model: str,
        configuration: str,
        in_service: date,
        counters: Counters | None = None,
    ) -> Lander:
        """Register a lander with its counters at entry (default zero). Raises ``FleetError``
        for an empty or taken serial."""
        serial = serial.strip()
        if not serial or not model.strip():
            raise FleetError("a lander needs a serial and a model")
        counters = counters or Counters()
        stamp = _iso(self.now())
        with self.db.transaction() as db:
            added = db.execute(
                f"INSERT INTO fleet_landers ({_LANDER_COLUMNS}, created_utc, updated_utc) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                (
                    serial,
                    model.strip(),
                    configuration.strip() or "baseline",
                    AWAITING,
                    in_service.isoformat(),
                    *counters.as_tuple(),
                    stamp,
                    stamp,
                ),
            )
            if added != 1:
                raise FleetError(f"lander {serial} is already registered")
            self._log_counters(serial, stamp, "entry into service", counters)
        return self.lander(serial)

    def lander(self, serial: str, *, lock: bool = False) -> Lander:
        """Raises ``UnknownSerial`` naming the serial (and the landers there are). ``lock``
        (inside a transaction): hold the lander's row against other benches until it ends."""
        rows = self.db.query(
            f"SELECT {_LANDER_COLUMNS} FROM fleet_landers WHERE serial = ?"
            + (self.db.lock_suffix if lock else ""),
            (serial,),
        )
        if not rows:
            rows = self.db.query("SELECT serial FROM fleet_landers ORDER BY serial")
            known = [row[0] for row in rows]
            raise UnknownSerial(
                f"lander {serial!r}: not registered (landers: {', '.join(known) or 'none'})"
            )
        return self._lander(rows[0])

    def landers(self) -> list[Lander]:
        rows = self.db.query(f"SELECT {_LANDER_COLUMNS} FROM fleet_landers ORDER BY serial")
        return [self._lander(row) for row in rows]

    def _log_counters(self, serial: str, stamp: str, source: str, counters: Counters) -> None:
        """Append to the counter log (the caller holds the lander's row: the next ``seq``)."""
        (last,) = self.db.query(
            "SELECT MAX(seq) FROM fleet_counter_log WHERE lander = ?", (serial,)
        )[0]
        self.db.execute(
            "INSERT INTO fleet_counter_log (lander, seq, utc, source, descents, engine_starts, "
            "burn_s, powered_h) VALUES (?,?,?,?,?,?,?,?)",
            (serial, int(last or 0) + 1, stamp, source, *counters.as_tuple()),
        )

    def counters_at(self, serial: str, utc: str) -> Counters:
        """The lander's counters at ``utc`` (ISO 8601), from the counter log."""
        rows = self.db.query(
            "SELECT descents, engine_starts, burn_s, powered_h FROM fleet_counter_log "
            "WHERE lander = ? AND utc <= ? ORDER BY seq DESC LIMIT 1",
            (serial, _iso(parse_utc(utc))),
        )
        return Counters(*rows[0]) if rows else Counters()

    def set_counters(self, serial: str, counters: Counters, source: str) -> Lander:
        """Set the lander's counters (a correction from a flight log). Raises ``CounterError``
        naming each counter that would go backwards; installed components get the increase.
        The update is guarded by the values read, so a concurrent change is never overwritten."""
        with self.db.transaction() as db:
            before = self.lander(serial, lock=True).counters
            backwards = counters.backwards_from(before)
            if backwards:
                raise CounterError(
                    f"lander {serial}: counters never go backwards ({'; '.join(backwards)})"
                )
            delta = Counters(
                counters.descents - before.descents,
                counters.engine_starts - before.engine_starts,
                counters.burn_s - before.burn_s,
                counters.powered_h - before.powered_h,
            )
            stamp = _iso(self.now())
            changed = db.execute(
                "UPDATE fleet_landers SET descents = ?, engine_starts = ?, burn_s = ?, "
                "powered_h = ?, status = ?, updated_utc = ? WHERE serial = ? AND descents = ? "
                "AND engine_starts = ? AND burn_s = ? AND powered_h = ?",
                (*counters.as_tuple(), AWAITING, stamp, serial, *before.as_tuple()),
            )
            if changed != 1:
                raise CounterError(
                    f"lander {serial}: counters changed while setting them (another bench?); "
                    "nothing written, try again"
                )
            self._add_components(serial, delta)
            self._log_counters(serial, stamp, source, counters)
        return self.lander(serial)

    def _add(self, serial: str, delta: Counters, source: str) -> None:
        """Add ``delta`` (never negative) to the lander and every component installed in it."""
        if delta.backwards_from(Counters()):
            raise CounterError(
                f"lander {serial}: {source}: a negative usage would take counters back"
            )
        stamp = _iso(self.now())
        changed = self.db.execute(
            "UPDATE fleet_landers SET descents = descents + ?, engine_starts = engine_starts + ?, "
            "burn_s = burn_s + ?, powered_h = powered_h + ?, status = ?, updated_utc = ? "
            "WHERE serial = ?",
            (*delta.as_tuple(), AWAITING, stamp, serial),
        )
        if not changed:
            self.lander(serial)  # raises UnknownSerial
        self._add_components(serial, delta)
        self._log_counters(serial, stamp, source, self.lander(serial).counters)

    def _add_components(self, serial: str, delta: Counters) -> None:
        self.db.execute(
            "UPDATE fleet_components SET descents = descents + ?, "
            "engine_starts = engine_starts + ?, burn_s = burn_s + ?, powered_h = powered_h + ? "
            "WHERE lander = ?",
            (*delta.as_tuple(), serial),
        )

    def log_usage(self, serial: str, usage: Usage) -> Lander:
        """Add one flight's usage to the lander and its installed components. Raises
        ``DuplicateUsage`` when this run folder or log (same content, or same path) was logged
        before, ``UnknownSerial`` for an unknown lander."""
        with self.db.transaction() as db:
            self.lander(serial, lock=True)
            added = db.execute(
                "INSERT INTO fleet_usage (usage_id, lander, source, kind, logged_utc, descents, "
                "engine_starts, burn_s, powered_h) VALUES (?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT DO NOTHING",
                (
                    usage.usage_id,
                    serial,
                    usage.source,
                    usage.kind,
                    _iso(self.now()),
                    *usage.counters.as_tuple(),
                ),
            )
            if added != 1:  # the content hash or the path is taken (maybe by another bench)
                rows = db.query(
                    "SELECT lander, logged_utc, source FROM fleet_usage "
                    "WHERE usage_id = ? OR source = ?",
                    (usage.usage_id, usage.source),
                )
                lander, when, source = rows[0] if rows else ("?", "?", usage.source)
                seen = "" if source == usage.source else f" from {source}"
                raise DuplicateUsage(
                    f"{usage.source}: already logged to lander {lander} at {when[:19]} UTC"
                    f"{seen}; a flight is counted once"
                )
            self._add(serial, usage.counters, f"{usage.kind} {usage.source}")
        return self.lander(serial)

    # -- components --------------------------------------------------------------------------

    @staticmethod
    def _component(row: tuple[Any, ...]) -> Component:
        serial, part, name, lander, parent, position, d, e, b, p, life, made = row
        return Component(
            serial,
            part,
            name,
            lander,
            parent,
            position,
            Counters(d, e, b, p),
            {k: float(v) for k, v in json.loads(life).items()},
            date.fromisoformat(made) if made else None,
        )

    def component(self, serial: str, *, lock: bool = False) -> Component:
        """Raises ``UnknownSerial``. ``lock``: hold the row until the transaction ends."""
        rows = self.db.query(
            f"SELECT {_COMPONENT_COLUMNS} FROM fleet_components WHERE serial = ?"
            + (self.db.lock_suffix if lock else ""),
            (serial,),
        )
        if not rows:
            raise UnknownSerial(f"component {serial!r}: not registered")
        return self._component(rows[0])

    def components(self, lander: str | None = None) -> list[Component]:
        if lander is None:
            rows = self.db.query(
                f"SELECT {_COMPONENT_COLUMNS} FROM fleet_components ORDER BY serial"
            )
        else:
            self.lander(lander)
            rows = self.db.query(
                f"SELECT {_COMPONENT_COLUMNS} FROM fleet_components WHERE lander = ? "
                "ORDER BY position, serial",
                (lander,),
            )
        return [self._component(row) for row in rows]

    def add_component(
        self,
        serial: str,
        part_number: str,
        *,
        name: str | None = None,
        life: dict[str, float] | None = None,
        since_new: Counters | None = None,
        manufactured: date | None = None,
    ) -> Component:
        """Register a part by serial, with since-new counters and life limits (default: the
        part catalogue's for ``part_number``)."""
        serial = serial.strip()
        if not serial or not part_number.strip():
            raise FleetError("a component needs a serial and a part number")
        with self.db.transaction() as db:
            part = db.query(
                "SELECT name, life_limits FROM fleet_parts WHERE part_number = ?", (part_number,)
            )
            limits = dict(life) if life is not None else (json.loads(part[0][1]) if part else {})
            label = name or (part[0][0] if part else part_number)
            added = db.execute(
                f"INSERT INTO fleet_components ({_COMPONENT_COLUMNS}, created_utc) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                (
                    serial,
                    part_number,
                    label,
                    None,
                    None,
                    None,
                    *(since_new or Counters()).as_tuple(),
                    json.dumps(limits, sort_keys=True),
                    manufactured.isoformat() if manufactured else None,
                    _iso(self.now()),
                ),
            )
            if added != 1:
                raise FleetError(f"component {serial} is already registered")
            self._history(serial, "registered", None, None, None, "")
        return self.component(serial)

    def _history(
        self,
        serial: str,
        action: str,
        lander: str | None,
        parent: str | None,
        position: str | None,
        reason: str,
    ) -> None:
        """Append to the component's history (the caller holds its row: the next ``seq``)."""
        (last,) = self.db.query(
            "SELECT MAX(seq) FROM fleet_component_history WHERE serial = ?", (serial,)
        )[0]
        since_new = self.component(serial).since_new.to_dict()
        self.db.execute(
            "INSERT INTO fleet_component_history (serial, seq, utc, action, lander, parent, "
            "position, reason, since_new) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                serial,
                int(last or 0) + 1,
                _iso(self.now()),
                action,
                lander,
                parent,
                position,
                reason,
                json.dumps(since_new, sort_keys=True),
            ),
        )

    def history(self, serial: str) -> list[dict[str, Any]]:
        """Registration, installs and removals of a component, oldest first."""
        self.component(serial)
        rows = self.db.query(
            "SELECT utc, action, lander, parent, position, reason, since_new "
            "FROM fleet_component_history WHERE serial = ? ORDER BY seq",
            (serial,),
        )
        keys = ("utc", "action", "lander", "parent", "position", "reason")
        return [
            {**dict(zip(keys, row[:6], strict=True)), "since_new": json.loads(row[6])}
            for row in rows
        ]

    def install(
        self, serial: str, lander: str, position: str, parent: str | None = None, reason: str = ""
    ) -> Component:
        """Install a component at ``position`` on a lander (inside ``parent``, a component
        installed on that lander, if given). Raises ``UnknownSerial``, ``FleetError`` when the
        part is installed elsewhere or the position is taken."""
        with self.db.transaction() as db:
            self.lander(lander, lock=True)
            part = self.component(serial, lock=True)
            if part.lander is not None:
                raise FleetError(
                    f"component {serial} is installed on lander {part.lander} at "
                    f"{part.position}; remove it first"
                )
            if parent is not None:
                holder = self.component(parent)
                if holder.lander != lander:
                    raise FleetError(
                        f"component {parent} is not installed on lander {lander}; cannot hold "
                        f"{serial}"
                    )
            taken = db.query(
                "SELECT serial FROM fleet_components WHERE lander = ? AND position = ?",
                (lander, position),
            )
            if taken:
                raise FleetError(
                    f"lander {lander} position {position} holds component {taken[0][0]}"
                )
            db.execute(
                "UPDATE fleet_components SET lander = ?, parent = ?, position = ? WHERE serial = ?",
                (lander, parent, position, serial),
            )
            self._history(serial, "installed", lander, parent, position, reason)
        return self.component(serial)

    def remove(self, serial: str, reason: str = "") -> list[Component]:
        """Remove a component (and every component installed inside it) from its lander.
        Returns what was removed."""
        with self.db.transaction() as db:
            part = self.component(serial, lock=True)
            if part.lander is None:
                raise FleetError(f"component {serial} is not installed")
            self.lander(part.lander, lock=True)
            removed = [part]
            frontier = [serial]
            while frontier:
                rows = db.query(
                    f"SELECT {_COMPONENT_COLUMNS} FROM fleet_components WHERE parent = ? "
                    "AND lander IS NOT NULL",
                    (frontier.pop(),),
                )
                for row in rows:
                    removed.append(self._component(row))
                    frontier.append(row[0])
            for item in removed:
                db.execute(
                    "UPDATE fleet_components SET lander = NULL, position = NULL, parent = ? "
                    "WHERE serial = ?",
                    (None if item.serial == serial else item.parent, item.serial),
                )
                why = reason if item.serial == serial else f"with {serial}: {reason}"
                self._history(item.serial, "removed", part.lander, item.parent, item.position, why)
        return removed

    # -- program -----------------------------------------------------------------------------

    def load_program(self, program: Program) -> None:
        """Store the program's tasks and part catalogue (replacing tasks of the same card)."""
        stamp = _iso(self.now())
        with self.db.transaction() as db:
            for part in program.parts:
                db.execute(
                    "INSERT INTO fleet_parts (part_number, name, life_limits) VALUES (?,?,?) "
                    "ON CONFLICT (part_number) DO UPDATE SET name = excluded.name, "
                    "life_limits = excluded.life_limits",
                    (part.number, part.name, json.dumps(part.life, sort_keys=True)),
                )
            for task in program.tasks:
                self._put_task(task, program.label, stamp)
            self._set_setting("program", program.label)
            self._set_setting("due_soon_fraction", str(program.soon_fraction))

    def add_task(self, task: Task, program: str = "ad hoc") -> None:
        with self.db.transaction():
            self._put_task(task, program, _iso(self.now()))

    def _put_task(self, task: Task, program: str, stamp: str) -> None:
        self.db.execute(
            "INSERT INTO fleet_tasks (card_number, title, models, configurations, threshold, "
            "repeat, program, updated_utc) VALUES (?,?,?,?,?,?,?,?) "
            "ON CONFLICT (card_number) DO UPDATE SET title = excluded.title, "
            "models = excluded.models, configurations = excluded.configurations, "
            "threshold = excluded.threshold, repeat = excluded.repeat, "
            "program = excluded.program, updated_utc = excluded.updated_utc",
            (*task.to_row(), program, stamp),
        )

    def _set_setting(self, name: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO fleet_settings (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    def setting(self, name: str, default: str) -> str:
        rows = self.db.query("SELECT value FROM fleet_settings WHERE name = ?", (name,))
        return str(rows[0][0]) if rows else default

    def tasks(self) -> list[Task]:
        rows = self.db.query(
            "SELECT card_number, title, models, configurations, threshold, repeat "
            "FROM fleet_tasks ORDER BY card_number"
        )
        return [
            Task(
                card,
                title,
                tuple(json.loads(models)),
                tuple(json.loads(configs)),
                json.loads(threshold),
                json.loads(repeat),
            )
            for card, title, models, configs, threshold, repeat in rows
        ]

    # -- due items and card completions ------------------------------------------------------

    def _last_done(self, serial: str) -> dict[str, LastDone]:
        rows = self.db.query(
            "SELECT card_number, last_done_utc, last_run_id, last_descents, last_engine_starts, "
            "last_burn_s, last_powered_h FROM fleet_due_items WHERE lander = ? "
            "AND last_done_utc IS NOT NULL",
            (serial,),
        )
        return {
            card: LastDone(utc, run_id, Counters(d, e, b, p))
            for card, utc, run_id, d, e, b, p in rows
        }

    def signature_gaps(self, run_id: str) -> list[str]:
        """What a card run still needs before it counts: a verified record, a ``performed``
        signature on every step, an ``inspected`` one on every RII step."""
        from hil.records.state import Meaning, RunState
        from hil.records.verify import verify

        report = verify(self.store, run_id, check_attachments=False)
        if not report.ok:
            return [f"record does not verify ({report.reason})"]
        state = RunState.from_events(run_id, self.store.events(run_id))
        gaps = []
        unsigned = [s for s in state.steps if not state.signed(s, Meaning.PERFORMED)]
        if unsigned and len(unsigned) == len(state.steps):
            gaps.append("no 'performed' signature")
        elif unsigned:
            gaps.append("no 'performed' signature on step " + ", ".join(map(str, unsigned)))
        elif not state.steps and not state.signed(0, Meaning.PERFORMED):
            gaps.append("no 'performed' signature")
        rii = state.outstanding_rii()
        if rii:
            gaps.append("RII step " + ", ".join(map(str, rii)) + " not inspected")
        return gaps

    def sync(self, serial: str | None = None) -> list[str]:
        """Complete and reschedule due items from passed, fully signed card runs in the
        records. Returns one line per completion. Safe while other benches sync the same
        lander: each completion is recorded once, and never replaced by an older one. On a
        read-only store nothing is written (due items stay as last synced)."""
        if getattr(self.store, "readonly", False):
            return []
        landers = [self.lander(serial)] if serial else self.landers()
        tasks = self.tasks()
        runs = self.store.runs()
        done: list[str] = []
        for lander in landers:
            applicable = _cards_for(lander, tasks)
            last = self._last_done(lander.serial)
            candidates = [
                run
                for run in runs
                if run.lander == lander.serial
                and run.card_number in applicable
                and run.status == "finished"
                and run.outcome in PASSING
                and run.finished_utc
                and (run.card_number not in last or run.finished_utc > last[run.card_number].utc)
            ]
            candidates.sort(key=lambda run: str(run.finished_utc), reverse=True)
            completed: set[str] = set()
            for run in candidates:
                if run.card_number in completed or self.signature_gaps(run.run_id):
                    continue
                completed.add(run.card_number)
                finished = str(run.finished_utc)
                counters = self.counters_at(lander.serial, finished)
                # One statement, so two benches syncing at once never clash: the second
                # finds the row and updates it only with a later completion (0 rows else).
                changed = self.db.execute(
                    "INSERT INTO fleet_due_items (lander, card_number, created_utc, "
                    "last_done_utc, last_run_id, last_descents, last_engine_starts, "
                    "last_burn_s, last_powered_h) VALUES (?,?,?,?,?,?,?,?,?) "
                    "ON CONFLICT (lander, card_number) DO UPDATE SET "
                    "last_done_utc = excluded.last_done_utc, last_run_id = excluded.last_run_id, "
                    "last_descents = excluded.last_descents, "
                    "last_engine_starts = excluded.last_engine_starts, "
                    "last_burn_s = excluded.last_burn_s, last_powered_h = excluded.last_powered_h "
                    "WHERE fleet_due_items.last_done_utc IS NULL "
                    "OR fleet_due_items.last_done_utc < excluded.last_done_utc",
                    (
                        lander.serial,
                        run.card_number,
                        _iso(self.now()),
                        finished,
                        run.run_id,
                        *counters.as_tuple(),
                    ),
                )
                if changed != 1:
                    continue  # another bench recorded this or a later completion
                done.append(
                    f"lander {lander.serial}: card {run.card_number} done by run {run.run_id} "
                    f"({finished[:19]}, at {counters.descents} descents)"
                )
        return done

    def due(self, serial: str, *, sync: bool = True) -> list[DueItem]:
        """Every program task that applies to the lander, worst first."""
        if sync:
            self.sync(serial)
        lander = self.lander(serial)
        last = self._last_done(serial)
        soon = float(self.setting("due_soon_fraction", str(DEFAULT_SOON_FRACTION)))
        today = self.today()
        items = [
            compute_due(
                serial,
                task,
                lander.counters,
                lander.in_service,
                last.get(task.card_number),
                today,
                soon,
            )
            for task in self.tasks()
            if task.applies_to(lander.model, lander.configuration)
        ]
        rank = {OVERDUE: 0, "DUE SOON": 1, "OK": 2}
        items.sort(
            key=lambda i: (
                rank[i.status],
                i.driver.left / i.driver.span if i.driver else float("inf"),
                i.card_number,
            )
        )
        return items

    def unsigned_runs(self, serial: str) -> list[str]:
        """Passed runs of this lander's program cards, newer than the card's last completion,
        that still miss a signature: one text each."""
        lander = self.lander(serial)
        cards = _cards_for(lander, self.tasks())
        last = self._last_done(serial)
        found = []
        for run in self.store.runs():
            if run.lander != serial or run.card_number not in cards:
                continue
            if run.status != "finished" or run.outcome not in PASSING:
                continue
            previous = last.get(run.card_number)
            if previous is not None and str(run.finished_utc) <= previous.utc:
                continue
            gaps = self.signature_gaps(run.run_id)
            if gaps:
                found.append(f"card {run.card_number} run {run.run_id}: {'; '.join(gaps)}")
        return found

    # -- defects and deferrals ---------------------------------------------------------------

    @staticmethod
    def _defect(row: tuple[Any, ...]) -> Defect:
        return Defect(*row)

    def defect(self, defect_id: str, *, lock: bool = False) -> Defect:
        """Raises ``UnknownSerial``. ``lock``: hold the row until the transaction ends."""
        rows = self.db.query(
            f"SELECT {_DEFECT_COLUMNS} FROM fleet_defects WHERE defect_id = ?"
            + (self.db.lock_suffix if lock else ""),
            (defect_id,),
        )
        if not rows:
            raise UnknownSerial(f"defect {defect_id!r}: not recorded")
        return self._defect(rows[0])

    def defects(self, serial: str | None = None, *, include_closed: bool = False) -> list[Defect]:
        sql = f"SELECT {_DEFECT_COLUMNS} FROM fleet_defects"
        where, args = [], []
        if serial is not None:
            self.lander(serial)
            where.append("lander = ?")
            args.append(serial)
        if not include_closed:
            where.append("status <> 'closed'")
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [self._defect(row) for row in self.db.query(sql + " ORDER BY discovered_utc", args)]

    def report_defect(
        self,
        serial: str,
        description: str,
        reported_by: str,
        *,
        component: str | None = None,
        discovered: datetime | None = None,
    ) -> Defect:
        """Record a defect found on a lander (optionally on one of its components); the lander
        then needs a new release."""
        if not description.strip():
            raise FleetError(f"lander {serial}: a defect needs a description")
        when = discovered or self.now()
        if when.tzinfo is None:
            raise FleetError(f"defect discovery time {when.isoformat()}: give a UTC offset")
        defect_id = _new_id("D")
        with self.db.transaction() as db:
            self.lander(serial)
            if component is not None:
                self.component(component)
            db.execute(
                f"INSERT INTO fleet_defects ({_DEFECT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    defect_id,
                    serial,
                    component,
                    description.strip(),
                    _iso(when),
                    reported_by,
                    "open",
                    None,
                    None,
                    None,
                ),
            )
            db.execute(
                "UPDATE fleet_landers SET status = ?, updated_utc = ? WHERE serial = ?",
                (AWAITING, _iso(self.now()), serial),
            )
        return self.defect(defect_id)

    def defer(
        self,
        defect_id: str,
        category: str,
        reason: str,
        deferred_by: str,
        *,
        days: int | None = None,
        descents: int | None = None,
    ) -> Deferral:
        """Defer an open defect under MEL ``category``. Raises ``DeferralRefused`` for a limit
        past the category's, a cycle limit on B-D, no reason, a closed or already deferred
        defect, or a deferral made after the limit has already run out."""
        category = category.upper()
        where = f"defect {defect_id}"
        if not reason.strip():
            raise DeferralRefused(f"{where}: a deferral needs a reason")
        if descents is not None and category != "A":
            raise DeferralRefused(f"{where}: only category A takes a descent limit")
        if descents is not None and descents < 0:
            raise DeferralRefused(f"{where}: a descent limit of {descents}")
        limit_days = deferral_days(category, days, where)
        with self.db.transaction() as db:
            defect = self.defect(defect_id, lock=True)
            if defect.status != "open":
                raise DeferralRefused(
                    f"{where} is {defect.status}; only an open defect is deferred"
                )
            limit_date = deferral_limit_date(parse_utc(defect.discovered_utc), limit_days)
            now = self.now()
            if utc_date(now) > limit_date:
                raise DeferralRefused(
                    f"{where}: discovered {defect.discovered_utc[:10]}, category {category} "
                    f"({limit_days} days) ran out after {limit_date.isoformat()}; it cannot be "
                    "deferred now"
                )
            descents_now = self.lander(defect.lander).counters.descents
            deferral = Deferral(
                _new_id("M"),
                defect_id,
                category,
                reason.strip(),
                _iso(now),
                deferred_by,
                limit_days,
                descents,
                descents_now,
                limit_date,
            )
            db.execute(
                f"INSERT INTO fleet_deferrals ({_DEFERRAL_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    deferral.deferral_id,
                    defect_id,
                    category,
                    deferral.reason,
                    deferral.deferred_utc,
                    deferred_by,
                    limit_days,
                    descents,
                    descents_now,
                    limit_date.isoformat(),
                ),
            )
            db.execute(
                "UPDATE fleet_defects SET status = 'deferred' WHERE defect_id = ?", (defect_id,)
            )
        return deferral

    def deferral(self, defect_id: str) -> Deferral | None:
        rows = self.db.query(
            f"SELECT {_DEFERRAL_COLUMNS} FROM fleet_deferrals WHERE defect_id = ? "
            "ORDER BY deferred_utc DESC LIMIT 1",
            (defect_id,),
        )
        if not rows:
            return None
        row = list(rows[0])
        row[9] = date.fromisoformat(row[9])
        return Deferral(*row)

    def close_defect(self, defect_id: str, action: str, person_id: str, secret: str) -> Defect:
        """Close a defect with the corrective action, signed by who took it.

        A ``DEFECT_CARD`` record holds the defect and the action, finished ``CLOSED`` and
        signed ``performed`` by ``person_id`` (a technician or engineer whose authorization
        covers ``DEFECT_CARD``); the defect keeps its id. Raises ``FleetError`` (no action,
        already closed), ``UnknownSerial``, or ``AuthenticationError``/``SignoffRefused``
        from the records before anything is written.
        """
        from hil.records.signoff import sign
        from hil.records.state import Meaning

        if not action.strip():
            raise FleetError(f"defect {defect_id}: closing needs the corrective action")
        defect = self.defect(defect_id)
        if defect.status == "closed":
            raise FleetError(f"defect {defect_id} is already closed")
        self._may_sign(person_id, secret, Meaning.PERFORMED, DEFECT_CARD, f"close {defect_id}")
        run_id = self.store.create_run(
            {
                "card": {
                    "number": DEFECT_CARD,
                    "revision": "1",
                    "title": f"Rectification of defect {defect_id} on lander {defect.lander}",
                },
                "lander": defect.lander,
                "operator_id": person_id,
                "kind": "defect_rectification",
            }
        )
        self.store.append(
            run_id,
            "defect_rectified",
            {
                "defect": defect_id,
                "lander": defect.lander,
                "component": defect.component,
                "description": defect.description,
                "discovered_utc": defect.discovered_utc,
                "reported_by": defect.reported_by,
                "action": action.strip(),
            },
        )
        self.store.finish(run_id, "CLOSED")
        sign(self.store, run_id, person_id, secret, Meaning.PERFORMED)
        with self.db.transaction() as db:
            if self.defect(defect_id, lock=True).status == "closed":
                raise FleetError(
                    f"defect {defect_id} was closed by another bench meanwhile; record {run_id} "
                    "stands but does not close it"
                )
            db.execute(
                "UPDATE fleet_defects SET status = 'closed', closed_utc = ?, closure = ?, "
                "closure_run_id = ? WHERE defect_id = ?",
                (_iso(self.now()), f"{action.strip()} ({person_id})", run_id, defect_id),
            )
        return self.defect(defect_id)

    def _may_sign(self, person_id: str, secret: str, meaning: str, card: str, purpose: str) -> None:
        """Authenticate ``person_id`` and check the role and authorization ``meaning`` on
        ``card`` need, before any record is written. Raises ``AuthenticationError`` or
        ``SignoffRefused`` (naming the person and what is missing)."""
        from hil.records.errors import SignoffRefused
        from hil.records.signoff import ROLES_FOR

        people = self.store.people
        people.authenticate(person_id, secret, purpose)
        person = people.get(person_id)
        allowed = ROLES_FOR[meaning]
        who = f"{person.printed_name} ({person.person_id})"
        if not any(role in person.roles for role in allowed):
            need = " or ".join(r.value for r in allowed)
            raise SignoffRefused(f"{who} may not {purpose}: needs role {need}")
        if person.authorization_for(card, self.now()) is None:
            raise SignoffRefused(
                f"{who} has no authorization for {card} ({purpose}) valid on "
                f"{self.today().isoformat()}"
            )

    # -- work packages -----------------------------------------------------------------------

    def create_package(self, serial: str, title: str, items: Sequence[str]) -> WorkPackage:
        """A work package: program cards (due items) and defect ids worked together."""
        if not items:
            raise FleetError(f"work package {title!r}: no items")
        package_id = _new_id("WP")
        with self.db.transaction() as db:
            lander = self.lander(serial)
            cards = _cards_for(lander, self.tasks())
            kinds = []
            for item in dict.fromkeys(items):
                if item in cards:
                    kinds.append((item, "task"))
                    continue
                defect = self.defect(item) if item.startswith("D-") else None
                if defect is None:
                    raise UnknownSerial(
                        f"work package item {item!r}: not a program card of lander {serial} "
                        "nor a defect id"
                    )
                if defect.lander != serial:
                    raise FleetError(f"defect {item} is on lander {defect.lander}, not {serial}")
                kinds.append((item, "defect"))
            db.execute(
                "INSERT INTO fleet_packages (package_id, lander, title, created_utc, status, "
                "closed_utc) VALUES (?,?,?,?,?,?)",
                (package_id, serial, title, _iso(self.now()), "open", None),
            )
            for item, kind in kinds:
                db.execute(
                    "INSERT INTO fleet_package_items (package_id, item, kind) VALUES (?,?,?)",
                    (package_id, item, kind),
                )
        return self.package(package_id)

    def package(self, package_id: str) -> WorkPackage:
        rows = self.db.query(
            "SELECT package_id, lander, title, created_utc, status, closed_utc FROM fleet_packages "
            "WHERE package_id = ?",
            (package_id,),
        )
        if not rows:
            raise UnknownSerial(f"work package {package_id!r}: not recorded")
        pid, lander, title, created, status, closed = rows[0]
        last = self._last_done(lander)
        items = []
        for item, kind in self.db.query(
            "SELECT item, kind FROM fleet_package_items WHERE package_id = ? ORDER BY item",
            (pid,),
        ):
            if kind == "task":
                done = item in last and last[item].utc > created
            else:
                done = self.defect(item).status == "closed"
            items.append(PackageItem(item, kind, done))
        return WorkPackage(pid, lander, title, created, status, closed, tuple(items))

    def packages(self, serial: str | None = None) -> list[WorkPackage]:
        if serial is not None:
            self.sync(serial)
        rows = self.db.query("SELECT package_id, lander FROM fleet_packages ORDER BY created_utc")
        return [self.package(pid) for pid, lander in rows if serial in (None, lander)]

    def close_package(self, package_id: str) -> WorkPackage:
        """Close a work package. Raises ``FleetError`` naming every item still open."""
        package = self.package(package_id)
        self.sync(package.lander)
        package = self.package(package_id)
        if package.status == "closed":
            raise FleetError(f"work package {package_id} is already closed")
        open_items = [i.item for i in package.items if not i.done]
        if open_items:
            raise FleetError(f"work package {package_id}: still open: {', '.join(open_items)}")
        closed = self.db.execute(
            "UPDATE fleet_packages SET status = 'closed', closed_utc = ? WHERE package_id = ? "
            "AND status = 'open'",
            (_iso(self.now()), package_id),
        )
        if closed != 1:
            raise FleetError(f"work package {package_id} is already closed")
        return self.package(package_id)

    # -- release to service ------------------------------------------------------------------

    def release_blockers(self, serial: str, *, sync: bool = True) -> list[str]:
        """Every reason the lander may not be released now, one line each (empty: clear).
        ``sync=False`` when the caller has just synced (a list of every lander)."""
        items = self.due(serial, sync=sync)
        lander = self.lander(serial)
        now = self.now()
        today = utc_date(now)
        reasons = [
            f"due item {i.card_number} ({i.task.title}) overdue: {i.describe()}"
            for i in items
            if i.status == OVERDUE
        ]
        reasons += [f"signature missing: {text}" for text in self.unsigned_runs(serial)]
        for defect in self.defects(serial):
            if defect.status == "open":
                reasons.append(
                    f"defect {defect.defect_id} open and not deferred: {defect.description}"
                )
                continue
            deferral = self.deferral(defect.defect_id)
            if deferral is None:  # pragma: no cover - a deferred defect has a deferral row
                continue
            why = deferral.expired_reason(now, lander.counters.descents)
            if why:
                reasons.append(
                    f"deferral {deferral.deferral_id} of defect {defect.defect_id} {why}: "
                    f"{defect.description}"
                )
        for part in self.components(serial):
            for text in part.over_limit(today):
                reasons.append(
                    f"life-limited part {part.part_number} s/n {part.serial} at {part.position}: "
                    f"{text}"
                )
        return reasons

    def release(self, serial: str, person_id: str, secret: str) -> Release:
        """Release the lander to service: refused with ``ReleaseRefused`` naming every reason,
        else a ``RELEASE_CARD`` record is written, finished ``RELEASED`` and signed
        ``approved`` by ``person_id`` (who must hold an engineer or inspector role and an
        authorization covering ``RELEASE_CARD``). Raises ``AuthenticationError`` or
        ``SignoffRefused`` from the records before anything is written."""
        from hil.records.signoff import sign
        from hil.records.state import Meaning

        lander = self.lander(serial)
        reasons = self.release_blockers(serial)
        if reasons:
            raise ReleaseRefused(serial, reasons)
        self._may_sign(
            person_id, secret, Meaning.APPROVED, RELEASE_CARD, f"release lander {serial} to service"
        )
        due = self.due(serial, sync=False)
        checked = {
            "lander": serial,
            "model": lander.model,
            "configuration": lander.configuration,
            "counters": lander.counters.to_dict(),
            "program": self.setting("program", "ad hoc"),
            "due": [
                {"card": i.card_number, "status": i.status, "driver": i.describe()} for i in due
            ],
            "deferred_defects": [
                {
                    "defect": d.defect_id,
                    "description": d.description,
                    "limit_date": deferral.limit_date.isoformat(),
                    "category": deferral.category,
                }
                for d in self.defects(serial)
                if (deferral := self.deferral(d.defect_id)) is not None
            ],
            "components": [
                {
                    "serial": c.serial,
                    "part": c.part_number,
                    "position": c.position,
                    **c.since_new.to_dict(),
                }
                for c in self.components(serial)
            ],
        }
        run_id = self.store.create_run(
            {
                "card": {
                    "number": RELEASE_CARD,
                    "revision": "1",
                    "title": f"Release to service of lander {serial}",
                },
                "lander": serial,
                "operator_id": person_id,
                "kind": "release_to_service",
            }
        )
        self.store.append(run_id, "release_to_service", checked)
        self.store.finish(run_id, "RELEASED")
        event = sign(self.store, run_id, person_id, secret, Meaning.APPROVED)
        signed_utc = str(event.payload["signed_utc"])
        release = Release(_new_id("R"), serial, run_id, signed_utc, person_id, lander.counters)
        with self.db.transaction() as db:
            db.execute(
                "INSERT INTO fleet_releases (release_id, lander, run_id, released_utc, person_id, "
                "descents, engine_starts, burn_s, powered_h) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    release.release_id,
                    serial,
                    run_id,
                    release.released_utc,
                    person_id,
                    *lander.counters.as_tuple(),
                ),
            )
            current = self.lander(serial, lock=True)
            opened = db.query(
                "SELECT COUNT(*) FROM fleet_defects WHERE lander = ? AND status = 'open'",
                (serial,),
            )[0][0]
            if current.counters != lander.counters or opened:
                raise FleetError(
                    f"lander {serial} changed during its release (a flight, counters or a "
                    f"defect from another bench); record {run_id} stands but the lander is "
                    "not released: check it and release again"
                )
            db.execute(
                "UPDATE fleet_landers SET status = ?, updated_utc = ? WHERE serial = ?",
                (RELEASED, _iso(self.now()), serial),
            )
        return release

    def releases(self, serial: str | None = None) -> list[Release]:
        rows = self.db.query(
            "SELECT release_id, lander, run_id, released_utc, person_id, descents, "
            "engine_starts, burn_s, powered_h FROM fleet_releases ORDER BY released_utc"
        )
        return [
            Release(rid, lander, run_id, utc, person, Counters(d, e, b, p))
            for rid, lander, run_id, utc, person, d, e, b, p in rows
            if serial in (None, lander)
        ]


def release_status(lander: Lander, blockers: Sequence[str]) -> str:
    """``BLOCKED (n)``, ``RELEASED`` (released and nothing since) or ``READY TO RELEASE``."""
    if blockers:
        return f"BLOCKED ({len(blockers)})"
    return "RELEASED" if lander.status == RELEASED else "READY TO RELEASE"


def counters_text(counters: Counters) -> str:
    return ", ".join(f"{name} {fmt(counters.get(name), name)}" for name in COUNTERS)


def _cards_for(lander: Lander, tasks: Sequence[Task]) -> set[str]:
    """Card numbers of the program tasks that apply to ``lander``."""
    return {t.card_number for t in tasks if t.applies_to(lander.model, lander.configuration)}
