"""The fleet's data model and its arithmetic: counters, limits, due dates, MEL deferrals.

Pure functions and frozen dataclasses; nothing here touches storage (``hil.fleet.repositories``
does).

Counters (``COUNTERS``): ``descents`` and ``engine_starts`` (counts), ``burn_s`` (main engine
burn time, seconds) and ``powered_h`` (avionics powered time, hours); ``days`` is calendar time.

A limit is the last value allowed: a due item is OVERDUE once a counter passes its due value
(strictly greater) or the UTC date is after its due date; DUE SOON when what is left is at most
``soon_fraction`` of the interval. A task's due point is "whichever comes first" over every
counter it names. MEL deferral days are whole UTC days, not counting the day of discovery: a
category B defect found at any time on 1 June may fly through 4 June (``limit_date``) and is
expired from 00:00 UTC on 5 June.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hil.core.timestamps import parse_utc
from hil.fleet.errors import CounterError, DeferralRefused

COUNTERS = ("descents", "engine_starts", "burn_s", "powered_h")
INTEGER_COUNTERS = frozenset({"descents", "engine_starts"})
CALENDAR = "days"
LIMIT_KEYS = (*COUNTERS, CALENDAR)
UNITS = {
    "descents": "descents",
    "engine_starts": "starts",
    "burn_s": "s",
    "powered_h": "h",
    "days": "days",
}

OK, DUE_SOON, OVERDUE = "OK", "DUE SOON", "OVERDUE"
STATUS_RANK = {OK: 0, DUE_SOON: 1, OVERDUE: 2}

DEFAULT_SOON_FRACTION = 0.1
"""A due item is DUE SOON when what is left is at most this fraction of its interval."""

CATEGORY_DAYS: dict[str, int | None] = {"A": None, "B": 3, "C": 10, "D": 120}
"""MEL rectification intervals in calendar days (A: the limit stated on the deferral)."""


def utc_date(when: datetime) -> date:
    """The UTC calendar date of an aware time (a naive one is taken as UTC)."""
    if when.tzinfo is None:
        return when.date()
    return when.astimezone(UTC).date()


@dataclass(frozen=True)
class Counters:
    """Usage counters: descents, engine starts, burn seconds, powered hours."""

    descents: int = 0
    engine_starts: int = 0
    burn_s: float = 0.0
    powered_h: float = 0.0

    def get(self, name: str) -> float:
        return float(getattr(self, name))

    def as_tuple(self) -> tuple[int, int, float, float]:
        return (self.descents, self.engine_starts, self.burn_s, self.powered_h)

    def to_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in COUNTERS}

    def backwards_from(self, before: Counters) -> list[str]:
        """Counters lower here than in ``before``, as ``name before -> now`` texts."""
        return [
            f"{name} {fmt(before.get(name), name)} -> {fmt(self.get(name), name)}"
            for name in COUNTERS
            if self.get(name) < before.get(name)
        ]

    @classmethod
    def parse(cls, values: Mapping[str, Any], where: str) -> Counters:
        """From a mapping of counter names to non-negative numbers (missing ones are 0).
        Raises ``CounterError`` naming ``where`` and the key."""
        unknown = sorted(set(values) - set(COUNTERS))
        if unknown:
            raise CounterError(
                f"{where}: unknown counter {unknown[0]!r} (counters: {', '.join(COUNTERS)})"
            )
        parsed: dict[str, Any] = {}
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise CounterError(f"{where}: {name} = {value!r} is not a number")
            if not math.isfinite(value) or value < 0:
                raise CounterError(f"{where}: {name} = {value!r} would take the counter backwards")
            if name in INTEGER_COUNTERS:
                if value != int(value):
                    raise CounterError(f"{where}: {name} = {value!r} must be a whole number")
                parsed[name] = int(value)
            else:
                parsed[name] = float(value)
        return cls(**parsed)


def fmt(value: float, counter: str) -> str:
    """A counter value as shown to people: whole counts, 0.1 s, 0.01 h."""
    if counter in INTEGER_COUNTERS or counter == CALENDAR:
        return str(int(value))
    if counter == "burn_s":
        return f"{value:.1f}"
    return f"{value:.2f}"


def parse_limits(values: Mapping[str, Any], where: str) -> dict[str, float]:
    """A limit table (``{descents = 5, days = 90}``): known keys, positive numbers.
    Raises ``CounterError`` naming ``where`` and the key."""
    limits: dict[str, float] = {}
    for name, value in values.items():
        if name not in LIMIT_KEYS:
            raise CounterError(f"{where}: unknown counter {name!r} (use {', '.join(LIMIT_KEYS)})")
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise CounterError(f"{where}: {name} = {value!r} must be a positive number")
        limits[name] = float(value)
    return limits


def parse_assignments(items: list[str], where: str) -> dict[str, float]:
    """``["descents=5", "days=90"]`` from the command line as a mapping of numbers."""
    values: dict[str, float] = {}
    for item in items:
        name, sep, text = item.partition("=")
        try:
            if not sep:
                raise ValueError
            values[name.strip()] = float(text)
        except ValueError:
            raise CounterError(f"{where} {item!r}: use COUNTER=NUMBER") from None
    return values


@dataclass(frozen=True)
class Task:
    """A program task: a test card, where it applies, when first due and how often after."""

    card_number: str
    title: str
    models: tuple[str, ...] = ()
    """Lander models it applies to (empty: every model)."""
    configurations: tuple[str, ...] = ()
    """Configurations it applies to (empty: every configuration)."""
    threshold: dict[str, float] = field(default_factory=dict)
    """First due at these since-new values (days: since entry into service)."""
    repeat: dict[str, float] = field(default_factory=dict)
    """Then again after these intervals since it was last done (empty: a one-time task)."""

    def applies_to(self, model: str, configuration: str) -> bool:
        return (not self.models or model in self.models) and (
            not self.configurations or configuration in self.configurations
        )

    def to_row(self) -> tuple[str, str, str, str, str, str]:
        return (
            self.card_number,
            self.title,
            json.dumps(list(self.models)),
            json.dumps(list(self.configurations)),
            json.dumps(self.threshold, sort_keys=True),
            json.dumps(self.repeat, sort_keys=True),
        )


@dataclass(frozen=True)
class LastDone:
    """When a task was last accomplished on a lander: the card run and the counters then."""

    utc: str
    run_id: str
    counters: Counters


@dataclass(frozen=True)
class DueLine:
    """One counter (or the calendar) of a due item."""

    counter: str
    due: float | date
    """The due counter value, or the due UTC date for ``days``."""
    current: float | date
    left: float
    """What is left before it is overdue (negative: over by that much)."""
    span: float
    status: str

    def describe(self) -> str:
        unit = UNITS[self.counter]
        if isinstance(self.due, date):
            days = abs(int(self.left))
            plural = "day" if days == 1 else "days"
            state = "over" if self.left < 0 else "left"
            return f"calendar due {self.due.isoformat()} ({days} {plural} {state})"
        current = fmt(float(self.current), self.counter)  # type: ignore[arg-type]
        text = f"{self.counter} {current} of {fmt(self.due, self.counter)}"
        amount = abs(self.left)
        if amount == 1 and unit in ("descents", "starts"):
            unit = unit[:-1]
        state = "over" if self.left < 0 else "left"
        return f"{text} ({fmt(amount, self.counter)} {unit} {state})"


@dataclass(frozen=True)
class DueItem:
    """A task's state on one lander: OK / DUE SOON / OVERDUE and what drives it."""

    lander: str
    task: Task
    status: str
    lines: tuple[DueLine, ...]
    driver: DueLine | None
    """The line that comes first (None for a one-time task already done)."""
    last: LastDone | None

    @property
    def card_number(self) -> str:
        return self.task.card_number

    def describe(self) -> str:
        if self.driver is None:
            return "done (one-time task)"
        return self.driver.describe()


