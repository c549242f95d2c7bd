"""Defects and their MEL deferrals: reporting a defect on a lander (or one of its parts),
deferring it under an MEL category, and closing it with a signed rectification record.

``DefectService`` owns the rules of the defect aggregate: a new defect puts the lander back to
awaiting release; only an open defect is deferred, within its category's limit
(``hil.fleet.model.deferral_days``) and before that limit has run out; closing needs the
corrective action and a ``DEFECT_CARD`` record signed ``performed`` by whoever took it, written
in the same transaction as the closure (both or neither).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from hil.core.timestamps import format_utc, parse_utc
from hil.fleet.db import FleetDb
from hil.fleet.entities import AWAITING, Defect, new_id
from hil.fleet.errors import DeferralRefused, FleetError
from hil.fleet.model import Deferral, deferral_days, deferral_limit_date, utc_date
from hil.fleet.repositories import ComponentRepository, DefectRepository, LanderRepository
from hil.fleet.signing import FleetRecords
from hil.records.state import Meaning

DEFECT_CARD = "LL-05-00-00-DEF"
"""Card number of defect-rectification records: the signer's authorization must cover it."""


class DefectService:
    """Defects and deferrals over their repository (and the landers' and components'); closure
    records are written through ``records``; ``now`` is the clock."""

    def __init__(
        self,
        db: FleetDb,
        defects: DefectRepository,
        landers: LanderRepository,
        components: ComponentRepository,
        records: FleetRecords,
        now: Callable[[], datetime],
    ) -> None:
        self.db = db
        self.defects = defects
        self.landers = landers
        self.components = components
        self.records = records
        self.now = now

    def defect(self, defect_id: str, *, lock: bool = False) -> Defect:
        """Raises ``UnknownSerial``. ``lock``: hold the row until the transaction ends."""
        return self.defects.get(defect_id, lock=lock)

    def on(self, serial: str | None = None, *, include_closed: bool = False) -> list[Defect]:
        """Defects (of lander ``serial``; None: every lander), oldest first; closed ones only
        with ``include_closed``."""
        if serial is not None:
            self.landers.get(serial)
        return self.defects.find(serial, include_closed=include_closed)

    def deferral(self, defect_id: str) -> Deferral | None:
        """The defect's latest deferral, or None."""
        return self.defects.deferral(defect_id)

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
        defect = Defect(
            new_id("D"),
            serial,
            component,
            description.strip(),
            format_utc(when),
            reported_by,
            "open",
            None,
            None,
            None,
        )
        with self.db.transaction(f"report defect on lander {serial}"):
            self.landers.get(serial, lock=True)  # in line with a release under way
            if component is not None:
                self.components.get(component)
            self.defects.insert(defect)
            self.landers.set_status(serial, AWAITING, format_utc(self.now()))
        return self.defect(defect.defect_id)

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
        with self.db.transaction(f"defer {where}"):
            defect = self.defects.get(defect_id, lock=True)
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
            deferral = Deferral(
                new_id("M"),
                defect_id,
                category,
                reason.strip(),
                format_utc(now),
                deferred_by,
                limit_days,
                descents,
                self.landers.get(defect.lander).counters.descents,
                limit_date,
            )
            self.defects.insert_deferral(deferral)
            self.defects.mark_deferred(defect_id)
        return deferral

    def close_defect(self, defect_id: str, action: str, person_id: str, secret: str) -> Defect:
        """Close a defect with the corrective action, signed by who took it.

        A ``DEFECT_CARD`` record holds the defect and the action, finished ``CLOSED`` and
        signed ``performed`` by ``person_id`` (a technician or engineer whose authorization
        covers ``DEFECT_CARD``); the defect keeps its id. The record and the closure are one
        transaction. Raises ``FleetError`` (no action, already closed, here or by another
        bench meanwhile), ``UnknownSerial``, or ``AuthenticationError``/``SignoffRefused``
        from the records; then nothing of the closure is written.
        """
        if not action.strip():
            raise FleetError(f"defect {defect_id}: closing needs the corrective action")
        if self.defect(defect_id).status == "closed":
            raise FleetError(f"defect {defect_id} is already closed")
        self.records.may_sign(
            person_id, secret, Meaning.PERFORMED, DEFECT_CARD, f"close {defect_id}"
        )
        with self.db.transaction(f"close defect {defect_id}"):
            defect = self.defects.get(defect_id, lock=True)
            if defect.status == "closed":
                raise FleetError(
                    f"defect {defect_id} was closed by another bench meanwhile; nothing written"
                )
            signature = self.records.write_signed(
                card=DEFECT_CARD,
                title=f"Rectification of defect {defect_id} on lander {defect.lander}",
                lander=defect.lander,
                kind="defect_rectification",
                event="defect_rectified",
                payload={
                    "defect": defect_id,
                    "lander": defect.lander,
                    "component": defect.component,
                    "description": defect.description,
                    "discovered_utc": defect.discovered_utc,
                    "reported_by": defect.reported_by,
                    "action": action.strip(),
                },
                outcome="CLOSED",
                person_id=person_id,
                secret=secret,
                meaning=Meaning.PERFORMED,
            )
            closure = f"{action.strip()} ({person_id})"
            self.defects.close(defect_id, format_utc(self.now()), closure, signature.run_id)
        return self.defect(defect_id)
