"""The defect table family: ``fleet_defects`` (defects found on a lander, open, deferred or
closed with their signed closure record) and ``fleet_deferrals`` (MEL deferrals of a defect).

SQL only: the MEL rules are in ``hil.fleet.model`` and ``hil.fleet.defects``. Writes run in
the caller's transaction (``FleetDb.transaction``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from hil.fleet.db import FleetDb
from hil.fleet.entities import Defect
from hil.fleet.errors import UnknownSerial
from hil.fleet.model import Deferral

_DEFECT_COLUMNS = (
    "defect_id, lander, component, description, discovered_utc, reported_by, status, "
    "closed_utc, closure, closure_run_id"
)
_DEFERRAL_COLUMNS = (
    "deferral_id, defect_id, category, reason, deferred_utc, deferred_by, limit_days, "
    "limit_descents, descents_at_deferral, limit_date"
)


class DefectRepository:
    """Defects and their deferrals, in ``db``."""

    def __init__(self, db: FleetDb) -> None:
        self.db = db

    # -- fleet_defects -----------------------------------------------------------------------

    def insert(self, defect: Defect) -> None:
        self.db.execute(
            f"INSERT INTO fleet_defects ({_DEFECT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                defect.defect_id,
                defect.lander,
                defect.component,
                defect.description,
                defect.discovered_utc,
                defect.reported_by,
                defect.status,
                defect.closed_utc,
                defect.closure,
                defect.closure_run_id,
            ),
        )

    def get(self, defect_id: str, *, lock: bool = False) -> Defect:
        """Raises ``UnknownSerial``. ``lock``: hold the row until the transaction ends."""
        rows = self.db.query(
            f"SELECT {_DEFECT_COLUMNS} FROM fleet_defects WHERE defect_id = ?"
            + (self.db.lock_suffix if lock else ""),
            (defect_id,),
        )
        if not rows:
            raise UnknownSerial(f"defect {defect_id!r}: not recorded")
        return Defect(*rows[0])

    def find(self, lander: str | None, *, include_closed: bool) -> list[Defect]:
        """Defects of ``lander`` (None: every lander), oldest first."""
        sql = f"SELECT {_DEFECT_COLUMNS} FROM fleet_defects"
        where: list[str] = []
        args: list[Any] = []
        if lander is not None:
            where.append("lander = ?")
            args.append(lander)
        if not include_closed:
            where.append("status <> 'closed'")
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [Defect(*row) for row in self.db.query(sql + " ORDER BY discovered_utc", args)]

    def mark_deferred(self, defect_id: str) -> None:
        self.db.execute(
            "UPDATE fleet_defects SET status = 'deferred' WHERE defect_id = ?", (defect_id,)
        )

    def close(self, defect_id: str, closed_utc: str, closure: str, run_id: str) -> None:
        """Close with the corrective action and its signed record ``run_id``."""
        self.db.execute(
            "UPDATE fleet_defects SET status = 'closed', closed_utc = ?, closure = ?, "
            "closure_run_id = ? WHERE defect_id = ?",
            (closed_utc, closure, run_id, defect_id),
        )

    # -- fleet_deferrals ---------------------------------------------------------------------

    def insert_deferral(self, deferral: Deferral) -> None:
        self.db.execute(
            f"INSERT INTO fleet_deferrals ({_DEFERRAL_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                deferral.deferral_id,
                deferral.defect_id,
                deferral.category,
                deferral.reason,
                deferral.deferred_utc,
                deferral.deferred_by,
                deferral.limit_days,
                deferral.limit_descents,
                deferral.descents_at_deferral,
                deferral.limit_date.isoformat(),
            ),
        )

    def deferral(self, defect_id: str) -> Deferral | None:
        """The defect's latest deferral, or None."""
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
