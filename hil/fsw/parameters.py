"""What the flight software reads of the FC's parameter table, and how it reads it.

The FC's parameter table (GET/SET on the maintenance port) is the ICD's
(:data:`hil.protocol.parameters.PARAMETERS`); eleven of its entries configure the flight
software (:data:`FSW_PARAMETERS`). :func:`fsw_params` is the one mapping from those entries
to :class:`FswParams`, its :class:`~hil.fsw.navigation.NavParams` and its
:class:`~hil.fsw.guidance.GuidanceParams` (a lander's own descent profile: braking time,
high gate, approach time). The simulated FC applies it when a STATE uplink loads the flight
software, a scenario applies it to the model-only loop's flight software.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from hil.fsw.flight_software import FswParams
from hil.fsw.guidance import GuidanceParams

GATE_POLICY = "GATE_POLICY"
"""``latch`` or ``recover``: what navigation does after rejecting LRF ranges
(``FswParams.gate_policy`` and ``NavParams.gate_policy``)."""
LRF_GATE_M = "LRF_GATE_M"
"""Smallest LRF innovation gate, m (``NavParams.gate_min_m``)."""
LRF_GATE_FRACTION = "LRF_GATE_FRACTION"
"""LRF innovation gate as a fraction of the range (``NavParams.gate_fraction``)."""
THROTTLE_MIN_PCT = "THROTTLE_MIN_PCT"
"""Lowest throttle of the lit engine, % (``FswParams.min_throttle`` is its fraction)."""
TOUCHDOWN_RULE = "TOUCHDOWN_RULE"
"""``signature`` or ``altitude`` (``FswParams.touchdown_rule``)."""

BRAKING_TIME_S = "BRAKING_TIME_S"
"""Braking burn's duration from ignition to the high gate, s (``GuidanceParams.braking_time_s``)."""
HIGH_GATE_X_M = "HIGH_GATE_X_M"
"""High gate downrange of the site, m (negative: uprange;
``GuidanceParams.high_gate_position_m``)."""
HIGH_GATE_ALT_M = "HIGH_GATE_ALT_M"
"""High gate altitude above the site, m."""
HIGH_GATE_VX_MPS = "HIGH_GATE_VX_MPS"
"""Downrange velocity at the high gate, m/s (``GuidanceParams.high_gate_velocity_mps``)."""
HIGH_GATE_VZ_MPS = "HIGH_GATE_VZ_MPS"
"""Vertical velocity at the high gate, m/s (negative: descending)."""
APPROACH_TIME_S = "APPROACH_TIME_S"
"""Approach's planned duration from the high gate to the low gate, s
(``GuidanceParams.approach_time_s``)."""

GUIDANCE_PARAMETERS = (
    BRAKING_TIME_S,
    HIGH_GATE_X_M,
    HIGH_GATE_ALT_M,
    HIGH_GATE_VX_MPS,
    HIGH_GATE_VZ_MPS,
    APPROACH_TIME_S,
)
"""The guidance targets a lander's descent profile uploads (docs/architecture.md §5)."""

FSW_PARAMETERS = (
    GATE_POLICY,
    LRF_GATE_M,
    LRF_GATE_FRACTION,
    THROTTLE_MIN_PCT,
    TOUCHDOWN_RULE,
    *GUIDANCE_PARAMETERS,
)
"""The FC parameters the flight software is built from."""

DEFAULT_FSW_PARAMS = FswParams()


def fsw_params(
    values: Mapping[str, str | float], default: FswParams = DEFAULT_FSW_PARAMS
) -> FswParams:
    """``default`` with the FC parameters of :data:`FSW_PARAMETERS` found in ``values`` applied.

    ``values`` maps parameter names to values as the FC's table holds them (what
    ``Parameter.parse`` returns: choices lower case, numbers as float); other names are
    ignored, a missing name leaves ``default``'s setting. The navigation's gate policy always
    follows the flight software's. Raises ``ValueError`` for a policy or rule the flight
    software does not know.
    """
    policy = str(values.get(GATE_POLICY, default.gate_policy))
    nav = dataclasses.replace(
        default.nav,
        gate_policy=policy,
        gate_min_m=float(values.get(LRF_GATE_M, default.nav.gate_min_m)),
        gate_fraction=float(values.get(LRF_GATE_FRACTION, default.nav.gate_fraction)),
    )
    min_throttle = default.min_throttle
    if THROTTLE_MIN_PCT in values:
        min_throttle = float(values[THROTTLE_MIN_PCT]) / 100.0
    return dataclasses.replace(
        default,
        gate_policy=policy,
        touchdown_rule=str(values.get(TOUCHDOWN_RULE, default.touchdown_rule)),
        min_throttle=min_throttle,
        nav=nav,
        guidance=_guidance(values, default.guidance),
    )


def _guidance(values: Mapping[str, str | float], default: GuidanceParams) -> GuidanceParams:
    """``default`` with the guidance targets found in ``values`` (crossrange stays as it is)."""

    def number(name: str, current: float) -> float:
        return float(values.get(name, current))

    x_m, y_m, altitude_m = default.high_gate_position_m
    vx_mps, vy_mps, vz_mps = default.high_gate_velocity_mps
    return dataclasses.replace(
        default,
        braking_time_s=number(BRAKING_TIME_S, default.braking_time_s),
        high_gate_position_m=(
            number(HIGH_GATE_X_M, x_m),
            y_m,
            number(HIGH_GATE_ALT_M, altitude_m),
        ),
        high_gate_velocity_mps=(
            number(HIGH_GATE_VX_MPS, vx_mps),
            vy_mps,
            number(HIGH_GATE_VZ_MPS, vz_mps),
        ),
        approach_time_s=number(APPROACH_TIME_S, default.approach_time_s),
    )
