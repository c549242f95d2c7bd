"""Errors of the fleet maintenance program (all under ``HilError``).

::

    HilError
    +-- FleetError                      anything ``hil.fleet`` refuses on purpose
        +-- UnknownSerial (LookupError) no lander, component, defect, task or package with that id
        +-- CounterError (ValueError)   a counter would go backwards, or a usage log is malformed
        +-- DuplicateUsage              the same descent run folder or flight log logged twice
        +-- DeferralRefused             a deferral past its MEL category's limit, or on a closed
        |                               defect
        +-- ReleaseRefused              release to service refused; ``reasons`` lists every one
"""

from __future__ import annotations

from collections.abc import Sequence

from hil.errors import HilError


class FleetError(HilError):
    """Base of the errors raised by ``hil.fleet``."""


class UnknownSerial(FleetError, LookupError):
    """No lander, component, defect, task or work package has the id given."""


class CounterError(FleetError, ValueError):
    """A counter would go backwards (or a usage record carries a negative or unreadable value)."""


class DuplicateUsage(FleetError):
    """This descent run folder or flight log was already added to a lander's counters."""


class DeferralRefused(FleetError):
    """A deferral is refused: past its category's limit, or the defect is not open."""


class ReleaseRefused(FleetError):
    """Release to service refused. ``reasons`` holds every reason, one line each."""

    def __init__(self, lander: str, reasons: Sequence[str]) -> None:
        self.lander = lander
        self.reasons = list(reasons)
        super().__init__(
            f"release of lander {lander} refused ({len(self.reasons)} reasons): "
            + "; ".join(self.reasons)
        )
