"""Landers and their usage: registration, counters and the flights logged to them.

``LanderService`` owns the rules of the lander aggregate: counters only ever grow
(``CounterError`` otherwise), every change is appended to the counter log, the components
installed on the lander get the same increase, a flight (same content or same path) is counted
once however many benches log it, and any change puts the lander back to awaiting release.
Each action is one transaction that first locks the lander's row.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from hil.core.timestamps import format_utc, parse_utc
from hil.fleet.db import FleetDb
from hil.fleet.entities import AWAITING, Lander
from hil.fleet.errors import CounterError, DuplicateUsage, FleetError
from hil.fleet.model import Counters
from hil.fleet.repositories import ComponentRepository, LanderRepository
from hil.fleet.usage import Usage


class LanderService:
    """Landers, counters and usage over their repositories; ``now`` is the clock."""

    def __init__(
        self,
        db: FleetDb,
        landers: LanderRepository,
        components: ComponentRepository,
        now: Callable[[], datetime],
    ) -> None:
        self.db = db
        self.landers = landers
        self.components = components
        self.now = now

    def add_lander(
        self,
        serial: str,
        model: str,
        configuration: str,
        in_service: date,
        counters: Counters | None = None,
    ) -> Lander:
        """Register a lander with its counters at entry (default zero). Raises ``FleetError``
        for an empty or taken serial."""
        serial = serial.strip()
        if not serial or not model.strip():
            raise FleetError("a lander needs a serial and a model")
        counters = counters or Counters()
        lander = Lander(
            serial,
            model.strip(),
            configuration.strip() or "baseline",
            AWAITING,
            in_service,
            counters,
        )
        stamp = format_utc(self.now())
        with self.db.transaction(f"add lander {serial}"):
            if not self.landers.insert(lander, stamp):
                raise FleetError(f"lander {serial} is already registered")
            self.landers.log_counters(serial, stamp, "entry into service", counters)
        return self.lander(serial)

    def lander(self, serial: str, *, lock: bool = False) -> Lander:
        """Raises ``UnknownSerial`` naming the serial (and the landers there are). ``lock``
        (inside a transaction): hold the lander's row against other benches until it ends."""
        return self.landers.get(serial, lock=lock)

    def all(self) -> list[Lander]:
        return self.landers.all()

    def counters_at(self, serial: str, utc: str) -> Counters:
        """The lander's counters at ``utc`` (ISO 8601), from the counter log."""
        return self.landers.counters_at(serial, format_utc(parse_utc(utc)))

    def set_counters(self, serial: str, counters: Counters, source: str) -> Lander:
        """Set the lander's counters (a correction from a flight log). Raises ``CounterError``
        naming each counter that would go backwards; installed components get the increase.
        The update is guarded by the values read, so a concurrent change is never overwritten."""
        with self.db.transaction(f"set counters of lander {serial}"):
            before = self.landers.get(serial, lock=True).counters
            backwards = counters.backwards_from(before)
            if backwards:
                raise CounterError(
                    f"lander {serial}: counters never go backwards ({'; '.join(backwards)})"
                )
            delta = Counters(
                counters.descents - before.descents,
                counters.engine_starts - before.engine_starts,
                counters.burn_s - before.burn_s,
                counters.powered_h - before.powered_h,
            )
            stamp = format_utc(self.now())
            if not self.landers.replace_counters(serial, before, counters, AWAITING, stamp):
                raise CounterError(
                    f"lander {serial}: counters changed while setting them (another bench?); "
                    "nothing written, try again"
                )
            self.components.add_usage(serial, delta)
            self.landers.log_counters(serial, stamp, source, counters)
        return self.lander(serial)

    def add_usage(self, serial: str, delta: Counters, source: str) -> None:
        """Add ``delta`` (never negative: ``CounterError``) to the lander and every component
        installed in it, and log the new counters with ``source``."""
        if delta.backwards_from(Counters()):
            raise CounterError(
                f"lander {serial}: {source}: a negative usage would take counters back"
            )
        with self.db.transaction(f"add usage to lander {serial}"):
            stamp = format_utc(self.now())
            if not self.landers.add_counters(serial, delta, AWAITING, stamp):
                self.landers.get(serial)  # raises UnknownSerial
            self.components.add_usage(serial, delta)
            self.landers.log_counters(serial, stamp, source, self.landers.get(serial).counters)

    def log_usage(self, serial: str, usage: Usage) -> Lander:
        """Add one flight's usage to the lander and its installed components. Raises
        ``DuplicateUsage`` when this run folder or log (same content, or same path) was logged
        before, ``UnknownSerial`` for an unknown lander."""
        with self.db.transaction(f"log {usage.kind} to lander {serial}"):
            self.landers.get(serial, lock=True)
            if not self.landers.insert_usage(serial, usage, format_utc(self.now())):
                seen = self.landers.usage_logged(usage)
                lander, when, source = seen or ("?", "?", usage.source)
                other = "" if source == usage.source else f" from {source}"
                raise DuplicateUsage(
                    f"{usage.source}: already logged to lander {lander} at {when[:19]} UTC"
                    f"{other}; a flight is counted once"
                )
            self.add_usage(serial, usage.counters, f"{usage.kind} {usage.source}")
        return self.lander(serial)
