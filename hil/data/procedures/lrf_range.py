"""Card LL-34-42-00-720-801: laser range finder range and valid-flag verification.

Stimulates the LRF at 100 m, 1000 m and 2999 m (valid) and 3500 m (beyond the 3000 m maximum
valid range, invalid) and checks the range and valid flag the flight computer received
(maintenance command ``LRF``): range within 0.1 m + 0.1 % of the stimulus, valid flag as
stimulated. The 2999 m step is the maximum-valid-range check and a required inspection item.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from procedures._common import LRF_RATE_HZ, require, teardown

from hil.cards import Card, Step, StepContext, action, inspection, measurement
from hil.drivers.roles import RangeStimulus

FRESH_FRAMES = 1
"""Frames of a new stimulus the bench sends after the first, before the FC is asked."""


@dataclass(frozen=True)
class Point:
    range_m: float
    valid: bool
    rii: bool = False

    @property
    def tolerance_m(self) -> float:
        """0.1 m + 0.1 % of range."""
        return 0.1 + 0.001 * self.range_m

    @property
    def label(self) -> str:
        return f"{self.range_m:g} m {'VALID' if self.valid else 'INVALID'}"


POINTS = (
    Point(100.0, True),
    Point(1000.0, True),
    Point(2999.0, True, rii=True),
    Point(3500.0, False),
)


def stimulate(point: Point) -> Callable[[StepContext], None]:
    def run(ctx: StepContext) -> None:
        lrf, signals = ctx.bench.range_finder, ctx.signals
        first = signals.count("LRF_Range.SlantRange")
        lrf.stimulus = RangeStimulus(point.range_m, valid=point.valid, signal_strength_pct=80.0)
        if not lrf.streaming:
            lrf.start_stream(LRF_RATE_HZ)
        sent = signals.wait_for(
            "LRF_Range.SlantRange",
            lambda value: abs(value - point.range_m) < 0.05,
            timeout_s=1.0,
            since_index=first,
            description=f"the bench sending {point.range_m:g} m",
        )
        signals.wait_for(
            "LRF_Range.SlantRange",
            lambda _: True,
            timeout_s=1.0,
            since_index=sent.index + FRESH_FRAMES,
            description=f"{FRESH_FRAMES} more frames of the new stimulus",
        )
        ctx.log(f"LRF stimulus {point.label}, signal strength 80 %")

    run.__name__ = f"stimulate_{point.range_m:g}_m"
    return run


def fc_range_m(ctx: StepContext) -> float:
    reading = ctx.fc.lrf_reading()
    ctx.state["lrf"] = reading
    ctx.log(
        f"FC LRF: RANGE {reading['RANGE']:.1f} m, VALID {reading['VALID']:g}, "
        f"STRENGTH {reading['STRENGTH']:g} %, FRAMES {reading['FRAMES']:g}"
    )
    return reading["RANGE"]


def fc_valid_flag(ctx: StepContext) -> float:
    reading = ctx.fc.lrf_reading()
    require(reading["FRAMES"] > 0, "FC has received no LRF frame")
    return reading["VALID"]


def _point_steps(first_number: int, point: Point) -> tuple[Step, ...]:
    tolerance_m = point.tolerance_m
    name = f"{point.range_m:g}m"
    return (
        action(
            first_number,
            f"Set the LRF stimulus to {point.label}.",
            run=stimulate(point),
        ),
        measurement(
            first_number + 1,
            f"Read the LRF range received by the FC (LRF) at the {point.range_m:g} m stimulus.",
            name=f"fc_range_{name}",
            unit="m",
            low=round(point.range_m - tolerance_m, 3),
            high=round(point.range_m + tolerance_m, 3),
            marginal=round(tolerance_m / 4, 3),
            measure=fc_range_m,
            wait_until_s=2.0,
            poll_s=0.1,
            rii=point.rii,
            on_fail="continue",
        ),
        measurement(
            first_number + 2,
            f"Read the LRF valid flag received by the FC at the {point.range_m:g} m stimulus "
            f"(expect {int(point.valid)}).",
            name=f"fc_valid_{name}",
            unit="flag",
            low=float(point.valid),
            high=float(point.valid),
            measure=fc_valid_flag,
            rii=point.rii,
            on_fail="continue",
        ),
    )


CARD = Card(
    number="LL-34-42-00-720-801",
    revision="A",
    title="Laser range finder range and valid-flag verification",
    effectivity=("HR-M3",),
    interval="Before every descent; after LRF or FC replacement; after LRF window cleaning",
    equipment=(
        "LRF target board and range stimulator (hardware bench) or HIL bench LRF emulator",
        "Lint-free optical wipes and isopropyl alcohol 99 %",
        "Inspection lamp, 10x loupe",
        "Maintenance cable W101 (FC J1)",
    ),
    warnings=(
        "LASER RADIATION. The LRF emits invisible laser light when powered. Do not look into "
        "the LRF window or point it at people. Fit the window cover before you inspect it.",
    ),
    cautions=(
        "Clean the LRF window only with lint-free wipes and isopropyl alcohol. Abrasive "
        "cleaners and dry wiping scratch the coating and reduce the maximum range.",
    ),
    notes=(
        "This is the check that would have caught HAKUTO-R Mission 2 (June 2025): its LRF, "
        "specified to give valid ranges from 3 km, gave its first valid range below 900 m, "
        "and the lander arrived too fast. Steps 9 and 10 at 2999 m prove the maximum valid "
        "range through to the FC; they are required inspection items.",
        "On a hardware bench the stimulus is a target board at range (or the range "
        "stimulator); on the simulated bench it is the LRF emulator, so the card verifies "
        "the FC's reception and valid-flag handling.",
        "Limits: range within 0.1 m + 0.1 % of the stimulus; LRF_Range resolution is 0.1 m.",
    ),
    roles=("flight_computer", "range_finder"),
    steps=(
        inspection(
            1,
            "Remove the LRF window cover. Inspect the LRF window with the lamp and loupe, clean "
            "it if needed, and refit the cover for storage after the card.",
            criterion="Window clean: no dust, film, fingerprints or propellant residue; no "
            "scratches, chips or coating damage in the clear aperture; seal intact",
            evidence=True,
        ),
        *(
            item
            for index, point in enumerate(POINTS)
            for item in _point_steps(2 + 3 * index, point)
        ),
    ),
    teardown=teardown(),
)
