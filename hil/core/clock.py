"""Clocks: the one place the bench asks what time it is and waits for a later time.

``WallClock`` runs in real time (monotonic seconds). ``SimulatedClock`` only moves when the
executive advances it, so a lockstep run is as fast as the machine allows and reproducible.
Everything that needs time takes a ``Clock``; nothing calls ``time.monotonic`` behind its back.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """What the bench needs of a clock. Times are seconds on a monotonic scale."""

    @property
    def is_simulated(self) -> bool: ...

    def now_s(self) -> float: ...

    def sleep_until(self, deadline_s: float) -> None: ...


class WallClock:
    """Real time from ``time.monotonic``. ``sleep_until`` sleeps, then spins the last ``spin_s``.

    Spinning sharpens wake-up times but holds the GIL; with the simulated FC in the same
    process the default is not to spin.
    """

    is_simulated = False

    def __init__(self, spin_s: float = 0.0) -> None:
        self._spin_s = spin_s

    def now_s(self) -> float:
        return time.monotonic()

    def sleep_until(self, deadline_s: float) -> None:
        remaining_s = deadline_s - time.monotonic()
        if remaining_s > self._spin_s:
            time.sleep(remaining_s - self._spin_s)
        while time.monotonic() < deadline_s:
            pass


class SimulatedClock:
    """A clock that only moves when told to (or slept on) by the one thread that drives it;
    other threads may read it."""

    is_simulated = True

    def __init__(self, start_s: float = 0.0) -> None:
        self._now_s = start_s

    def now_s(self) -> float:
        return self._now_s

    def advance_to(self, time_s: float) -> None:
        """Move time forward to ``time_s``. Moving backwards raises ``ValueError``."""
        if time_s < self._now_s:
            raise ValueError(f"simulated clock cannot go back from {self._now_s} s to {time_s} s")
        self._now_s = time_s

    def advance(self, dt_s: float) -> None:
        self.advance_to(self._now_s + dt_s)

    def sleep_until(self, deadline_s: float) -> None:
        """Jump to ``deadline_s`` at once: whoever sleeps on a simulated clock drives it."""
        if deadline_s > self._now_s:
            self.advance_to(deadline_s)
