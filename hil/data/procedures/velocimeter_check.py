"""Card LL-34-43-00-720-801: velocimeter functional check.

Stimulates the velocimeter with three known body-axis velocities (hover, approach, braking)
and one invalid reading (no lock), and checks what the flight computer received (maintenance
command ``VEL``): each component within 0.02 m/s + 0.1 % of its stimulus (``VEL_Velocity``
resolves 0.02 m/s), the valid flag as stimulated, and the FC's counters: every frame the
bench sent during the card received, the invalid one counted as invalid. The braking point
(500 m/s) proves the unit's range through to the FC and is a required inspection item.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from procedures._common import VEL_RATE_HZ, require, teardown

from hil.cards import Card, Step, StepContext, action, inspection, measurement
from hil.drivers.velocimeter_role import VelocityStimulus

FRESH_FRAMES = 1
"""Frames of a new stimulus the bench sends after the first, before the FC is asked."""
AXES = ("VX", "VY", "VZ")


@dataclass(frozen=True)
class Point:
    label: str
    velocity_mps: tuple[float, float, float]
    valid: bool = True
    rii: bool = False


POINTS = (
    Point("hover", (0.0, 0.0, -1.0)),
    Point("approach", (20.0, -3.5, -15.0)),
    Point("braking", (500.0, 12.0, -40.0), rii=True),
)
INVALID = Point("no lock", (0.0, 0.0, 0.0), valid=False)


def _tolerance_mps(value: float) -> float:
    """0.02 m/s + 0.1 % of the stimulus."""
    return 0.02 + 0.001 * abs(value)


def _fc_counts(ctx: StepContext) -> dict[str, int]:
    """The FC's velocimeter counters now (maintenance command ``VEL``)."""
    reading = ctx.fc.velocimeter_reading()
    return {key: int(reading[key]) for key in ("FRAMES", "INVALID")}


def stimulate(point: Point) -> Callable[[StepContext], None]:
    def run(ctx: StepContext) -> None:
        vel, signals = ctx.bench.velocimeter, ctx.signals
        if "before" not in ctx.state:  # the FC may have counted for hours: judge the growth
            ctx.state["before"] = _fc_counts(ctx)
            ctx.state["sent_before"] = signals.count("VEL_Velocity.Valid")
        first = signals.count("VEL_Velocity.Valid")
        vel.stimulus = VelocityStimulus(point.velocity_mps, valid=point.valid)
        if not vel.streaming:
            vel.start_stream(VEL_RATE_HZ)
        expected_x = point.velocity_mps[0] if point.valid else 0.0
        sent = signals.wait_for(
            "VEL_Velocity.VelocityX",
            lambda value: abs(value - expected_x) < 0.01,
            timeout_s=1.0,
            since_index=first,
            description=f"the bench sending the {point.label} stimulus",
        )
        signals.wait_for(
            "VEL_Velocity.VelocityX",
            lambda _: True,
            timeout_s=1.0,
            since_index=sent.index + FRESH_FRAMES,
            description=f"{FRESH_FRAMES} more frames of the new stimulus",
        )
        vx, vy, vz = point.velocity_mps
        ctx.log(
            f"velocimeter stimulus {point.label}: ({vx:g}, {vy:g}, {vz:g}) m/s body, "
            f"{'VALID' if point.valid else 'INVALID'}"
        )

    run.__name__ = f"stimulate_{point.label.replace(' ', '_')}"
    return run


def fc_component(axis: int) -> Callable[[StepContext], float]:
    def measure(ctx: StepContext) -> float:
        reading = ctx.fc.velocimeter_reading()
        ctx.state["vel"] = reading
        return reading[AXES[axis]]

    measure.__name__ = f"fc_velocity_{AXES[axis].lower()}"
    return measure


def fc_valid_flag(ctx: StepContext) -> float:
    reading = ctx.fc.velocimeter_reading()
    require(reading["FRAMES"] > 0, "FC has received no velocimeter frame")
    return reading["VALID"]


def frames_lost(ctx: StepContext) -> float:
    """Frames the bench sent since the first stimulus that the FC did not count."""
    vel = ctx.bench.velocimeter
    vel.stop_stream()  # a frame in flight would be counted on one side only
    ctx.fc.wait_heartbeat(timeout_s=1.0)
    sent = ctx.signals.count("VEL_Velocity.Valid") - int(ctx.state["sent_before"])
    received = _fc_counts(ctx)["FRAMES"] - ctx.state["before"]["FRAMES"]
    ctx.log(f"velocimeter frames: bench sent {sent}, FC received {received}")
    require(sent > 0, "the bench sent no velocimeter frame")
    return float(sent - received)


