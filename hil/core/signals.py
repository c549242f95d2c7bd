"""Named signals with units: latest values, ring-buffer history and listeners.

Every decoded quantity on the bench (a CAN signal such as ``FC_Heartbeat.Mode``, a model truth
value such as ``truth.altitude_m``) is published here once, with its timestamp. Readers are
decoupled from writers: the recorder, the limit monitor, test cards and the GUI read the same
store, and ``wait_for`` lets a procedure wait on a condition instead of sleeping. A procedure
takes ``count(name)`` *before* it commands something and then waits for a sample after that
index, so a stale value can never satisfy the check.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from hil.errors import DeviceTimeout

Listener = Callable[[float, Mapping[str, float]], None]
"""Called as ``listener(timestamp_s, {name: value, ...})`` in the publishing thread."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One published value of a signal."""

    name: str
    value: float
    unit: str
    timestamp_s: float
    index: int
    """How many samples of this signal were published before this one."""


class _Series:
    __slots__ = ("count", "times_s", "unit", "values")

    def __init__(self, unit: str, capacity: int) -> None:
        self.unit = unit
        # Plain lists: a per-sample store into a list costs a fraction of a numpy item write,
        # and every decoded CAN frame writes several. ``history`` hands out numpy arrays.
        self.times_s: list[float] = [0.0] * capacity
        self.values: list[float] = [0.0] * capacity
        self.count = 0


class SignalStore:
    """Thread-safe store of named signals. ``capacity`` samples of history are kept per signal."""

    def __init__(self, capacity: int = 32_768) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1 sample")
        self._capacity = capacity
        self._series: dict[str, _Series] = {}
        self._listeners: list[Listener] = []
        self._changed = threading.Condition()

    # -- writing ---------------------------------------------------------------------------

    def declare(self, name: str, unit: str = "") -> None:
        """Make ``name`` known (with its unit) before its first sample arrives."""
        with self._changed:
            if name not in self._series:
                self._series[name] = _Series(unit, self._capacity)

    def publish(self, name: str, value: float, timestamp_s: float, unit: str = "") -> None:
        self.publish_many({name: value}, timestamp_s, {name: unit} if unit else None)

    def publish_many(
        self,
        values: Mapping[str, float],
        timestamp_s: float,
        units: Mapping[str, str] | None = None,
    ) -> None:
        """Publish several values taken at one instant, under one lock, to listeners at once."""
        capacity = self._capacity
        with self._changed:
            for name, value in values.items():
                series = self._series.get(name)
                if series is None:
                    unit = units.get(name, "") if units else ""
                    series = self._series[name] = _Series(unit, capacity)
                slot = series.count % capacity
                series.times_s[slot] = timestamp_s
                series.values[slot] = value
                series.count += 1
            listeners = self._listeners
            self._changed.notify_all()
        for listener in listeners:
            listener(timestamp_s, values)

    def publish_batch(self, batch: Sequence[tuple[float, Mapping[str, float]]]) -> None:
        """Publish several instants at once: ``batch`` holds ``(timestamp_s, values)`` pairs
        in time order (one decoded CAN frame each, say).

        Equivalent to ``publish_many(values, timestamp_s)`` for each pair in order, but all
        samples are stored under one lock acquisition and waiters are woken once. Listeners
        are then called once per pair, in order, as ``publish_many`` would. A raising
        listener does not stop delivery of the rest of the batch: once every pair has been
        delivered, an ``ExceptionGroup`` of what the listeners raised is raised. A signal not
        declared before gets unit "" (declare it to give it one).
        """
        if not batch:
            return
        capacity = self._capacity
        with self._changed:
            series_by_name = self._series
            for timestamp_s, values in batch:
                for name, value in values.items():
                    series = series_by_name.get(name)
                    if series is None:
                        series = series_by_name[name] = _Series("", capacity)
                    slot = series.count % capacity
                    series.times_s[slot] = timestamp_s
                    series.values[slot] = value
                    series.count += 1
            listeners = self._listeners
            self._changed.notify_all()
        if not listeners:
            return
        errors: list[Exception] = []
        for timestamp_s, values in batch:
            for listener in listeners:
                try:
                    listener(timestamp_s, values)
                except Exception as err:
                    errors.append(err)
        if errors:
            raise ExceptionGroup(f"{len(errors)} signal store listener call(s) raised", errors)

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Register ``listener``; returns a function that removes it again."""
        with self._changed:
            self._listeners = [*self._listeners, listener]

        def remove() -> None:
            with self._changed:
                self._listeners = [item for item in self._listeners if item is not listener]

        return remove

    # -- reading ---------------------------------------------------------------------------

    def names(self) -> list[str]:
        with self._changed:
            return sorted(self._series)

    def unit(self, name: str) -> str:
        return self._get(name).unit

    def count(self, name: str) -> int:
        """Samples of ``name`` published so far (0 for a signal never seen)."""
        series = self._series.get(name)
        return 0 if series is None else series.count

    def latest(self, name: str) -> Sample | None:
        with self._changed:
            series = self._series.get(name)
            if series is None or series.count == 0:
                return None
            return self._sample(name, series, series.count - 1)

    def value(self, name: str, default: float = math.nan) -> float:
        sample = self.latest(name)
        return default if sample is None else sample.value

    def history(self, name: str, since_index: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Times (s) and values of the samples from ``since_index`` on that are still kept."""
        with self._changed:
            series = self._get(name)
            first = max(since_index, series.count - self._capacity, 0)
            if first >= series.count:
                return np.empty(0), np.empty(0)
            start, stop = first % self._capacity, (series.count - 1) % self._capacity + 1
            if start < stop:
                return np.array(series.times_s[start:stop]), np.array(series.values[start:stop])
            times = series.times_s[start:] + series.times_s[:stop]
            return np.array(times), np.array(series.values[start:] + series.values[:stop])

    def wait_for(
        self,
        name: str,
        predicate: Callable[[float], bool],
        timeout_s: float,
        since_index: int | None = None,
        description: str = "",
    ) -> Sample:
        """Wait (wall time) for a sample of ``name`` after ``since_index`` that satisfies
        ``predicate``; the first one is returned. ``since_index`` defaults to "from now".

        Raises ``DeviceTimeout`` naming the signal and the condition.
        """
        deadline_s = time.monotonic() + timeout_s
        with self._changed:
            series = self._series.get(name)
            next_index = (series.count if series else 0) if since_index is None else since_index
            while True:
                series = self._series.get(name)
                if series is not None:
                    first = max(next_index, series.count - self._capacity)
                    for index in range(first, series.count):
                        sample = self._sample(name, series, index)
                        if predicate(sample.value):
                            return sample
                    next_index = max(next_index, series.count)
                remaining_s = deadline_s - time.monotonic()
                if remaining_s <= 0:
                    latest = self.latest(name)
                    seen = "no sample" if latest is None else f"last value {latest.value:g}"
                    what = description or getattr(predicate, "__name__", "condition")
                    raise DeviceTimeout(
                        f"signal {name!r}: {what} not met within {timeout_s:g} s ({seen})"
                    )
                self._changed.wait(remaining_s)

    def _get(self, name: str) -> _Series:
        series = self._series.get(name)
        if series is None:
            raise KeyError(f"unknown signal {name!r}")
        return series

    def _sample(self, name: str, series: _Series, index: int) -> Sample:
        slot = index % self._capacity
        return Sample(
            name,
            float(series.values[slot]),
            series.unit,
            float(series.times_s[slot]),
            index,
        )
