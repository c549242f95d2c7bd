"""Shared steps of the cards that fly a closed-loop descent on the bench they run on.

The descent flies the flight computer under test: the bench the card was given, in lockstep
when every device is simulated (the card declares ``lockstep=True``), in real time against
hardware. Its result is kept in ``ctx.state["descent"]`` for the measurement steps that
follow, which read the run's structured findings (never its log text).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from procedures._common import CheckFailed, require

from hil.cards import StepContext, measurement
from hil.cards.model import Step
from hil.flight.descent import DescentResult, DescentRun
from hil.flight.descent.result import LRF_REJECTED
from hil.flight.scenario import load_scenario
from hil.flight.touchdown import (
    MAX_HORIZONTAL_SPEED_MPS,
    MAX_TILT_DEG,
    MAX_VERTICAL_SPEED_MPS,
)

OUT_ROOT = Path("runs")

PROPELLANT_RESOLUTION_KG = 0.1
"""The propellant gauge's resolution: a card wants at least this much left."""


def fly(
    scenario_name: str, seed: int = 0, fc_parameters: Mapping[str, str] | None = None
) -> Callable[[StepContext], None]:
    """A step that flies ``scenario_name`` on the card's bench; ``fc_parameters`` override
    the scenario's (by default those a previous step left in ``ctx.state``)."""

    def fly_descent(ctx: StepContext) -> None:
        bench = ctx.bench
        scenario = load_scenario(scenario_name)
        overrides = dict(fc_parameters or ctx.state.get("fc_parameters", {}))
        if overrides:
            scenario = dataclasses.replace(
                scenario, fc_parameters={**scenario.fc_parameters, **overrides}
            )
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        out_dir = OUT_ROOT / f"descent-{scenario_name}-seed{seed}-{ctx.card.number}-{stamp}"
        mode = "lockstep" if bench.lockstep else "real time"
        ctx.log(
            f"descent: scenario {scenario_name}, seed {seed}, {mode}, FC parameters "
            f"{scenario.fc_parameters}, FC {bench.flight_computer.describe_link()}, output "
            f"{out_dir.resolve()}"
        )
        result = DescentRun(bench, scenario, seed=seed, out_dir=out_dir).run()
        ctx.state["descent"] = result
        for time_s, text in result.events:
            ctx.log(f"t={time_s:7.1f} s  {text}")
        ctx.log(f"verdict: {result.verdict}")
        if result.landed_altitude_error_m is not None:
            ctx.record("landed_altitude_error", result.landed_altitude_error_m, "m")
        ctx.record("descent_output", str(out_dir.resolve()), "")
        require(result.contact is not None, f"no touchdown: {result.verdict}")

    return fly_descent


def _result(ctx: StepContext) -> DescentResult:
    result = ctx.state.get("descent")
    if not isinstance(result, DescentResult):
        raise CheckFailed("no descent result: step 1 did not complete")
    return result


def touchdown(quantity: str) -> Callable[[StepContext], float]:
    def measure(ctx: StepContext) -> float:
        result = _result(ctx)
        contact = result.contact
        if contact is None:
            raise CheckFailed(f"no touchdown: {result.verdict}")
        values = {
            "vertical_speed": abs(contact.vertical_speed_mps),
            "horizontal_speed": contact.horizontal_speed_mps,
            "tilt": contact.tilt_deg,
            "propellant_left": contact.propellant_kg,
        }
        return values[quantity]

    measure.__name__ = f"touchdown_{quantity}"
    return measure


def first_valid_lrf_range_m(ctx: StepContext) -> float:
    result = _result(ctx)
    if result.lrf_first_valid_range_m is None:
        raise CheckFailed("the LRF never gave a valid range during the descent")
    return result.lrf_first_valid_range_m


def landed_declared(ctx: StepContext) -> float:
    result = _result(ctx)
    ctx.log(f"stop reason: {result.stop_reason}; FC final mode {result.fc_final_mode}")
    return 1.0 if result.stop_reason == "landed" and result.fc_final_mode == "LANDED" else 0.0


def lrf_rejected_for_good(ctx: StepContext) -> float:
    """1 if the FC rejected the LRF for the rest of the descent (HAKUTO-R Mission 1), else 0."""
    finding = _result(ctx).finding(LRF_REJECTED)
    if finding is not None:
        ctx.log(f"t={finding.time_s:.1f} s: {finding.text}")
    return 1.0 if finding is not None else 0.0


def touchdown_steps(first: int) -> tuple[Step, ...]:
    """The touchdown checks against the limits of ``hil.flight.touchdown``, numbered from
    ``first``: vertical speed, horizontal speed, tilt, propellant left (above the gauge
    resolution), and the FC's LANDED declaration."""
    checks = (
        ("vertical speed", "vertical_speed", "m/s", None, MAX_VERTICAL_SPEED_MPS, 0.2),
        ("horizontal speed", "horizontal_speed", "m/s", None, MAX_HORIZONTAL_SPEED_MPS, 0.1),
        ("tilt", "tilt", "deg", None, MAX_TILT_DEG, 1.0),
        ("propellant left", "propellant_left", "kg", PROPELLANT_RESOLUTION_KG, None, 10.0),
    )
    steps = [
        measurement(
            first + index,
            f"Record the {text} at touchdown.",
            name=f"touchdown_{quantity}",
            unit=unit,
            low=low,
            high=high,
            marginal=marginal,
            measure=touchdown(quantity),
            on_fail="continue",
        )
        for index, (text, quantity, unit, low, high, marginal) in enumerate(checks)
    ]
    steps.append(
        measurement(
            first + len(checks),
            "Verify the FC declared LANDED after touchdown (1 = declared).",
            name="landed_declared",
            unit="flag",
            low=1.0,
            high=1.0,
            measure=landed_declared,
            on_fail="continue",
        )
    )
    return tuple(steps)
