"""The fleet's aggregates as the repositories return them and the services hand them out:
``Lander``, ``Component``, ``Defect``, ``Release``, ``WorkPackage``; the lander's release
states; the format of their ids; and the fleet's default clock.

Time stamps in the fleet tables are ``hil.core.timestamps`` text (``format_utc`` of the fleet
clock's time: ISO 8601 UTC with microseconds, which sorts as text), the same format as the
records; the clock itself gives aware datetimes because the fleet does date arithmetic on them.

Frozen dataclasses and pure functions; nothing here touches storage (``hil.fleet.repositories``
does). Counters and their arithmetic are in ``hil.fleet.model``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from hil.fleet.model import COUNTERS, Counters, fmt

AWAITING, RELEASED = "awaiting release", "released"
"""A lander's status: new, flown or a defect reported since its last release; or released."""


def utc_clock() -> datetime:
    """The default fleet clock: now, as an aware UTC datetime (stamp it with
    ``hil.core.timestamps.format_utc``)."""
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    """A new row id: ``D-1A2B3C4D`` (defect), ``M-`` (deferral), ``WP-``, ``R-`` (release)."""
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


@dataclass(frozen=True)
class Lander:
    serial: str
    model: str
    configuration: str
    status: str
    """``awaiting release`` (new, flown or a defect reported since) or ``released``."""
    in_service: date
    counters: Counters

    def days_in_service(self, today: date) -> int:
        return (today - self.in_service).days


@dataclass(frozen=True)
class Component:
    serial: str
    part_number: str
    name: str
    lander: str | None
    parent: str | None
    position: str | None
    since_new: Counters
    life: dict[str, float]
    manufactured: date | None

    def over_limit(self, today: date) -> list[str]:
        """Life limits this part is past, one text each."""
        over = []
        for name, limit in sorted(self.life.items()):
            if name == "days":
                if self.manufactured is None:
                    continue
                value = float((today - self.manufactured).days)
            else:
                value = self.since_new.get(name)
            if value > limit:
                over.append(f"{name} {fmt(value, name)} over life limit {fmt(limit, name)}")
        return over


@dataclass(frozen=True)
class Defect:
    defect_id: str
    lander: str
    component: str | None
    description: str
    discovered_utc: str
    reported_by: str
    status: str
    """``open``, ``deferred`` or ``closed``."""
    closed_utc: str | None
    closure: str | None
    closure_run_id: str | None = None
    """The signed record of the closure (``DEFECT_CARD``)."""


@dataclass(frozen=True)
class Release:
    release_id: str
    lander: str
    run_id: str
    released_utc: str
    person_id: str
    counters: Counters


@dataclass(frozen=True)
class PackageItem:
    item: str
    kind: str
    """``task`` (a card number) or ``defect`` (a defect id)."""
    done: bool


@dataclass(frozen=True)
class WorkPackage:
    package_id: str
    lander: str
    title: str
    created_utc: str
    status: str
    closed_utc: str | None
    items: tuple[PackageItem, ...]


def release_status(lander: Lander, blockers: Sequence[str]) -> str:
    """``BLOCKED (n)``, ``RELEASED`` (released and nothing since) or ``READY TO RELEASE``."""
    if blockers:
        return f"BLOCKED ({len(blockers)})"
    return "RELEASED" if lander.status == RELEASED else "READY TO RELEASE"


def counters_text(counters: Counters) -> str:
    """``descents 3, engine_starts 4, burn_s 612.0, powered_h 1.25``."""
    return ", ".join(f"{name} {fmt(counters.get(name), name)}" for name in COUNTERS)
