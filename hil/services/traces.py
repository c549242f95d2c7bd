"""Signal batches from bench threads to the GUI thread, and the GUI's own trace history.

``SignalBuffer.listener`` is what the session registers with a bench ``SignalStore``: it runs in
the publishing thread (executive, CAN notifier, device streams) and only appends the batch to a
deque, so it never blocks a publisher. The GUI thread calls ``TraceStore.drain(buffer)`` from
its redraw timer, which moves every pending batch into per-signal numpy arrays in one pass.
Nothing here imports Qt.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping

import numpy as np

Batch = tuple[float, Mapping[str, float]]

_UNIT_SUFFIXES = (
    ("_mps2", "m/s²"),
    ("_mps", "m/s"),
    ("_kpa", "kPa"),
    ("_kg", "kg"),
    ("_deg", "deg"),
    ("_pct", "%"),
    ("_hz", "Hz"),
    ("_ms", "ms"),
    ("_m", "m"),
    ("_s", "s"),
    ("_n", "N"),
)


def unit_from_name(name: str) -> str:
    """The SI unit a signal's name spells (``truth.altitude_m`` -> ``m``), else ``""``."""
    lowered = name.lower()
    for suffix, unit in _UNIT_SUFFIXES:
        if lowered.endswith(suffix):
            return unit
    return ""


class SignalBuffer:
    """Thread-safe hand-over of published batches: ``listener`` appends, ``take`` empties.

    ``deque.append`` and ``popleft`` are atomic, so publishers never wait on the GUI. When the
    GUI falls behind by more than ``max_batches`` the oldest batches are dropped (counted in
    ``dropped``) rather than growing without bound.
    """

    def __init__(self, max_batches: int = 200_000) -> None:
        self._batches: deque[Batch] = deque(maxlen=max_batches)
        self._max = max_batches
        self.received = 0
        self.dropped = 0

    def listener(self, timestamp_s: float, values: Mapping[str, float]) -> None:
        """Called by ``SignalStore`` in the publishing thread."""
        batches = self._batches
        if len(batches) >= self._max:
            self.dropped += 1
        batches.append((timestamp_s, values))
        self.received += 1

    def take(self) -> list[Batch]:
        """Every pending batch, oldest first (GUI thread)."""
        batches = self._batches
        out: list[Batch] = []
        pop = batches.popleft
        try:
            for _ in range(len(batches)):
                out.append(pop())
        except IndexError:  # pragma: no cover - only one consumer
            pass
        return out

    def clear(self) -> None:
        self._batches.clear()


class _Trace:
    __slots__ = ("count", "start", "times_s", "unit", "values")

    def __init__(self, unit: str, capacity: int) -> None:
        self.unit = unit
        self.times_s = np.empty(2 * capacity)
        self.values = np.empty(2 * capacity)
        self.start = 0
        self.count = 0


class TraceStore:
    """The GUI thread's history of every signal seen: the last ``capacity`` samples each.

    Times are seconds since the first sample of the current job (``reset`` starts a new one).
    ``unit_of`` names a signal's unit (the bench store's declaration); the name's SI suffix is
    the fallback.
    """

    def __init__(self, capacity: int = 65_536, unit_of: Callable[[str], str] | None = None) -> None:
        self.capacity = capacity
        self.unit_of = unit_of
        self._traces: dict[str, _Trace] = {}
        self.origin_s: float | None = None
        self.latest_s = 0.0
        self.version = 0
        """Incremented whenever samples are added (the views redraw only when it changed)."""

    def reset(self) -> None:
        """Forget every sample (a new job starts)."""
        self._traces.clear()
        self.origin_s = None
        self.latest_s = 0.0
        self.version += 1

    def drain(self, buffer: SignalBuffer) -> int:
        """Move ``buffer``'s pending batches in; returns how many values arrived."""
        return self.extend(buffer.take())

    def extend(self, batches: list[Batch]) -> int:
        if not batches:
            return 0
        if self.origin_s is None:
            self.origin_s = batches[0][0]
        origin = self.origin_s
        times: dict[str, list[float]] = {}
        values: dict[str, list[float]] = {}
        total = 0
        for timestamp_s, sample in batches:
            t = timestamp_s - origin
            for name, value in sample.items():
                column = values.get(name)
                if column is None:
                    column = values[name] = []
                    times[name] = []
                column.append(value)
                times[name].append(t)
                total += 1
        for name, column in values.items():
            self._append(name, times[name], column)
        self.latest_s = max(self.latest_s, batches[-1][0] - origin)
        self.version += 1
        return total

    def _append(self, name: str, times: list[float], values: list[float]) -> None:
        trace = self._traces.get(name)
        if trace is None:
            unit = self.unit_of(name) if self.unit_of is not None else ""
            trace = self._traces[name] = _Trace(unit or unit_from_name(name), self.capacity)
        capacity = self.capacity
        n = len(values)
        if n > capacity:
            times, values, n = times[-capacity:], values[-capacity:], capacity
        end = trace.start + trace.count
        if end + n > 2 * capacity:  # compact: keep the newest samples at the front
            keep = min(trace.count, capacity - n)
            first = end - keep
            trace.times_s[:keep] = trace.times_s[first:end]
            trace.values[:keep] = trace.values[first:end]
            trace.start, trace.count, end = 0, keep, keep
        trace.times_s[end : end + n] = times
        trace.values[end : end + n] = values
        trace.count += n
        if trace.count > capacity:
            trace.start += trace.count - capacity
            trace.count = capacity

    def names(self) -> list[str]:
        return sorted(self._traces)

    def __contains__(self, name: object) -> bool:
        return name in self._traces

    def unit(self, name: str) -> str:
        trace = self._traces.get(name)
        if trace is not None:
            return trace.unit
        unit = self.unit_of(name) if self.unit_of is not None else ""
        return unit or unit_from_name(name)

    def count(self, name: str) -> int:
        trace = self._traces.get(name)
        return 0 if trace is None else trace.count

    def data(self, name: str, since_s: float = -math.inf) -> tuple[np.ndarray, np.ndarray]:
        """Views (not copies) of times (s) and values from ``since_s`` on; empty if unknown."""
        trace = self._traces.get(name)
        if trace is None or trace.count == 0:
            return np.empty(0), np.empty(0)
        end = trace.start + trace.count
        times = trace.times_s[trace.start : end]
        first = 0 if since_s == -math.inf else int(np.searchsorted(times, since_s))
        return times[first:], trace.values[trace.start + first : end]

    def latest(self, name: str) -> float:
        trace = self._traces.get(name)
        if trace is None or trace.count == 0:
            return math.nan
        return float(trace.values[trace.start + trace.count - 1])
