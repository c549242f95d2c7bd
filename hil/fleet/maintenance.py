"""The maintenance program and its due items: the program's tasks and part catalogue, the
card completions read from the records, and what is due on each lander.

``MaintenanceService`` owns when a card run completes a due item: a PASS or MARGINAL run of a
program card that applies to the lander, verified and fully signed (every step signed
``performed``, every RII step ``inspected``), completes it and reschedules it from the
counters the lander had when the run finished (the counter log keeps every value). ``sync``
finds the completions first (reads and record verification, no lock held), then writes them in
one transaction; a completion only ever moves forward, so benches syncing the same lander at
once record each completion once.

What is credited comes from the verified events, never from the run index alone: the index
only nominates candidates, ``verify`` must pass (it fails on an index row the events
contradict), and the card, lander, outcome and end time credited are the ones the events say
(``VerifyReport.facts``). The outcome itself must be covered by a signature (a ``run_finished``
nobody signed after is not credited). A run the index nominates but the fleet will not credit
is *refused*, with the reason: ``sync_report``, ``refused_runs`` and the release blockers name it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from hil.core.timestamps import format_utc, parse_utc
from hil.fleet.db import FleetDb
from hil.fleet.entities import Lander
from hil.fleet.model import (
    DEFAULT_SOON_FRACTION,
    DUE_SOON,
    OK,
    OVERDUE,
    DueItem,
    LastDone,
    Task,
    compute_due,
    utc_date,
)
from hil.fleet.program import Program
from hil.fleet.repositories import ComponentRepository, LanderRepository, ProgramRepository
from hil.records.state import Meaning, RunState
from hil.records.store import RecordStore, RunInfo
from hil.records.verify import verify

PASSING = ("PASS", "MARGINAL")
"""Run outcomes that complete a due item."""


@dataclass
class SyncReport:
    """What one sync did: completions recorded, and runs refused (one line each, naming the
    card, the run and why)."""

    done: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def cards_for(lander: Lander, tasks: Sequence[Task]) -> set[str]:
    """Card numbers of the program tasks that apply to ``lander``."""
    return {t.card_number for t in tasks if t.applies_to(lander.model, lander.configuration)}


class MaintenanceService:
    """The program and due items over their repositories and the records in ``store``."""

    def __init__(
        self,
        db: FleetDb,
        program: ProgramRepository,
        landers: LanderRepository,
        components: ComponentRepository,
        store: RecordStore,
        now: Callable[[], datetime],
    ) -> None:
        self.db = db
        self.program = program
        self.landers = landers
        self.components = components
        self.store = store
        self.now = now

    # -- the program -------------------------------------------------------------------------

    def load_program(self, program: Program) -> None:
        """Store the program's tasks and part catalogue (replacing tasks of the same card)."""
        stamp = format_utc(self.now())
        with self.db.transaction(f"load program {program.label}"):
            for part in program.parts:
                self.components.put_part(part.number, part.name, part.life)
            for task in program.tasks:
                self.program.put_task(task, program.label, stamp)
            self.program.set_setting("program", program.label)
            self.program.set_setting("due_soon_fraction", str(program.soon_fraction))

    def add_task(self, task: Task, program: str = "ad hoc") -> None:
        with self.db.transaction(f"add task {task.card_number}"):
            self.program.put_task(task, program, format_utc(self.now()))

    def setting(self, name: str, default: str) -> str:
        return self.program.setting(name, default)

    def tasks(self) -> list[Task]:
        return self.program.tasks()

    def last_done(self, serial: str) -> dict[str, LastDone]:
        """The last completion of each card done on the lander, by card number."""
        return self.program.last_done(serial)

    # -- card completions --------------------------------------------------------------------

    def _checked(self, run_id: str) -> tuple[RunInfo | None, list[str]]:
        """The run as its verified events say it, and what it still needs before it counts
        (a ``performed`` signature on every step, an ``inspected`` one on every RII step, a
        signature covering its outcome). ``(None, [why])`` when the record does not verify."""
        report = verify(self.store, run_id, check_attachments=False)
        if not report.ok or report.facts is None:
            return None, [f"record does not verify ({report.reason})"]
        events = self.store.events(run_id)
        state = RunState.from_events(run_id, events)
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
        end = next((e.seq for e in events if e.kind == "run_finished"), None)
        covered = max((int(s.payload.get("covers_seq", 0)) for s in state.signatures), default=0)
        if not gaps and end is not None and covered < end:
            gaps.append(f"no signature covers its outcome (event {end})")
        return report.facts, gaps

    def signature_gaps(self, run_id: str) -> list[str]:
        """What a card run still needs before it counts: a verified record, a ``performed``
        signature on every step, an ``inspected`` one on every RII step, a signature that
        covers its outcome."""
        return self._checked(run_id)[1]

    def _nominated(
        self, lander: Lander, applicable: set[str], runs: list[RunInfo]
    ) -> list[RunInfo]:
        """Runs the index puts forward for ``lander``: finished, passed, of an applicable card
        (only a nomination: what is credited is checked against the events)."""
        return [
            run
            for run in runs
            if run.lander == lander.serial
            and run.card_number in applicable
            and run.status == "finished"
            and run.outcome in PASSING
            and run.finished_utc
        ]

    @staticmethod
    def _credited(lander: Lander, applicable: set[str], facts: RunInfo) -> str:
        """Why the events' own facts do not earn credit ("" when they do)."""
        if facts.lander != lander.serial:
            return f"the record is of lander {facts.lander!r}"
        if facts.card_number not in applicable:
            return f"card {facts.card_number} does not apply to lander {lander.serial}"
        if facts.status != "finished" or facts.outcome not in PASSING or not facts.finished_utc:
            return f"the record's outcome is {facts.outcome or facts.status}"
        return ""

    def sync(self, serial: str | None = None) -> list[str]:
        """Complete and reschedule due items from passed, fully signed card runs in the
        records. Returns one line per completion (``sync_report`` also names refused runs)."""
        return self.sync_report(serial).done

    def sync_report(self, serial: str | None = None) -> SyncReport:
        """Complete and reschedule due items from passed, fully signed card runs in the
        records whose record verifies; returns the completions and the runs refused. Safe
        while other benches sync the same lander: each completion is recorded once, and never
        replaced by an older one. On a read-only store nothing is written (due items stay as
        last synced)."""
        report = SyncReport()
        if getattr(self.store, "readonly", False):
            return report
        landers = [self.landers.get(serial)] if serial else self.landers.all()
        tasks = self.program.tasks()
        runs = self.store.runs()
        found: list[tuple[str, str, LastDone]] = []
        for lander in landers:
            applicable = cards_for(lander, tasks)
            last = self.program.last_done(lander.serial)
            candidates = [
                run
                for run in self._nominated(lander, applicable, runs)
                if run.card_number not in last or str(run.finished_utc) > last[run.card_number].utc
            ]
            candidates.sort(key=lambda run: str(run.finished_utc), reverse=True)
            completed: set[str] = set()
            for run in candidates:
                if run.card_number in completed:
                    continue
                facts, gaps = self._checked(run.run_id)
                if facts is None:
                    report.refused.append(_refusal(run, gaps[0]))
                    continue
                why = self._credited(lander, applicable, facts)
                if why:
                    report.refused.append(_refusal(run, why))
                    continue
                if gaps:
                    continue
                completed.add(facts.card_number)
                finished = str(facts.finished_utc)
                stamp = format_utc(parse_utc(finished))
                counters = self.landers.counters_at(lander.serial, stamp)
                found.append(
                    (lander.serial, facts.card_number, LastDone(finished, run.run_id, counters))
                )
        if not found:
            return report
        with self.db.transaction("record card completions"):
            stamp = format_utc(self.now())
            for lander_serial, card, completion in found:
                if not self.program.record_completion(lander_serial, card, completion, stamp):
                    continue  # another bench recorded this or a later completion
                report.done.append(
                    f"lander {lander_serial}: card {card} done by run {completion.run_id} "
                    f"({completion.utc[:19]}, at {completion.counters.descents} descents)"
                )
        return report

    def refused_runs(self, serial: str, *, pending_only: bool = False) -> list[str]:
        """Runs the index puts forward for this lander's program cards that the fleet does not
        credit because of what their record says (it does not verify, or its events name
        another lander, card or outcome): one line each, naming the run and why.
        ``pending_only``: only runs newer than their card's last completion."""
        lander = self.landers.get(serial)
        applicable = cards_for(lander, self.program.tasks())
        last = self.program.last_done(serial) if pending_only else {}
        refused = []
        for run in self._nominated(lander, applicable, self.store.runs()):
            previous = last.get(run.card_number)
            if previous is not None and str(run.finished_utc) <= previous.utc:
                continue
            facts, gaps = self._checked(run.run_id)
            why = gaps[0] if facts is None else self._credited(lander, applicable, facts)
            if why:
                refused.append(_refusal(run, why))
        return refused

    # -- due items ---------------------------------------------------------------------------

    def due(self, serial: str, *, sync: bool = True) -> list[DueItem]:
        """Every program task that applies to the lander, worst first."""
        if sync:
            self.sync(serial)
        lander = self.landers.get(serial)
        last = self.program.last_done(serial)
        soon = float(self.program.setting("due_soon_fraction", str(DEFAULT_SOON_FRACTION)))
        today = utc_date(self.now())
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
            for task in self.program.tasks()
            if task.applies_to(lander.model, lander.configuration)
        ]
        rank = {OVERDUE: 0, DUE_SOON: 1, OK: 2}
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
        whose record verifies but that still miss a signature: one text each (runs whose
        record does not verify are ``refused_runs``)."""
        lander = self.landers.get(serial)
        cards = cards_for(lander, self.program.tasks())
        last = self.program.last_done(serial)
        found = []
        for run in self._nominated(lander, cards, self.store.runs()):
            previous = last.get(run.card_number)
            if previous is not None and str(run.finished_utc) <= previous.utc:
                continue
            facts, gaps = self._checked(run.run_id)
            if facts is None or self._credited(lander, cards, facts):
                continue
            if gaps:
                found.append(f"card {run.card_number} run {run.run_id}: {'; '.join(gaps)}")
        return found


def _refusal(run: RunInfo, why: str) -> str:
    return f"card {run.card_number} run {run.run_id} on lander {run.lander} refused: {why}"
