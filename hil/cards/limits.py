"""Limits: the bench's verdict on a measured value, and the limit monitor that watches signals.

``judge`` turns a value and its limits into PASS, MARGINAL or FAIL, so nobody types "PASS".
``MonitorWatch`` listens to the ``SignalStore`` while a step runs and records every excursion
out of a monitor's red band (the step fails) or yellow band (a warning), with value and time.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Self

from hil.cards.model import Band, Monitor
from hil.cards.record import Excursion, Outcome
from hil.core.signals import SignalStore

log = logging.getLogger("hil.cards")


def within(value: float, low: float | None, high: float | None) -> bool:
    """True when ``value`` lies inside ``[low, high]`` (a ``None`` side is open; NaN never)."""
    if math.isnan(value):
        return False
    return (low is None or value >= low) and (high is None or value <= high)


def judge(value: float, low: float | None, high: float | None, marginal: float = 0.0) -> Outcome:
    """Outside ``[low, high]`` = FAIL; inside but within ``marginal`` of a limit = MARGINAL;
    else PASS. NaN is a FAIL."""
    if not within(value, low, high):
        return Outcome.FAIL
    if marginal > 0 and (
        (low is not None and value - low <= marginal)
        or (high is not None and high - value <= marginal)
    ):
        return Outcome.MARGINAL
    return Outcome.PASS


def _distance(value: float, band: Band) -> float:
    low, high = band
    if low is not None and value < low:
        return low - value
    if high is not None and value > high:
        return value - high
    return 0.0


class MonitorWatch:
    """Watches ``monitors`` on ``signals`` from ``__enter__`` to ``__exit__``.

    A listener runs in the publishing thread; it records one ``Excursion`` per departure from a
    band (first value, time, worst value, sample count). Thread-safe.
    """

    def __init__(
        self,
        monitors: Sequence[Monitor],
        signals: SignalStore,
        start_s: float,
    ) -> None:
        self._monitors = {monitor.signal: monitor for monitor in monitors}
        self._signals = signals
        self._start_s = start_s
        self._lock = threading.Lock()
        self._open: dict[tuple[str, str], Excursion] = {}
        self._excursions: list[Excursion] = []
        self._remove: Callable[[], None] | None = None

    def __enter__(self) -> Self:
        if self._monitors:
            for monitor in self._monitors.values():
                self._signals.declare(monitor.signal, monitor.unit)
            self._remove = self._signals.add_listener(self._on_values)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        remove, self._remove = self._remove, None
        if remove is not None:
            remove()

    def _on_values(self, timestamp_s: float, values: Mapping[str, float]) -> None:
        # Runs in the publishing thread (a CAN notifier): it must never raise into it.
        try:
            self._check(timestamp_s, values)
        except Exception:
            log.exception("limit monitor failed on %s", sorted(values))

    def _check(self, timestamp_s: float, values: Mapping[str, float]) -> None:
        for name, value in values.items():
            monitor = self._monitors.get(name)
            if monitor is None:
                continue
            value = float(value)
            bands: list[tuple[str, Band]] = [("red", monitor.red)]
            if monitor.yellow is not None:
                bands.append(("yellow", monitor.yellow))
            with self._lock:
                for band_name, band in bands:
                    key = (name, band_name)
                    inside = within(value, *band)
                    current = self._open.get(key)
                    if inside:
                        self._open.pop(key, None)
                    elif current is None:
                        excursion = Excursion(
                            signal=name,
                            band=band_name,
                            low=band[0],
                            high=band[1],
                            unit=monitor.unit,
                            value=value,
                            timestamp_s=timestamp_s,
                            t_step_s=timestamp_s - self._start_s,
                            worst=value,
                        )
                        self._open[key] = excursion
                        self._excursions.append(excursion)
                    else:
                        current.samples += 1
                        if math.isnan(value) or _distance(value, band) > _distance(
                            current.worst, band
                        ):
                            current.worst = value

    def excursions(self) -> list[Excursion]:
        """Every excursion so far, in the order they began."""
        with self._lock:
            return list(self._excursions)

    def red(self) -> list[Excursion]:
        return [item for item in self.excursions() if item.band == "red"]
