"""``Fleet``: the one object the CLI, the GUI and scripts use for the fleet maintenance
program, a thin facade that composes one service per aggregate over their repositories.

- ``landers.LanderService``: landers, counters and logged flights (usage);
- ``components.ComponentService``: serialized parts, installed and removed, their history;
- ``maintenance.MaintenanceService``: the program, card completions, due items;
- ``defects.DefectService``: defects, MEL deferrals, signed closures;
- ``packages.PackageService``: work packages;
- ``release.ReleaseService``: release blockers and the signed, atomic release.

The SQL is in ``hil.fleet.repositories`` (one repository per table family), the rows in the
fleet tables (``hil.fleet.db``) of the same database as the records; card completions,
releases and defect closures are records in the store. Every business action is one
transaction (``FleetDb.transaction``) that the services' repository calls join. Two benches
may work on the same lander at once, on SQLite or PostgreSQL: rows decided on are read locked
(``FleetDb.lock_suffix``), a flight is counted once however many benches log it, and a due
item's completion only ever moves forward. Each method here hands over to its service.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import Any, Self

from hil.fleet.components import ComponentService
from hil.fleet.db import FleetDb
from hil.fleet.defects import DEFECT_CARD, DefectService
from hil.fleet.entities import (
    AWAITING,
    RELEASED,
    Component,
    Defect,
    Lander,
    PackageItem,
    Release,
    WorkPackage,
    counters_text,
    release_status,
    utc_clock,
)
from hil.fleet.landers import LanderService
from hil.fleet.maintenance import PASSING, MaintenanceService, SyncReport
from hil.fleet.model import Counters, Deferral, DueItem, Task, utc_date
from hil.fleet.packages import PackageService
from hil.fleet.program import Program
from hil.fleet.release import RELEASE_CARD, ReleaseService
from hil.fleet.repositories import Repositories
from hil.fleet.signing import FleetRecords
from hil.fleet.usage import Usage
from hil.records.store import RecordStore

__all__ = [
    "AWAITING",
    "DEFECT_CARD",
    "PASSING",
    "RELEASED",
    "RELEASE_CARD",
    "Component",
    "Defect",
    "Fleet",
    "FleetServices",
    "Lander",
    "PackageItem",
    "Release",
    "SyncReport",
    "WorkPackage",
    "counters_text",
    "release_status",
    "utc_clock",
]


@dataclass(frozen=True)
class FleetServices:
    """One service per aggregate, composed over one set of repositories."""

    landers: LanderService
    components: ComponentService
    maintenance: MaintenanceService
    defects: DefectService
    packages: PackageService
    release: ReleaseService

    @classmethod
    def compose(
        cls,
        store: RecordStore,
        db: FleetDb,
        repositories: Repositories,
        now: Callable[[], datetime],
    ) -> FleetServices:
        repos = repositories
        records = FleetRecords(store, db, now)
        landers = LanderService(db, repos.landers, repos.components, now)
        components = ComponentService(db, repos.components, repos.landers, now)
        maintenance = MaintenanceService(
            db, repos.program, repos.landers, repos.components, store, now
        )
        defects = DefectService(db, repos.defects, repos.landers, repos.components, records, now)
        packages = PackageService(
            db, repos.packages, repos.landers, repos.defects, maintenance, now
        )
        release = ReleaseService(
            db, repos.releases, repos.landers, maintenance, defects, components, records, now
        )
        return cls(landers, components, maintenance, defects, packages, release)


class Fleet:
    """The maintenance program of the landers recorded in ``store`` (a SQL record store:
    SQLite or PostgreSQL; its fleet tables are created or upgraded here, ``StorageError``
    otherwise). Use as a context manager (or call ``close``; the store stays open). ``now`` is
    the clock: aware datetimes (stamped in UTC with ``hil.core.timestamps.format_utc``, which
    raises ``ValueError`` for a naive one); tests pass their own."""

    def __init__(
        self,
        store: RecordStore,
        db: FleetDb | None = None,
        *,
        now: Callable[[], datetime] = utc_clock,
    ) -> None:
        self.store = store
        self.db = db or FleetDb.for_store(store)
        self.now = now
        self.repositories = Repositories.over(self.db)
        self.services = FleetServices.compose(store, self.db, self.repositories, lambda: self.now())

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

    # -- landers and counters (LanderService) ------------------------------------------------

    def add_lander(
        self,
        serial: str,
        model: str,
        configuration: str,
        in_service: date,
        counters: Counters | None = None,
    ) -> Lander:
        """Register a lander (``FleetError`` for an empty or taken serial)."""
        return self.services.landers.add_lander(serial, model, configuration, in_service, counters)

    def lander(self, serial: str, *, lock: bool = False) -> Lander:
        """Raises ``UnknownSerial`` naming the serial (and the landers there are)."""
        return self.services.landers.lander(serial, lock=lock)

    def landers(self) -> list[Lander]:
        return self.services.landers.all()

    def counters_at(self, serial: str, utc: str) -> Counters:
        """The lander's counters at ``utc`` (ISO 8601), from the counter log."""
        return self.services.landers.counters_at(serial, utc)

    def set_counters(self, serial: str, counters: Counters, source: str) -> Lander:
        """Set the lander's counters (``CounterError`` if one would go backwards)."""
        return self.services.landers.set_counters(serial, counters, source)

    def log_usage(self, serial: str, usage: Usage) -> Lander:
        """Add one flight to the lander and its parts (``DuplicateUsage`` if logged before)."""
        return self.services.landers.log_usage(serial, usage)

    # -- components (ComponentService) -------------------------------------------------------

    def component(self, serial: str, *, lock: bool = False) -> Component:
        """Raises ``UnknownSerial``."""
        return self.services.components.component(serial, lock=lock)

    def components(self, lander: str | None = None) -> list[Component]:
        """Every component, or those installed on ``lander``."""
        return self.services.components.on(lander)

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
        """Register a part by serial (life limits default to the part catalogue's)."""
        return self.services.components.add_component(
            serial,
            part_number,
            name=name,
            life=life,
            since_new=since_new,
            manufactured=manufactured,
        )

    def history(self, serial: str) -> list[dict[str, Any]]:
        """Registration, installs and removals of a component, oldest first."""
        return self.services.components.history(serial)

    def install(
        self, serial: str, lander: str, position: str, parent: str | None = None, reason: str = ""
    ) -> Component:
        """Install a component at ``position`` on a lander (inside ``parent`` if given)."""
        return self.services.components.install(serial, lander, position, parent, reason)

    def remove(self, serial: str, reason: str = "") -> list[Component]:
        """Remove a component and everything inside it; returns what was removed."""
        return self.services.components.remove(serial, reason)

    # -- program and due items (MaintenanceService) ------------------------------------------

    def load_program(self, program: Program) -> None:
        """Store the program's tasks and part catalogue."""
        self.services.maintenance.load_program(program)

    def add_task(self, task: Task, program: str = "ad hoc") -> None:
        self.services.maintenance.add_task(task, program)

    def setting(self, name: str, default: str) -> str:
        return self.services.maintenance.setting(name, default)

    def tasks(self) -> list[Task]:
        return self.services.maintenance.tasks()

    def signature_gaps(self, run_id: str) -> list[str]:
        """What a card run still needs before it completes a due item."""
        return self.services.maintenance.signature_gaps(run_id)

    def sync(self, serial: str | None = None) -> list[str]:
        """Complete due items from passed, fully signed card runs; one line per completion."""
        return self.services.maintenance.sync(serial)

    def sync_report(self, serial: str | None = None) -> SyncReport:
        """``sync``, with the runs it refused to credit and why."""
        return self.services.maintenance.sync_report(serial)

    def refused_runs(self, serial: str) -> list[str]:
        """Passed card runs of the lander the fleet does not credit (their record does not
        verify, or says another lander, card or outcome), one line each with the reason."""
        return self.services.maintenance.refused_runs(serial)

    def due(self, serial: str, *, sync: bool = True) -> list[DueItem]:
        """Every program task that applies to the lander, worst first."""
        return self.services.maintenance.due(serial, sync=sync)

    def unsigned_runs(self, serial: str) -> list[str]:
        """Passed card runs of the lander that still miss a signature, one text each."""
        return self.services.maintenance.unsigned_runs(serial)

    # -- defects and deferrals (DefectService) -----------------------------------------------

    def defect(self, defect_id: str, *, lock: bool = False) -> Defect:
        """Raises ``UnknownSerial``."""
        return self.services.defects.defect(defect_id, lock=lock)

    def defects(self, serial: str | None = None, *, include_closed: bool = False) -> list[Defect]:
        return self.services.defects.on(serial, include_closed=include_closed)

    def report_defect(
        self,
        serial: str,
        description: str,
        reported_by: str,
        *,
        component: str | None = None,
        discovered: datetime | None = None,
    ) -> Defect:
        """Record a defect found on a lander; the lander then needs a new release."""
        return self.services.defects.report_defect(
            serial, description, reported_by, component=component, discovered=discovered
        )

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
        """Defer an open defect under MEL ``category`` (``DeferralRefused`` otherwise)."""
        return self.services.defects.defer(
            defect_id, category, reason, deferred_by, days=days, descents=descents
        )

    def deferral(self, defect_id: str) -> Deferral | None:
        return self.services.defects.deferral(defect_id)

    def close_defect(self, defect_id: str, action: str, person_id: str, secret: str) -> Defect:
        """Close a defect with a ``DEFECT_CARD`` record signed by who took the action."""
        return self.services.defects.close_defect(defect_id, action, person_id, secret)

    # -- work packages (PackageService) ------------------------------------------------------

    def create_package(self, serial: str, title: str, items: Sequence[str]) -> WorkPackage:
        """A work package: program cards (due items) and defect ids worked together."""
        return self.services.packages.create_package(serial, title, items)

    def package(self, package_id: str) -> WorkPackage:
        return self.services.packages.package(package_id)

    def packages(self, serial: str | None = None) -> list[WorkPackage]:
        return self.services.packages.on(serial)

    def close_package(self, package_id: str) -> WorkPackage:
        """Close a work package (``FleetError`` naming every item still open)."""
        return self.services.packages.close_package(package_id)

    # -- release to service (ReleaseService) -------------------------------------------------

    def release_blockers(self, serial: str, *, sync: bool = True) -> list[str]:
        """Every reason the lander may not be released now, one line each (empty: clear)."""
        return self.services.release.release_blockers(serial, sync=sync)

    def release(self, serial: str, person_id: str, secret: str) -> Release:
        """Release the lander to service with a signed ``RELEASE_CARD`` record, atomically
        (``ReleaseRefused`` naming every reason; then nothing is written)."""
        return self.services.release.release(serial, person_id, secret)

    def releases(self, serial: str | None = None) -> list[Release]:
        return self.services.release.find(serial)
