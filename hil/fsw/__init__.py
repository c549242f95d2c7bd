"""The simulated flight software (navigation, guidance, modes); pure, no I/O, vectorised.

Run by the simulated flight computer and by the model-only loop. Public face:
:class:`~hil.fsw.flight_software.FlightSoftware` with its ``FswParams``, ``InitialEstimate``,
``Commands``, ``Telemetry``; modes and phases in :mod:`hil.fsw.modes`.
"""

from __future__ import annotations

from hil.fsw.flight_software import (
    Commands,
    FlightSoftware,
    FswParams,
    InitialEstimate,
    Telemetry,
)
from hil.fsw.modes import Mode, Phase

__all__ = [
    "Commands",
    "FlightSoftware",
    "FswParams",
    "InitialEstimate",
    "Mode",
    "Phase",
    "Telemetry",
]
