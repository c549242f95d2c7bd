"""The simulated flight software (navigation, guidance, modes); pure, no I/O, vectorised.

Run by the simulated flight computer and by the model-only loop. Public face:
:class:`~hil.fsw.flight_software.FlightSoftware` with its ``FswParams``, ``InitialEstimate``,
``Commands``, ``Telemetry``; modes and phases in :mod:`hil.fsw.modes`; the onboard terrain
map :class:`~hil.fsw.terrain_map.TerrainMap`; :func:`fsw_params` builds ``FswParams`` from
the FC's parameter table; :func:`warm_up` loads the compiled kernels.
The flight software imports nothing of the bench: what it knows of the terrain and of its
sensors' mounting is its own.
"""

from __future__ import annotations

from hil.fsw.flight_software import (
    Commands,
    FlightSoftware,
    FswParams,
    InitialEstimate,
    Telemetry,
)
from hil.fsw.kernels import warm_up
from hil.fsw.modes import Mode, Phase
from hil.fsw.parameters import FSW_PARAMETERS, fsw_params
from hil.fsw.terrain_map import TerrainMap

__all__ = [
    "FSW_PARAMETERS",
    "Commands",
    "FlightSoftware",
    "FswParams",
    "InitialEstimate",
    "Mode",
    "Phase",
    "Telemetry",
    "TerrainMap",
    "fsw_params",
    "warm_up",
]
