"""What the bench asks the FC after a descent, for the verdict: what it detected of the
faults the bench injected (STATUS counters against those before the run) and why it went to
ABORT on its own (its FAULT command). The round trips stay out of the real-time loop."""

from __future__ import annotations

from collections.abc import Mapping

from hil.drivers.roles import FlightComputer
from hil.errors import HilError
from hil.flight.descent.overload import OverloadWatch
from hil.flight.descent.result import FC_ABORT, Finding
from hil.flight.faults import FaultInjector, detected_counts, fault_summary, injected_counts


def fault_report(
    fc: FlightComputer,
    faults: FaultInjector,
    status_before: Mapping[str, str],
    overload: OverloadWatch,
    fc_answering: bool,
) -> tuple[dict[str, int], list[str]]:
    """Counts of what was injected and what the FC detected (an FC outside the bench counts
    from power-on, hence the STATUS from before the run), and the timeline's lines."""
    injected = injected_counts(faults)
    counts: dict[str, int] = dict(injected)
    if not fc_answering:
        return counts, ["faults: FC not answering, detection counts not read"]
    try:
        status = fc.status()
    except HilError as err:
        return counts, [f"faults: FC STATUS failed: {err}"]
    detected = detected_counts(status_before, status)
    counts.update(detected)
    lines = [fault_summary(injected, detected)]
    try:
        counts.update(overload.finish(status_before, status))
    except HilError as err:
        lines.append(f"faults: FC load test not reset: {err}")
    return counts, lines


def abort_finding(fc: FlightComputer, abort_s: float) -> Finding:
    """The finding of an FC that went to ABORT at ``abort_s`` (s since the run's start), with
    the reason it gives; an FC that cannot say is named so, not guessed at."""
    try:
        reason = fc.abort_reason()
    except HilError as err:
        reason = f"reason not read ({err})"
    # NONE: an FC that records no reason (a real one may not)
    return Finding(FC_ABORT, abort_s, f"FC aborted: {reason or 'the FC gave no reason'}")
