"""Sensitivity of the HAKUTO-R scenarios to their assumptions.

Run ``python scripts/mission_sensitivity.py`` (a few minutes).

What the published accounts of Mission 1 and Mission 2 do not say, the scenario files
(``f1-crater-rim``, ``f2-lrf-degraded``) assume, each assumption marked [A]. This script flies
each scenario model-only (seed 0, the seed of the README's figures) with one assumption
varied at a time across a plausible range, everything else as the scenario file says, and
prints one Markdown table per assumption: the figures of the published reference
(``references/hakuto-r-m1.toml``, ``hakuto-r-m2.toml``) and the verdict, the scenario's own
value marked. README "Real landings on the bench" carries its output.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

from hil.flight.reference import compare, fly_model_only, load_reference
from hil.flight.scenario import Scenario, load_scenario

Variant = Callable[[Scenario, float], Scenario]


def _feature(scenario: Scenario, index: int, **changes: Any) -> Scenario:
    features = list(scenario.terrain_features)
    features[index] = dataclasses.replace(features[index], **changes)
    return dataclasses.replace(scenario, terrain_features=tuple(features))


def inner_slope(scenario: Scenario, drop_m: float) -> Scenario:
    """[A1] of F1: how much further the floor falls between the rim and the site."""
    if drop_m == 0.0:
        return dataclasses.replace(scenario, terrain_features=scenario.terrain_features[:1])
    return _feature(scenario, 1, height_m=drop_m)


def cliff_height(scenario: Scenario, height_m: float) -> Scenario:
    """The rim's cliff (the accounts: ~3 km)."""
    return _feature(scenario, 0, height_m=height_m)


def _model(scenario: Scenario, part: str, **changes: Any) -> Scenario:
    """``scenario`` with ``changes`` made to one part of its model (``lrf``, ``errors``...)."""
    model = scenario.model
    changed = dataclasses.replace(getattr(model, part), **changes)
    return dataclasses.replace(scenario, model=dataclasses.replace(model, **{part: changed}))


def lrf_valid_range(scenario: Scenario, range_m: float) -> Scenario:
    """[A2] of F1: the LRF's longest valid range."""
    return _model(scenario, "lrf", max_valid_range_m=range_m)


def _guidance(scenario: Scenario, **changes: Any) -> Scenario:
    """``scenario`` with ``changes`` made to its FC's guidance (as its ``[fc]`` would set)."""
    guidance = dataclasses.replace(scenario.model.fsw.guidance, **changes)
    return _model(scenario, "fsw", guidance=guidance)


def terminal_speed(scenario: Scenario, speed_mps: float) -> Scenario:
    """[A3] of F1: the terminal descent's slowest speed (the hover's sink rate)."""
    return _guidance(scenario, terminal_touchdown_speed_mps=speed_mps)


def lander_mass(scenario: Scenario, wet_mass_kg: float) -> Scenario:
    """[A1] of F2: the lander's mass at powered-descent start (its thrust-to-weight)."""
    return _model(scenario, "lander", wet_mass_kg=wet_mass_kg)


def high_gate_descent_rate(scenario: Scenario, rate_mps: float) -> Scenario:
    """[A2] of F2: how fast the profile's final descent begins (the high gate's vertical
    velocity, descending), as the FC's HIGH_GATE_VZ_MPS sets it."""
    vx, vy, _ = scenario.model.fsw.guidance.high_gate_velocity_mps
    return _guidance(scenario, high_gate_velocity_mps=(vx, vy, -rate_mps))


def high_gate_altitude(scenario: Scenario, altitude_m: float) -> Scenario:
    """[A2] of F2: where the profile's final descent begins (HIGH_GATE_ALT_M)."""
    x, y, _ = scenario.model.fsw.guidance.high_gate_position_m
    return _guidance(scenario, high_gate_position_m=(x, y, altitude_m))


