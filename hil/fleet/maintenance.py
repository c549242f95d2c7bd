"""The maintenance program and its due items: the program's tasks and part catalogue, the
card completions read from the records, and what is due on each lander.

``MaintenanceService`` owns when a card run completes a due item: a PASS or MARGINAL run of a
program card that applies to the lander, verified and fully signed (every step signed
``performed``, every RII step ``inspected``), completes it and reschedules it from the
counters the lander had when the run finished (the counter log keeps every value). ``sync``
finds the completions first (reads and record verification, no lock held), then writes them in
one transaction; a completion only ever moves forward, so benches syncing the same lander at
once record each completion once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
from hil.records.store import RecordStore
from hil.records.verify import verify

PASSING = ("PASS", "MARGINAL")
"""Run outcomes that complete a due item."""


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

    def signature_gaps(self, run_id: str) -> list[str]:
        """What a card run still needs before it counts: a verified record, a ``performed``
        signature on every step, an ``inspected`` one on every RII step."""
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
        landers = [self.landers.get(serial)] if serial else self.landers.all()
        tasks = self.program.tasks()
        runs = self.store.runs()
        found: list[tuple[str, str, LastDone]] = []
        for lander in landers:
            applicable = cards_for(lander, tasks)
            last = self.program.last_done(lander.serial)
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
                stamp = format_utc(parse_utc(finished))
                counters = self.landers.counters_at(lander.serial, stamp)
                found.append(
                    (lander.serial, run.card_number, LastDone(finished, run.run_id, counters))
                )
        if not found:
            return []
        done: list[str] = []
        with self.db.transaction("record card completions"):
            stamp = format_utc(self.now())
            for lander_serial, card, completion in found:
                if not self.program.record_completion(lander_serial, card, completion, stamp):
                    continue  # another bench recorded this or a later completion
                done.append(
                    f"lander {lander_serial}: card {card} done by run {completion.run_id} "
                    f"({completion.utc[:19]}, at {completion.counters.descents} descents)"
                )
        return done

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
        that still miss a signature: one text each."""
        lander = self.landers.get(serial)
        cards = cards_for(lander, self.program.tasks())
        last = self.program.last_done(serial)
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
