"""The simulated FC's executive: its 20 ms flight-software cycle, stolen cycles, deadlines and
the watchdog's restart (docs/architecture.md §6, F6).

The FC's processor time is modelled, not measured, so an overload behaves the same in lockstep
and in real time and is the same run after run. Each guidance cycle (20 ms of the FC's IMU
clock) has a budget of 20 ms minus the cycles stolen from it (the FC parameter
``LOAD_TEST_PCT``: a load test, as Apollo 11's rendezvous radar stole ~15 % of its
computer's time with interrupts). The work of a cycle, by priority:

* **high** — IMU processing, navigation and guidance (``HIGH_SHARE`` of a cycle): runs first;
  when it does not fit in the budget the cycle's guidance output is late, and the engine
  flies the previous cycle's command (a missed deadline);
* **low** — telemetry formatting and housekeeping (``LOW_SHARE``): runs in what is left;
  what does not fit waits in the job queue as backlog (a missed deadline).

When the backlog outgrows the job queue (``QUEUE_CYCLES`` cycles of low-priority work) the
executive cannot take new jobs: the watchdog restarts the flight software the way Apollo's
did after a 1202 alarm — the queue is flushed, guidance and navigation keep their state
(they are restart-protected) and go on at the next cycle, and low-priority work is shed to
``SHED_SHARE`` of a cycle for the rest of the flight. If the stolen cycles leave no room even
for guidance, restarts do not help: deadlines keep being missed and are counted.
"""

from __future__ import annotations

from dataclasses import dataclass

CYCLE_S = 0.02
"""The flight-software cycle (the guidance period), s."""
HIGH_SHARE = 0.40
"""IMU processing, navigation and guidance: the share of a cycle they need."""
LOW_SHARE = 0.25
"""Telemetry and housekeeping: the share of a cycle they need until shed."""
SHED_SHARE = 0.05
"""Low-priority work left after a restart has shed the rest."""
QUEUE_CYCLES = 2.0
"""Backlog of low-priority work (in cycles of it) the job queue holds before it overflows."""


@dataclass
class CycleOutcome:
    """What one cycle did: its guidance output late (the previous command holds), its
    deadline missed, the watchdog restarting the software."""

    guidance_late: bool = False
    missed: bool = False
    restarted: bool = False


class Executive:
    """The FC's cycle accounting: missed deadlines, restarts, shed work, the load it reports."""

    def __init__(self) -> None:
        self.missed_deadlines = 0
        """Cycles whose work did not finish within the cycle."""
        self.restarts = 0
        """Watchdog restarts (queue overflows)."""
        self.shed = False
        """Low-priority work shed by a restart."""
        self.backlog_s = 0.0
        """Low-priority work waiting in the job queue, s."""
        self.load_pct = HIGH_SHARE * 100.0 + LOW_SHARE * 100.0
        """Processor load of the last cycle (stolen cycles included, at most 100), %."""

    def cycle(self, stolen_fraction: float) -> CycleOutcome:
        """Account for one cycle with ``stolen_fraction`` (0..1) of it taken away."""
        stolen = min(max(stolen_fraction, 0.0), 1.0)
        budget_s = CYCLE_S * (1.0 - stolen)
        high_s = CYCLE_S * HIGH_SHARE
        low_s = CYCLE_S * (SHED_SHARE if self.shed else LOW_SHARE)
        outcome = CycleOutcome()
        left_s = budget_s - high_s
        if left_s < 0.0:
            outcome.guidance_late = True
            left_s = 0.0
        demand_s = self.backlog_s + low_s
        self.backlog_s = max(demand_s - left_s, 0.0)
        used_s = CYCLE_S * stolen + high_s + min(demand_s, left_s)
        self.load_pct = min(100.0, 100.0 * used_s / CYCLE_S)
        outcome.missed = outcome.guidance_late or self.backlog_s > 1e-12
        if outcome.missed:
            self.missed_deadlines += 1
        if self.backlog_s > QUEUE_CYCLES * CYCLE_S * LOW_SHARE:
            self.restarts += 1
            self.shed = True
            self.backlog_s = 0.0
            outcome.restarted = True
        return outcome
