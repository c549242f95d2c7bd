"""Release to service: every reason a lander may not fly again, and the signed release.

``ReleaseService`` owns the release rules. A lander is released only when no due item is
overdue, no passed card run misses a signature or is refused (its record does not verify or
says otherwise than the run index), no defect is open (or deferred past its MEL
limit) and no installed part is past a life limit. The release itself is a record: a run of
``RELEASE_CARD`` holding what was checked, finished ``RELEASED`` and signed ``approved`` by a
certifying person.

A release is atomic. The signer is checked first (a wrong secret is logged even when the
release is then refused); then one transaction locks the lander's row, checks every reason
again on what is committed, and writes the record, its signature, the ``fleet_releases`` row
and the released status together. A refusal at any point, a change from another bench
included, leaves none of them behind.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from hil.core.timestamps import format_utc
from hil.fleet.components import ComponentService
from hil.fleet.db import FleetDb
from hil.fleet.defects import DefectService
from hil.fleet.entities import RELEASED, Lander, Release, new_id
from hil.fleet.errors import ReleaseRefused
from hil.fleet.maintenance import MaintenanceService
from hil.fleet.model import OVERDUE, utc_date
from hil.fleet.repositories import LanderRepository, ReleaseRepository
from hil.fleet.signing import FleetRecords
from hil.records.state import Meaning

RELEASE_CARD = "LL-05-00-00-RTS"
"""Card number of release-to-service records (a certifying person's authorization must cover
it, e.g. scope ``LL-*`` or ``LL-05-*``)."""


class ReleaseService:
    """Releases over their repository; reads the other aggregates through their services."""

    def __init__(
        self,
        db: FleetDb,
        releases: ReleaseRepository,
        landers: LanderRepository,
        maintenance: MaintenanceService,
        defects: DefectService,
        components: ComponentService,
        records: FleetRecords,
        now: Callable[[], datetime],
    ) -> None:
        self.db = db
        self.releases = releases
        self.landers = landers
        self.maintenance = maintenance
        self.defects = defects
        self.components = components
        self.records = records
        self.now = now

    def release_blockers(self, serial: str, *, sync: bool = True) -> list[str]:
        """Every reason the lander may not be released now, one line each (empty: clear).
        ``sync=False`` when the caller has just synced (a list of every lander)."""
        items = self.maintenance.due(serial, sync=sync)
        lander = self.landers.get(serial)
        now = self.now()
        today = utc_date(now)
        reasons = [
            f"due item {i.card_number} ({i.task.title}) overdue: {i.describe()}"
            for i in items
            if i.status == OVERDUE
        ]
        reasons += [f"signature missing: {text}" for text in self.maintenance.unsigned_runs(serial)]
        reasons += self.maintenance.refused_runs(serial, pending_only=True)
        for defect in self.defects.on(serial):
            if defect.status == "open":
                reasons.append(
                    f"defect {defect.defect_id} open and not deferred: {defect.description}"
                )
                continue
            deferral = self.defects.deferral(defect.defect_id)
            if deferral is None:  # pragma: no cover - a deferred defect has a deferral row
                continue
            why = deferral.expired_reason(now, lander.counters.descents)
            if why:
                reasons.append(
                    f"deferral {deferral.deferral_id} of defect {defect.defect_id} {why}: "
                    f"{defect.description}"
                )
        for part in self.components.on(serial):
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
        authorization covering ``RELEASE_CARD``), in one transaction with the lander's release.
        Raises ``AuthenticationError`` or ``SignoffRefused`` from the records, and
        ``ReleaseRefused`` when a reason appears meanwhile (another bench); then nothing of
        the release is written."""
        reasons = self.release_blockers(serial)
        if reasons:
            raise ReleaseRefused(serial, reasons)
        self.records.may_sign(
            person_id, secret, Meaning.APPROVED, RELEASE_CARD, f"release lander {serial} to service"
        )
        with self.db.transaction(f"release lander {serial}"):
            lander = self.landers.get(serial, lock=True)
            reasons = self.release_blockers(serial, sync=False)  # on what is committed now
            if reasons:
                raise ReleaseRefused(serial, reasons)
            signature = self.records.write_signed(
                card=RELEASE_CARD,
                title=f"Release to service of lander {serial}",
                lander=serial,
                kind="release_to_service",
                event="release_to_service",
                payload=self._checked(lander),
                outcome="RELEASED",
                person_id=person_id,
                secret=secret,
                meaning=Meaning.APPROVED,
            )
            release = Release(
                new_id("R"),
                serial,
                signature.run_id,
                str(signature.payload["signed_utc"]),
                person_id,
                lander.counters,
            )
            self.releases.insert(release)
            self.landers.set_status(serial, RELEASED, format_utc(self.now()))
        return release

    def _checked(self, lander: Lander) -> dict[str, Any]:
        """What the release record holds: the lander, its counters, due list, deferred
        defects and installed parts at the moment of release."""
        serial = lander.serial
        return {
            "lander": serial,
            "model": lander.model,
            "configuration": lander.configuration,
            "counters": lander.counters.to_dict(),
            "program": self.maintenance.setting("program", "ad hoc"),
            "due": [
                {"card": i.card_number, "status": i.status, "driver": i.describe()}
                for i in self.maintenance.due(serial, sync=False)
            ],
            "deferred_defects": [
                {
                    "defect": d.defect_id,
                    "description": d.description,
                    "limit_date": deferral.limit_date.isoformat(),
                    "category": deferral.category,
                }
                for d in self.defects.on(serial)
                if (deferral := self.defects.deferral(d.defect_id)) is not None
            ],
            "components": [
                {
                    "serial": c.serial,
                    "part": c.part_number,
                    "position": c.position,
                    **c.since_new.to_dict(),
                }
                for c in self.components.on(serial)
            ],
        }

    def find(self, serial: str | None = None) -> list[Release]:
        """Releases (of lander ``serial``; None: every lander), oldest first."""
        return self.releases.find(serial)
