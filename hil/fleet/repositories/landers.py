"""The lander table family: ``fleet_landers`` (a lander's counters and release status),
``fleet_counter_log`` (every value its counters had, numbered per lander) and ``fleet_usage``
(every flight logged, unique by content hash and by path).

SQL only: what a change means, and whether it is allowed, is decided in
``hil.fleet.landers``. Writes run in the caller's transaction (``FleetDb.transaction``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from hil.fleet.db import FleetDb
from hil.fleet.entities import Lander
from hil.fleet.errors import UnknownSerial
from hil.fleet.model import Counters
from hil.fleet.usage import Usage

_COLUMNS = (
    "serial, model, configuration, status, in_service, descents, engine_starts, burn_s, powered_h"
)


def _lander(row: tuple[Any, ...]) -> Lander:
    serial, model, config, status, in_service, d, e, b, p = row
    return Lander(
        serial, model, config, status, date.fromisoformat(in_service), Counters(d, e, b, p)
    )


class LanderRepository:
    """Landers, their counter log and their logged flights, in ``db``."""

    def __init__(self, db: FleetDb) -> None:
        self.db = db

    # -- fleet_landers -----------------------------------------------------------------------

    def insert(self, lander: Lander, stamp: str) -> bool:
        """Add ``lander``; False (nothing written) when its serial is taken."""
        added = self.db.execute(
            f"INSERT INTO fleet_landers ({_COLUMNS}, created_utc, updated_utc) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
            (
                lander.serial,
                lander.model,
                lander.configuration,
                lander.status,
                lander.in_service.isoformat(),
                *lander.counters.as_tuple(),
                stamp,
                stamp,
            ),
        )
        return added == 1

    def get(self, serial: str, *, lock: bool = False) -> Lander:
        """Raises ``UnknownSerial`` naming the serial (and the landers there are). ``lock``
        (inside a transaction): hold the lander's row against other benches until it ends."""
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM fleet_landers WHERE serial = ?"
            + (self.db.lock_suffix if lock else ""),
            (serial,),
        )
        if not rows:
            rows = self.db.query("SELECT serial FROM fleet_landers ORDER BY serial")
            known = [row[0] for row in rows]
            raise UnknownSerial(
                f"lander {serial!r}: not registered (landers: {', '.join(known) or 'none'})"
            )
        return _lander(rows[0])

    def all(self) -> list[Lander]:
        rows = self.db.query(f"SELECT {_COLUMNS} FROM fleet_landers ORDER BY serial")
        return [_lander(row) for row in rows]

    def replace_counters(
        self, serial: str, before: Counters, counters: Counters, status: str, stamp: str
    ) -> bool:
        """Set the counters to ``counters`` if they still are ``before``; False (nothing
        written) when they changed meanwhile."""
        changed = self.db.execute(
            "UPDATE fleet_landers SET descents = ?, engine_starts = ?, burn_s = ?, "
            "powered_h = ?, status = ?, updated_utc = ? WHERE serial = ? AND descents = ? "
            "AND engine_starts = ? AND burn_s = ? AND powered_h = ?",
            (*counters.as_tuple(), status, stamp, serial, *before.as_tuple()),
        )
        return changed == 1

    def add_counters(self, serial: str, delta: Counters, status: str, stamp: str) -> bool:
        """Add ``delta`` to the counters; False when there is no such lander."""
        changed = self.db.execute(
            "UPDATE fleet_landers SET descents = descents + ?, engine_starts = engine_starts + ?, "
            "burn_s = burn_s + ?, powered_h = powered_h + ?, status = ?, updated_utc = ? "
            "WHERE serial = ?",
            (*delta.as_tuple(), status, stamp, serial),
        )
        return changed == 1

    def set_status(self, serial: str, status: str, stamp: str) -> None:
        self.db.execute(
            "UPDATE fleet_landers SET status = ?, updated_utc = ? WHERE serial = ?",
            (status, stamp, serial),
        )

    # -- fleet_counter_log -------------------------------------------------------------------

    def log_counters(self, serial: str, stamp: str, source: str, counters: Counters) -> None:
        """Append to the counter log (the caller holds the lander's row: the next ``seq``)."""
        (last,) = self.db.query(
            "SELECT MAX(seq) FROM fleet_counter_log WHERE lander = ?", (serial,)
        )[0]
        self.db.execute(
            "INSERT INTO fleet_counter_log (lander, seq, utc, source, descents, engine_starts, "
            "burn_s, powered_h) VALUES (?,?,?,?,?,?,?,?)",
            (serial, int(last or 0) + 1, stamp, source, *counters.as_tuple()),
        )

    def counters_at(self, serial: str, stamp: str) -> Counters:
        """The counters logged last at or before ``stamp`` (zero before the first)."""
        rows = self.db.query(
            "SELECT descents, engine_starts, burn_s, powered_h FROM fleet_counter_log "
            "WHERE lander = ? AND utc <= ? ORDER BY seq DESC LIMIT 1",
            (serial, stamp),
        )
        return Counters(*rows[0]) if rows else Counters()

    # -- fleet_usage -------------------------------------------------------------------------

    def insert_usage(self, serial: str, usage: Usage, stamp: str) -> bool:
        """Record a logged flight; False (nothing written) when its content hash or its path
        was logged before (maybe by another bench)."""
        added = self.db.execute(
            "INSERT INTO fleet_usage (usage_id, lander, source, kind, logged_utc, descents, "
            "engine_starts, burn_s, powered_h) VALUES (?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT DO NOTHING",
            (usage.usage_id, serial, usage.source, usage.kind, stamp, *usage.counters.as_tuple()),
        )
        return added == 1

    def usage_logged(self, usage: Usage) -> tuple[str, str, str] | None:
        """``(lander, logged_utc, source)`` of the flight logged with the same content or
        path, or None."""
        rows = self.db.query(
            "SELECT lander, logged_utc, source FROM fleet_usage WHERE usage_id = ? OR source = ?",
            (usage.usage_id, usage.source),
        )
        return (str(rows[0][0]), str(rows[0][1]), str(rows[0][2])) if rows else None
