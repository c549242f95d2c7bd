"""The release table: ``fleet_releases``, one row per release to service, pointing at its
signed ``RELEASE_CARD`` record and holding the lander's counters then.

SQL only: when a lander may be released is decided in ``hil.fleet.release``. Writes run in
the caller's transaction (``FleetDb.transaction``), the one that writes the signed record.
"""

from __future__ import annotations

from hil.fleet.db import FleetDb
from hil.fleet.entities import Release
from hil.fleet.model import Counters


class ReleaseRepository:
    """Releases to service, in ``db``."""

    def __init__(self, db: FleetDb) -> None:
        self.db = db

    def insert(self, release: Release) -> None:
        self.db.execute(
            "INSERT INTO fleet_releases (release_id, lander, run_id, released_utc, person_id, "
            "descents, engine_starts, burn_s, powered_h) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                release.release_id,
                release.lander,
                release.run_id,
                release.released_utc,
                release.person_id,
                *release.counters.as_tuple(),
            ),
        )

    def find(self, lander: str | None = None) -> list[Release]:
        """Releases (of ``lander``; None: every lander), oldest first."""
        sql = (
            "SELECT release_id, lander, run_id, released_utc, person_id, descents, "
            "engine_starts, burn_s, powered_h FROM fleet_releases"
        )
        if lander is None:
            rows = self.db.query(sql + " ORDER BY released_utc")
        else:
            rows = self.db.query(sql + " WHERE lander = ? ORDER BY released_utc", (lander,))
        return [
            Release(rid, serial, run_id, utc, person, Counters(d, e, b, p))
            for rid, serial, run_id, utc, person, d, e, b, p in rows
        ]