def compute_due(
    lander: str,
    task: Task,
    counters: Counters,
    in_service: date,
    last: LastDone | None,
    today: date,
    soon_fraction: float = DEFAULT_SOON_FRACTION,
) -> DueItem:
    """Where ``task`` stands on a lander with ``counters`` today, whichever comes first."""
    if last is None:
        limits = {**task.repeat, **task.threshold}
        base = Counters()
        base_date = in_service
    else:
        limits = dict(task.repeat)
        base = last.counters
        base_date = utc_date(parse_utc(last.utc))
    lines: list[DueLine] = []
    for name, span in sorted(limits.items()):
        if name == CALENDAR:
            due_date = base_date + timedelta(days=int(span))
            left = float((due_date - today).days)
            due: float | date = due_date
            current: float | date = today
        else:
            due = base.get(name) + span if last is not None else span
            current = counters.get(name)
            left = float(due) - float(current)
        margin = soon_fraction * span
        status = OVERDUE if left < 0 else DUE_SOON if left <= margin else OK
        lines.append(DueLine(name, due, current, left, span, status))
    if not lines:
        return DueItem(lander, task, OK, (), None, last)
    driver = min(lines, key=lambda line: (-STATUS_RANK[line.status], line.left / line.span))
    return DueItem(lander, task, driver.status, tuple(lines), driver, last)


# -- MEL deferrals -----------------------------------------------------------------------------


def deferral_limit_date(discovered: datetime, days: int) -> date:
    """The last UTC day a deferred defect may fly: ``days`` whole UTC days after the day of
    discovery (that day itself is not counted)."""
    return utc_date(discovered) + timedelta(days=days)


def deferral_days(category: str, stated_days: int | None, where: str) -> int:
    """The deferral's calendar limit in days: the category's (B 3, C 10, D 120) or, for A,
    the one stated. A stated limit longer than the category allows is refused."""
    category = category.upper()
    if category not in CATEGORY_DAYS:
        raise DeferralRefused(f"{where}: MEL category {category!r}: use A, B, C or D")
    allowed = CATEGORY_DAYS[category]
    if stated_days is not None and stated_days < 0:
        raise DeferralRefused(f"{where}: a deferral of {stated_days} days")
    if allowed is None:
        if stated_days is None:
            raise DeferralRefused(
                f"{where}: category A needs the limit stated on the deferral (--days)"
            )
        return stated_days
    if stated_days is not None and stated_days > allowed:
        raise DeferralRefused(
            f"{where}: {stated_days} days is past category {category}'s limit of {allowed} days"
        )
    return allowed if stated_days is None else stated_days


@dataclass(frozen=True)
class Deferral:
    """A defect deferred under an MEL category until ``limit_date`` (and, for A, perhaps a
    number of descents)."""

    deferral_id: str
    defect_id: str
    category: str
    reason: str
    deferred_utc: str
    deferred_by: str
    limit_days: int
    limit_descents: int | None
    descents_at_deferral: int
    limit_date: date

    def days_left(self, now: datetime) -> int:
        """Whole UTC days left after today (0: today is the last day; negative: expired)."""
        return (self.limit_date - utc_date(now)).days

    def expired_reason(self, now: datetime, descents: int) -> str:
        """Why this deferral has expired, or ``""``."""
        if utc_date(now) > self.limit_date:
            return f"expired after {self.limit_date.isoformat()} (category {self.category})"
        if self.limit_descents is not None:
            flown = descents - self.descents_at_deferral
            if flown > self.limit_descents:
                return (
                    f"expired: {flown} descents flown, category {self.category} allows "
                    f"{self.limit_descents}"
                )
        return ""