def approach_duration(scenario: Scenario, duration_s: float) -> Scenario:
    """[A2] of F2: the approach's planned duration (APPROACH_TIME_S)."""
    return _guidance(scenario, approach_time_s=duration_s)


def uplink_altitude_error(scenario: Scenario, error_m: float) -> Scenario:
    """[A3] of F2: the FC's altitude error at powered-descent start (estimate above truth)."""
    return _model(scenario, "errors", altitude_m=error_m)


def uplink_vertical_velocity_error(scenario: Scenario, error_mps: float) -> Scenario:
    """[A3] of F2: the FC's vertical velocity error at powered-descent start."""
    vx, vy, _ = scenario.model.errors.velocity_mps
    return _model(scenario, "errors", velocity_mps=(vx, vy, error_mps))


def table(
    scenario_name: str,
    reference_name: str,
    title: str,
    unit: str,
    variant: Variant,
    values: Sequence[float],
    chosen: float,
) -> str:
    """One Markdown table: a row per value of the assumption."""
    base = load_scenario(scenario_name)
    reference = load_reference(reference_name)
    header = [f"{title} ({unit})"] + [item.label for item in reference.values] + ["verdict"]
    published = ["published"] + [f"{item.value:,.0f}" for item in reference.values] + ["-"]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        "| " + " | ".join(published) + " |",
    ]
    for value in values:
        flown = fly_model_only(variant(base, value), seed=0)
        rows = compare(reference, flown)
        cells = [f"**{value:,.6g}** (scenario)" if value == chosen else f"{value:,.6g}"]
        for row in rows:
            mark = "" if row.passed else " ✗"
            cells.append("-" if math.isnan(row.bench) else f"{row.bench:,.0f}{mark}")
        cells.append(_verdict(flown.impact_speed_mps))
        lines.append("| " + " | ".join(cells) + " |")
        print(f"  {title} = {value}: done", file=sys.stderr)
    return "\n".join(lines)


def _verdict(impact_speed_mps: float) -> str:
    if math.isnan(impact_speed_mps):
        return "no contact"
    if impact_speed_mps <= 3.0:
        return f"lands ({impact_speed_mps:.1f} m/s)"
    return f"impact {impact_speed_mps:.0f} m/s"


def main() -> None:
    """Print every sensitivity table."""
    m1 = ("f1-crater-rim", "hakuto-r-m1")
    m2 = ("f2-lrf-degraded", "hakuto-r-m2")
    tables = [
        (*m1, "[A1] inner slope past the rim", "m", inner_slope, (0, 1500, 2000, 2500, 3000), 2500),
        (*m1, "rim cliff height", "m", cliff_height, (2500, 3000, 3500), 3000),
        (*m1, "[A2] LRF valid range", "m", lrf_valid_range, (6000, 8000, 10000, 15000), 10000),
        (*m1, "[A3] slowest terminal descent", "m/s", terminal_speed, (0.5, 0.8, 1.2), 0.8),
        (*m2, "[A1] mass at PDI", "kg", lander_mass, (750, 850, 1000, 1150), 1000),
        (*m2, "[A2] high gate descent rate", "m/s", high_gate_descent_rate, (40, 60, 80, 100), 80),
        (*m2, "[A2] high gate altitude", "m", high_gate_altitude, (2500, 3000, 3500), 3000),
        (*m2, "[A2] approach time", "s", approach_duration, (50, 65, 80), 65),
        (
            *m2,
            "[A3] PDI altitude error",
            "m",
            uplink_altitude_error,
            (0, 300, 600, 900, 1200, 1500),
            600,
        ),
        (
            *m2,
            "[A3] PDI vertical velocity error",
            "m/s",
            uplink_vertical_velocity_error,
            (0.0, 0.5, 1.0, 2.0),
            1.0,
        ),
    ]
    for scenario_name, reference_name, title, unit, variant, values, chosen in tables:
        print(f"\n`{scenario_name}`, {title}:\n")
        print(table(scenario_name, reference_name, title, unit, variant, values, chosen))


if __name__ == "__main__":
    main()
