"""The work package table family: ``fleet_packages`` (a lander's work package, open or
closed) and ``fleet_package_items`` (the program cards and defect ids it holds).

SQL only: whether an item is done is decided in ``hil.fleet.packages``. Writes run in the
caller's transaction (``FleetDb.transaction``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hil.fleet.db import FleetDb
from hil.fleet.errors import UnknownSerial


@dataclass(frozen=True)
class PackageRow:
    """A work package as stored, with its items as ``(item, kind)`` pairs."""

    package_id: str
    lander: str
    title: str
    created_utc: str
    status: str
    closed_utc: str | None
    items: tuple[tuple[str, str], ...]


class PackageRepository:
    """Work packages and their items, in ``db``."""

    def __init__(self, db: FleetDb) -> None:
        self.db = db

    def insert(
        self,
        package_id: str,
        lander: str,
        title: str,
        stamp: str,
        items: Sequence[tuple[str, str]],
    ) -> None:
        """An open package with ``(item, kind)`` items (kind ``task`` or ``defect``)."""
        self.db.execute(
            "INSERT INTO fleet_packages (package_id, lander, title, created_utc, status, "
            "closed_utc) VALUES (?,?,?,?,?,?)",
            (package_id, lander, title, stamp, "open", None),
        )
        for item, kind in items:
            self.db.execute(
                "INSERT INTO fleet_package_items (package_id, item, kind) VALUES (?,?,?)",
                (package_id, item, kind),
            )

    def get(self, package_id: str, *, lock: bool = False) -> PackageRow:
        """Raises ``UnknownSerial``. ``lock``: hold the row until the transaction ends."""
        rows = self.db.query(
            "SELECT package_id, lander, title, created_utc, status, closed_utc FROM fleet_packages "
            "WHERE package_id = ?" + (self.db.lock_suffix if lock else ""),
            (package_id,),
        )
        if not rows:
            raise UnknownSerial(f"work package {package_id!r}: not recorded")
        items = self.db.query(
            "SELECT item, kind FROM fleet_package_items WHERE package_id = ? ORDER BY item",
            (package_id,),
        )
        pid, lander, title, created, status, closed = rows[0]
        return PackageRow(
            pid, lander, title, created, status, closed, tuple((i, k) for i, k in items)
        )

    def ids(self, lander: str | None = None) -> list[str]:
        """Package ids (of ``lander``; None: every lander), oldest first."""
        if lander is None:
            rows = self.db.query("SELECT package_id FROM fleet_packages ORDER BY created_utc")
        else:
            rows = self.db.query(
                "SELECT package_id FROM fleet_packages WHERE lander = ? ORDER BY created_utc",
                (lander,),
            )
        return [str(row[0]) for row in rows]

    def close(self, package_id: str, stamp: str) -> bool:
        """Close an open package; False (nothing written) when it is closed already."""
        closed = self.db.execute(
            "UPDATE fleet_packages SET status = 'closed', closed_utc = ? WHERE package_id = ? "
            "AND status = 'open'",
            (stamp, package_id),
        )
        return closed == 1
