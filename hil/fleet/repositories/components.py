"""The component table family: ``fleet_parts`` (the part catalogue: name and life limits per
part number), ``fleet_components`` (every serialized part, its since-new counters and where it
is installed) and ``fleet_component_history`` (registration, installs and removals, numbered
per component).

SQL only: the rules (a part in one place at a time, a position holds one part) are in
``hil.fleet.components``. Writes run in the caller's transaction (``FleetDb.transaction``).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from hil.fleet.db import FleetDb
from hil.fleet.entities import Component
from hil.fleet.errors import UnknownSerial
from hil.fleet.model import Counters

_COLUMNS = (
    "serial, part_number, name, lander, parent, position, descents, engine_starts, burn_s, "
    "powered_h, life_limits, manufactured"
)


def _component(row: tuple[Any, ...]) -> Component:
    serial, part, name, lander, parent, position, d, e, b, p, life, made = row
    return Component(
        serial,
        part,
        name,
        lander,
        parent,
        position,
        Counters(d, e, b, p),
        {k: float(v) for k, v in json.loads(life).items()},
        date.fromisoformat(made) if made else None,
    )


class ComponentRepository:
    """Part numbers, serialized components and their history, in ``db``."""

    def __init__(self, db: FleetDb) -> None:
        self.db = db

    # -- fleet_parts -------------------------------------------------------------------------

    def put_part(self, part_number: str, name: str, life: dict[str, float]) -> None:
        """Add a part number to the catalogue, or replace its name and life limits."""
        self.db.execute(
            "INSERT INTO fleet_parts (part_number, name, life_limits) VALUES (?,?,?) "
            "ON CONFLICT (part_number) DO UPDATE SET name = excluded.name, "
            "life_limits = excluded.life_limits",
            (part_number, name, json.dumps(life, sort_keys=True)),
        )

    def part(self, part_number: str) -> tuple[str, dict[str, float]] | None:
        """``(name, life limits)`` of a catalogued part number, or None."""
        rows = self.db.query(
            "SELECT name, life_limits FROM fleet_parts WHERE part_number = ?", (part_number,)
        )
        if not rows:
            return None
        return str(rows[0][0]), {k: float(v) for k, v in json.loads(rows[0][1]).items()}

    # -- fleet_components --------------------------------------------------------------------

    def insert(self, part: Component, stamp: str) -> bool:
        """Register ``part``; False (nothing written) when its serial is taken."""
        added = self.db.execute(
            f"INSERT INTO fleet_components ({_COLUMNS}, created_utc) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
            (
                part.serial,
                part.part_number,
                part.name,
                part.lander,
                part.parent,
                part.position,
                *part.since_new.as_tuple(),
                json.dumps(part.life, sort_keys=True),
                part.manufactured.isoformat() if part.manufactured else None,
                stamp,
            ),
        )
        return added == 1

    def get(self, serial: str, *, lock: bool = False) -> Component:
        """Raises ``UnknownSerial``. ``lock``: hold the row until the transaction ends."""
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM fleet_components WHERE serial = ?"
            + (self.db.lock_suffix if lock else ""),
            (serial,),
        )
        if not rows:
            raise UnknownSerial(f"component {serial!r}: not registered")
        return _component(rows[0])

    def all(self) -> list[Component]:
        rows = self.db.query(f"SELECT {_COLUMNS} FROM fleet_components ORDER BY serial")
        return [_component(row) for row in rows]

    def on_lander(self, lander: str) -> list[Component]:
        """Components installed on ``lander``, by position."""
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM fleet_components WHERE lander = ? ORDER BY position, serial",
            (lander,),
        )
        return [_component(row) for row in rows]

    def inside(self, parent: str) -> list[Component]:
        """Components installed inside ``parent``."""
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM fleet_components WHERE parent = ? AND lander IS NOT NULL",
            (parent,),
        )
        return [_component(row) for row in rows]

    def at_position(self, lander: str, position: str) -> str | None:
        """The serial of the component at ``position`` on ``lander``, or None."""
        rows = self.db.query(
            "SELECT serial FROM fleet_components WHERE lander = ? AND position = ?",
            (lander, position),
        )
        return str(rows[0][0]) if rows else None

    def place(
        self, serial: str, lander: str | None, parent: str | None, position: str | None
    ) -> None:
        """Install at ``position`` on ``lander`` (inside ``parent``), or remove (None)."""
        self.db.execute(
            "UPDATE fleet_components SET lander = ?, parent = ?, position = ? WHERE serial = ?",
            (lander, parent, position, serial),
        )

    def add_usage(self, lander: str, delta: Counters) -> None:
        """Add ``delta`` to the since-new counters of every component installed on
        ``lander``."""
        self.db.execute(
            "UPDATE fleet_components SET descents = descents + ?, "
            "engine_starts = engine_starts + ?, burn_s = burn_s + ?, powered_h = powered_h + ? "
            "WHERE lander = ?",
            (*delta.as_tuple(), lander),
        )

    # -- fleet_component_history -------------------------------------------------------------

    def log_history(
        self,
        serial: str,
        stamp: str,
        action: str,
        lander: str | None,
        parent: str | None,
        position: str | None,
        reason: str,
    ) -> None:
        """Append to the component's history with its since-new counters now (the caller
        holds its row: the next ``seq``)."""
        (last,) = self.db.query(
            "SELECT MAX(seq) FROM fleet_component_history WHERE serial = ?", (serial,)
        )[0]
        since_new = self.get(serial).since_new.to_dict()
        self.db.execute(
            "INSERT INTO fleet_component_history (serial, seq, utc, action, lander, parent, "
            "position, reason, since_new) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                serial,
                int(last or 0) + 1,
                stamp,
                action,
                lander,
                parent,
                position,
                reason,
                json.dumps(since_new, sort_keys=True),
            ),
        )

    def history(self, serial: str) -> list[dict[str, Any]]:
        """The component's history, oldest first: utc, action, lander, parent, position,
        reason and since_new (a mapping of counters)."""
        rows = self.db.query(
            "SELECT utc, action, lander, parent, position, reason, since_new "
            "FROM fleet_component_history WHERE serial = ? ORDER BY seq",
            (serial,),
        )
        keys = ("utc", "action", "lander", "parent", "position", "reason")
        return [
            {**dict(zip(keys, row[:6], strict=True)), "since_new": json.loads(row[6])}
            for row in rows
        ]
