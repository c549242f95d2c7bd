"""F6 in a descent: the FC's load test started and stopped as the scenario says, and what the
FC's executive reports of it (docs/architecture.md §6).

The bench cannot load a flight computer's processor itself; it asks the FC for its load test
over the maintenance port (``SET LOAD_TEST_PCT``) when an ``fc_overload`` injection starts,
and sets it back to 0 when it ends or the run does. It then reads what the FC says: the
heartbeat's ``MissedDeadlines``, ``Restarts`` and ``LoadShed`` as they change (the first
missed deadline and each watchdog restart are findings, with the time and the altitude) and,
at the end, STATUS's ``MISSED_DEADLINES`` and ``RESTARTS`` against their values before the
run, which make the run's overload finding and a line of its verdict.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from hil.flight.descent.result import FC_DEADLINES_MISSED, FC_OVERLOAD, FC_RESTART
from hil.flight.faults import FaultInjector

Find = Callable[..., None]
"""``find(kind, text, **values)`` of the run."""


class OverloadWatch:
    """Applies the load test and notes what the FC's executive reports of it."""

    def __init__(self, faults: FaultInjector, flight_computer: Any, find: Find) -> None:
        self.faults = faults
        self.fc = flight_computer
        self.find = find
        self.active = any(i.kind == "fc_overload" for i in faults.injections)
        """Only scenarios with an ``fc_overload`` injection are watched."""
        self.applied_pct = 0.0
        self.missed_deadlines = 0
        self.restarts = 0
        self.first_missed_s = math.nan
        self.first_restart_s = math.nan

    def update(self, time_s: float, altitude_m: float) -> list[str]:
        """Start or stop the load test as the injections say; note the heartbeat's news.
        Returns timeline lines for what changed on the bench's side."""
        if not self.active:
            return []
        lines = []
        wanted = self.faults.load_pct()
        if wanted != self.applied_pct:
            self.fc.set_param("LOAD_TEST_PCT", f"{wanted:g}")
            self.applied_pct = wanted
            lines.append(f"FC load test set: LOAD_TEST_PCT {wanted:g} %")
        heartbeat = self.fc.heartbeat()
        if heartbeat is None:
            return lines
        missed, restarts = heartbeat.missed_deadlines, heartbeat.restarts
        if missed > 0 and self.missed_deadlines == 0:
            self.first_missed_s = time_s
            self.find(
                FC_DEADLINES_MISSED,
                f"FC missing deadlines: {missed} flight-software cycles late at altitude "
                f"{altitude_m:.0f} m",
                missed_deadlines=float(missed),
                altitude_m=altitude_m,
            )
        if restarts > self.restarts:
            if math.isnan(self.first_restart_s):
                self.first_restart_s = time_s
            self.find(
                FC_RESTART,
                f"FC watchdog restart {restarts} (executive overflow, as Apollo 11's 1202): "
                f"low-priority work shed, guidance kept; {missed} missed deadlines so far, "
                f"altitude {altitude_m:.0f} m",
                restarts=float(restarts),
                missed_deadlines=float(missed),
                altitude_m=altitude_m,
            )
        self.missed_deadlines, self.restarts = missed, restarts
        return lines

    def finish(self, before: Mapping[str, str], after: Mapping[str, str] | None) -> dict[str, int]:
        """Set the load test back to 0 and note what the overload did over the run, from
        STATUS ``after`` against ``before`` (None: STATUS could not be read); returns the
        counts for the run's fault counts (none when no overload was injected)."""
        if not self.active:
            return {}
        if self.applied_pct:
            self.fc.set_param("LOAD_TEST_PCT", "0")
            self.applied_pct = 0.0
        missed, restarts = self.missed_deadlines, self.restarts
        if after is not None:
            missed = _count(after, "MISSED_DEADLINES") - _count(before, "MISSED_DEADLINES")
            restarts = _count(after, "RESTARTS") - _count(before, "RESTARTS")
        if missed == 0 and restarts == 0:
            text = "FC overload: no deadline missed"
        else:
            text = f"FC overload: {missed} missed deadlines"
            if not math.isnan(self.first_missed_s):
                text += f" from t={self.first_missed_s:.1f} s"
            if restarts:
                text += (
                    f", {restarts} watchdog restart{'s' if restarts > 1 else ''} "
                    f"(first at t={self.first_restart_s:.1f} s) shed low-priority work and "
                    "kept guidance flying"
                )
            else:
                text += ", no watchdog restart"
        self.find(
            FC_OVERLOAD,
            text,
            missed_deadlines=float(missed),
            restarts=float(restarts),
            first_missed_s=self.first_missed_s,
            first_restart_s=self.first_restart_s,
        )
        return {"detected_missed_deadlines": missed, "detected_restarts": restarts}


def _count(status: Mapping[str, str], key: str) -> int:
    try:
        return int(status.get(key, "0") or "0")
    except ValueError:
        return 0
