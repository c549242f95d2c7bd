"""What the flight software reads of the FC's parameter table, and how it reads it.

The FC's parameter table (GET/SET on the maintenance port) is the ICD's
(:data:`hil.protocol.parameters.PARAMETERS`); five of its entries configure the flight
software. :func:`fsw_params` is the one mapping from those entries to :class:`FswParams` and
its :class:`~hil.fsw.navigation.NavParams`: the simulated FC applies it when a STATE uplink
loads the flight software, a scenario applies it to the model-only loop's flight software.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from hil.fsw.flight_software import FswParams

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

FSW_PARAMETERS = (GATE_POLICY, LRF_GATE_M, LRF_GATE_FRACTION, THROTTLE_MIN_PCT, TOUCHDOWN_RULE)
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
    )