def invalid_counted(ctx: StepContext) -> float:
    """The FC's INVALID count growth since the first stimulus: the no-lock frames it counted."""
    return float(_fc_counts(ctx)["INVALID"] - ctx.state["before"]["INVALID"])


def _point_steps(first_number: int, point: Point) -> tuple[Step, ...]:
    steps: list[Step] = [
        action(
            first_number, f"Set the velocimeter stimulus to {point.label}.", run=stimulate(point)
        )
    ]
    for axis, value in enumerate(point.velocity_mps):
        tolerance = _tolerance_mps(value)
        steps.append(
            measurement(
                first_number + 1 + axis,
                f"Read the velocity {AXES[axis]} received by the FC (VEL) at the {point.label} "
                f"stimulus ({value:g} m/s).",
                name=f"fc_{AXES[axis].lower()}_{point.label}",
                unit="m/s",
                low=round(value - tolerance, 4),
                high=round(value + tolerance, 4),
                marginal=round(tolerance / 4, 4),
                measure=fc_component(axis),
                wait_until_s=2.0,
                poll_s=0.1,
                rii=point.rii,
                on_fail="continue",
            )
        )
    steps.append(
        measurement(
            first_number + 4,
            f"Read the velocimeter valid flag received by the FC at the {point.label} stimulus "
            "(expect 1).",
            name=f"fc_valid_{point.label}",
            unit="flag",
            low=1.0,
            high=1.0,
            measure=fc_valid_flag,
            rii=point.rii,
            on_fail="continue",
        )
    )
    return tuple(steps)


_LAST = 2 + 5 * len(POINTS)

CARD = Card(
    number="LL-34-43-00-720-801",
    revision="A",
    title="Velocimeter functional check",
    effectivity=("HR-M3",),
    interval="Before every descent; after velocimeter or FC replacement",
    equipment=(
        "Velocimeter stimulator (Doppler target simulator, hardware bench) or HIL bench "
        "velocimeter emulator",
        "Inspection lamp",
        "Maintenance cable W101 (FC J1)",
    ),
    warnings=(
        "RF / LASER EMISSION. A powered velocimeter radiates from its antenna or window. Keep "
        "people clear of the beam area and fit the cover before you inspect it.",
    ),
    cautions=(
        "Do not clean the antenna radome or window with solvents other than isopropyl "
        "alcohol; a film on it reduces the unit's range.",
    ),
    notes=(
        "The velocimeter gives the lander its velocity relative to the surface, which is what "
        "holds the horizontal touchdown speed within 1 m/s with the specified IMU. On a "
        "hardware bench the stimulus is the Doppler target simulator; on the simulated bench it "
        "is the velocimeter emulator, so the card verifies the FC's reception, its valid-flag "
        "handling and its counters.",
        "Limits: each component within 0.02 m/s + 0.1 % of the stimulus (VEL_Velocity "
        "resolution 0.02 m/s); no frame lost; the no-lock frames counted invalid.",
    ),
    roles=("flight_computer", "velocimeter"),
    steps=(
        inspection(
            1,
            "Remove the velocimeter cover. Inspect the antenna radome (or window) with the lamp; "
            "refit the cover for storage after the card.",
            criterion="Radome clean and undamaged: no film, cracks or delamination; connector "
            "mated and locked",
            evidence=True,
        ),
        *(
            item
            for index, point in enumerate(POINTS)
            for item in _point_steps(2 + 5 * index, point)
        ),
        action(_LAST, f"Set the velocimeter stimulus to {INVALID.label}.", run=stimulate(INVALID)),
        measurement(
            _LAST + 1,
            "Read the velocimeter valid flag received by the FC at the no-lock stimulus "
            "(expect 0).",
            name="fc_valid_no_lock",
            unit="flag",
            low=0.0,
            high=0.0,
            measure=fc_valid_flag,
            wait_until_s=2.0,
            poll_s=0.1,
            on_fail="continue",
        ),
        measurement(
            _LAST + 2,
            "Read the growth of the FC's invalid velocimeter frame count (VEL INVALID) since "
            "the first stimulus.",
            name="fc_invalid_frames",
            unit="frames",
            low=1.0,
            measure=invalid_counted,
            on_fail="continue",
        ),
        measurement(
            _LAST + 3,
            "Stop the stimulus; compare the frames the bench sent with the growth of the FC's "
            "velocimeter frame count (VEL FRAMES) since the first stimulus.",
            name="fc_frames_lost",
            unit="frames",
            low=0.0,
            high=0.0,
            measure=frames_lost,
        ),
    ),
    teardown=teardown(),
)
