"""The touchdown limits, defined once: model-only runs, descents over the links and the
cards that judge a descent all read them from here (``docs/architecture.md``, the loop).

A touchdown passes when |v_vertical| <= 2 m/s, |v_horizontal| <= 1 m/s, tilt <= 10 deg and
propellant is left. Cards add a marginal band on top (``MARGINAL``).
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_VERTICAL_SPEED_MPS = 2.0
MAX_HORIZONTAL_SPEED_MPS = 1.0
MAX_TILT_DEG = 10.0
MIN_PROPELLANT_KG = 0.0
"""Propellant left must be strictly more than this."""


@dataclass(frozen=True)
class TouchdownCheck:
    """One touchdown quantity against its limit."""

    quantity: str
    value: float
    limit: str
    unit: str
    passed: bool


def touchdown_checks(
    vertical_speed_mps: float, horizontal_speed_mps: float, tilt_deg: float, propellant_kg: float
) -> list[TouchdownCheck]:
    """The four touchdown checks of one landing, in the order a report lists them."""
    vertical = abs(vertical_speed_mps)
    return [
        TouchdownCheck(
            "vertical speed",
            vertical,
            f"<= {MAX_VERTICAL_SPEED_MPS:g}",
            "m/s",
            vertical <= MAX_VERTICAL_SPEED_MPS,
        ),
        TouchdownCheck(
            "horizontal speed",
            horizontal_speed_mps,
            f"<= {MAX_HORIZONTAL_SPEED_MPS:g}",
            "m/s",
            horizontal_speed_mps <= MAX_HORIZONTAL_SPEED_MPS,
        ),
        TouchdownCheck("tilt", tilt_deg, f"<= {MAX_TILT_DEG:g}", "deg", tilt_deg <= MAX_TILT_DEG),
        TouchdownCheck(
            "propellant left",
            propellant_kg,
            f"> {MIN_PROPELLANT_KG:g}",
            "kg",
            propellant_kg > MIN_PROPELLANT_KG,
        ),
    ]
