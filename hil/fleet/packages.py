"""Work packages: program cards (due items) and defects of one lander, worked together.

``PackageService`` owns the rules of the work package aggregate: every item is a program card
that applies to the lander or a defect on that lander; a card item is done once the card is
completed after the package was opened (``hil.fleet.maintenance``), a defect item once the
defect is closed; a package closes only when every item is done, once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from hil.core.timestamps import format_utc
from hil.fleet.db import FleetDb
from hil.fleet.entities import PackageItem, WorkPackage, new_id
from hil.fleet.errors import FleetError, UnknownSerial
from hil.fleet.maintenance import MaintenanceService, cards_for
from hil.fleet.repositories import (
    DefectRepository,
    LanderRepository,
    PackageRepository,
    PackageRow,
)


class PackageService:
    """Work packages over their repository; card completions come from ``maintenance``."""

    def __init__(
        self,
        db: FleetDb,
        packages: PackageRepository,
        landers: LanderRepository,
        defects: DefectRepository,
        maintenance: MaintenanceService,
        now: Callable[[], datetime],
    ) -> None:
        self.db = db
        self.packages = packages
        self.landers = landers
        self.defects = defects
        self.maintenance = maintenance
        self.now = now

    def create_package(self, serial: str, title: str, items: Sequence[str]) -> WorkPackage:
        """A work package: program cards (due items) and defect ids worked together. Raises
        ``FleetError`` without items or for a defect of another lander, ``UnknownSerial`` for
        an item that is neither."""
        if not items:
            raise FleetError(f"work package {title!r}: no items")
        package_id = new_id("WP")
        with self.db.transaction(f"create work package on lander {serial}"):
            lander = self.landers.get(serial)
            cards = cards_for(lander, self.maintenance.tasks())
            kinds = []
            for item in dict.fromkeys(items):
                if item in cards:
                    kinds.append((item, "task"))
                    continue
                defect = self.defects.get(item) if item.startswith("D-") else None
                if defect is None:
                    raise UnknownSerial(
                        f"work package item {item!r}: not a program card of lander {serial} "
                        "nor a defect id"
                    )
                if defect.lander != serial:
                    raise FleetError(f"defect {item} is on lander {defect.lander}, not {serial}")
                kinds.append((item, "defect"))
            self.packages.insert(package_id, serial, title, format_utc(self.now()), kinds)
        return self.package(package_id)

    def package(self, package_id: str) -> WorkPackage:
        """Raises ``UnknownSerial``."""
        return self._progress(self.packages.get(package_id))

    def _progress(self, row: PackageRow) -> WorkPackage:
        """The package with each item done or not, as synced last."""
        last = self.maintenance.last_done(row.lander)
        items = []
        for item, kind in row.items:
            if kind == "task":
                done = item in last and last[item].utc > row.created_utc
            else:
                done = self.defects.get(item).status == "closed"
            items.append(PackageItem(item, kind, done))
        return WorkPackage(
            row.package_id,
            row.lander,
            row.title,
            row.created_utc,
            row.status,
            row.closed_utc,
            tuple(items),
        )

    def on(self, serial: str | None = None) -> list[WorkPackage]:
        """Work packages (of lander ``serial``, synced first; None: every lander), oldest
        first."""
        if serial is not None:
            self.maintenance.sync(serial)
        return [self.package(pid) for pid in self.packages.ids(serial)]

    def close_package(self, package_id: str) -> WorkPackage:
        """Close a work package. Raises ``FleetError`` naming every item still open."""
        self.maintenance.sync(self.packages.get(package_id).lander)
        with self.db.transaction(f"close work package {package_id}"):
            package = self._progress(self.packages.get(package_id, lock=True))
            if package.status == "closed":
                raise FleetError(f"work package {package_id} is already closed")
            open_items = [i.item for i in package.items if not i.done]
            if open_items:
                raise FleetError(f"work package {package_id}: still open: {', '.join(open_items)}")
            if not self.packages.close(package_id, format_utc(self.now())):
                raise FleetError(f"work package {package_id} is already closed")
        return self.package(package_id)
