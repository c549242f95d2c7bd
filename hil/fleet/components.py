"""Serialized components: registration against the part catalogue, installation on a lander
(or inside another component on it), removal with everything inside, and their history.

``ComponentService`` owns the rules of the component aggregate: a part is in one place at a
time, a position on a lander holds one part, a part installed inside another sits on the same
lander, and every move is appended to the part's history with its since-new counters. Each
action is one transaction that locks the rows it decides on (lander, then component).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from hil.core.timestamps import format_utc
from hil.fleet.db import FleetDb
from hil.fleet.entities import Component
from hil.fleet.errors import FleetError
from hil.fleet.model import Counters
from hil.fleet.repositories import ComponentRepository, LanderRepository


class ComponentService:
    """Components over their repository (and the landers'); ``now`` is the clock."""

    def __init__(
        self,
        db: FleetDb,
        components: ComponentRepository,
        landers: LanderRepository,
        now: Callable[[], datetime],
    ) -> None:
        self.db = db
        self.components = components
        self.landers = landers
        self.now = now

    def component(self, serial: str, *, lock: bool = False) -> Component:
        """Raises ``UnknownSerial``. ``lock``: hold the row until the transaction ends."""
        return self.components.get(serial, lock=lock)

    def on(self, lander: str | None = None) -> list[Component]:
        """Every component (by serial), or those installed on ``lander`` (by position; an
        unknown lander raises ``UnknownSerial``)."""
        if lander is None:
            return self.components.all()
        self.landers.get(lander)
        return self.components.on_lander(lander)

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
        """Register a part by serial, with since-new counters and life limits (default: the
        part catalogue's for ``part_number``)."""
        serial = serial.strip()
        if not serial or not part_number.strip():
            raise FleetError("a component needs a serial and a part number")
        with self.db.transaction(f"add component {serial}"):
            catalogued = self.components.part(part_number)
            limits = dict(life) if life is not None else (catalogued[1] if catalogued else {})
            label = name or (catalogued[0] if catalogued else part_number)
            part = Component(
                serial,
                part_number,
                label,
                None,
                None,
                None,
                since_new or Counters(),
                limits,
                manufactured,
            )
            stamp = format_utc(self.now())
            if not self.components.insert(part, stamp):
                raise FleetError(f"component {serial} is already registered")
            self.components.log_history(serial, stamp, "registered", None, None, None, "")
        return self.component(serial)

    def history(self, serial: str) -> list[dict[str, Any]]:
        """Registration, installs and removals of a component, oldest first."""
        self.components.get(serial)
        return self.components.history(serial)

    def install(
        self, serial: str, lander: str, position: str, parent: str | None = None, reason: str = ""
    ) -> Component:
        """Install a component at ``position`` on a lander (inside ``parent``, a component
        installed on that lander, if given). Raises ``UnknownSerial``, ``FleetError`` when the
        part is installed elsewhere or the position is taken."""
        with self.db.transaction(f"install {serial} on lander {lander}"):
            self.landers.get(lander, lock=True)
            part = self.components.get(serial, lock=True)
            if part.lander is not None:
                raise FleetError(
                    f"component {serial} is installed on lander {part.lander} at "
                    f"{part.position}; remove it first"
                )
            if parent is not None and self.components.get(parent).lander != lander:
                raise FleetError(
                    f"component {parent} is not installed on lander {lander}; cannot hold {serial}"
                )
            taken = self.components.at_position(lander, position)
            if taken is not None:
                raise FleetError(f"lander {lander} position {position} holds component {taken}")
            self.components.place(serial, lander, parent, position)
            self.components.log_history(
                serial, format_utc(self.now()), "installed", lander, parent, position, reason
            )
        return self.component(serial)

    def remove(self, serial: str, reason: str = "") -> list[Component]:
        """Remove a component (and every component installed inside it) from its lander.
        Returns what was removed."""
        with self.db.transaction(f"remove {serial}"):
            part = self.components.get(serial, lock=True)
            if part.lander is None:
                raise FleetError(f"component {serial} is not installed")
            self.landers.get(part.lander, lock=True)
            removed = [part]
            frontier = [serial]
            while frontier:
                inside = self.components.inside(frontier.pop())
                removed += inside
                frontier += [item.serial for item in inside]
            stamp = format_utc(self.now())
            for item in removed:
                keeps = None if item.serial == serial else item.parent
                self.components.place(item.serial, None, keeps, None)
                why = reason if item.serial == serial else f"with {serial}: {reason}"
                self.components.log_history(
                    item.serial, stamp, "removed", part.lander, item.parent, item.position, why
                )
        return removed
