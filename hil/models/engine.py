"""Main-engine status model: what the engine reports on ENG_Status / ENG_Propellant.

The throttle lag itself lives in :mod:`hil.models.dynamics` (it is part of the truth state);
this module maps the truth throttle and propellant to the quantities an engine controller
reports: valve position, chamber pressure, tank pressure. Pure functions on (N,) arrays, also
used by the bench's engine emulator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hil.models.dynamics import LanderParams

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class EngineParams:
    """Engine-controller quantities [all assumed]."""

    chamber_pressure_max_kpa: float = 1000.0  #: at 100 % throttle
    tank_pressure_full_kpa: float = 1900.0  #: blowdown start (full tanks)
    tank_pressure_empty_kpa: float = 1300.0  #: blowdown end (empty tanks)
    valve_exponent: float = 0.8  #: valve opening ~ throttle**exponent (flow is not linear)
    tank_temperature_c: float = 20.0


@dataclass(frozen=True)
class EngineStatus:
    """Engine quantities per run, shape (N,)."""

    throttle_actual_pct: FloatArray
    valve_position_pct: FloatArray
    chamber_pressure_kpa: FloatArray
    tank_pressure_kpa: FloatArray
    propellant_kg: FloatArray
    tank_temperature_c: FloatArray


def engine_status(
    throttle_actual: FloatArray,
    propellant_kg: FloatArray,
    lander: LanderParams,
    params: EngineParams | None = None,
) -> EngineStatus:
    """Engine status from truth throttle fraction and propellant mass (kg), both (N,).

    With no propellant left the engine produces nothing: throttle and chamber pressure read 0.
    """
    p = params or EngineParams()
    prop = np.maximum(propellant_kg, 0.0)
    burning = prop > 0.0
    thr = np.clip(throttle_actual, 0.0, 1.0) * burning
    load = lander.wet_mass_kg - lander.dry_mass_kg
    fill = np.clip(prop / load, 0.0, 1.0)
    return EngineStatus(
        throttle_actual_pct=100.0 * thr,
        valve_position_pct=100.0 * np.clip(throttle_actual, 0.0, 1.0) ** p.valve_exponent,
        chamber_pressure_kpa=p.chamber_pressure_max_kpa * thr,
        tank_pressure_kpa=p.tank_pressure_empty_kpa
        + (p.tank_pressure_full_kpa - p.tank_pressure_empty_kpa) * fill,
        propellant_kg=prop,
        tank_temperature_c=np.full_like(prop, p.tank_temperature_c),
    )
