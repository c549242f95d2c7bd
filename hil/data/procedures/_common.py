"""Step helpers shared by the card library: emulator streams, checks and the standard teardown.

Only generic bench handling lives here (starting and stopping the sensor emulators, reading
the FC's maintenance-port counters, putting the FC back in STANDBY). Every limit, stimulus and
pass criterion is written in the card module itself, so a card's content hash covers what it
checks. Not a card: the loader skips modules whose name starts with an underscore.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from hil.cards import measurement
from hil.cards.model import Step
from hil.drivers.roles import LUNAR_SURFACE_SAMPLE, RangeStimulus
from hil.drivers.velocimeter_role import VelocityStimulus
from hil.protocol.icd import FC_MODES

if TYPE_CHECKING:
    from hil.cards import StepContext

IMU_RATE_HZ = 400.0
"""IMU frame rate (ICD: RS-422, 400 Hz)."""
LRF_RATE_HZ = 10.0
"""``LRF_Range`` rate (ICD: 10 Hz)."""
VEL_RATE_HZ = 10.0
"""``VEL_Velocity`` rate (ICD: 10 Hz)."""
ENGINE_RATE_HZ = 50.0
"""``ENG_Status`` rate (ICD: 50 Hz)."""
PARKED_RANGE_M = 1500.0
"""LRF stimulus while a card does not look at the range: valid, mid-scale."""
TEST_PARAMETERS = ("TEST_THROTTLE_PCT", "TEST_PITCH_DEG", "TEST_YAW_DEG")
"""FC parameters that move the engine or the thrust direction while ARMED."""


class CheckFailed(AssertionError):
    """A step's own pass criterion was not met (the step is FAIL, not ERROR)."""


def require(condition: bool, message: str) -> None:
    """Raise ``CheckFailed(message)`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(message)


def start_emulators(ctx: StepContext, lrf_range_m: float = PARKED_RANGE_M) -> None:
    """Start the IMU (upright, at rest on the Moon), LRF (valid ``lrf_range_m``), velocimeter
    (valid, at rest) and engine emulators at their ICD rates, so the FC sees live traffic on
    every input."""
    bench = ctx.bench
    bench.imu.stimulus = LUNAR_SURFACE_SAMPLE
    bench.range_finder.stimulus = RangeStimulus(lrf_range_m, valid=True, signal_strength_pct=90.0)
    bench.imu.start_stream(IMU_RATE_HZ)
    bench.range_finder.start_stream(LRF_RATE_HZ)
    bench.velocimeter.stimulus = VelocityStimulus((0.0, 0.0, 0.0), valid=True)
    bench.velocimeter.start_stream(VEL_RATE_HZ)
    bench.engine.start_stream(ENGINE_RATE_HZ)
    ctx.log(
        f"emulators streaming: IMU {IMU_RATE_HZ:g} Hz (1.62 m/s^2 on Z, at rest), "
        f"LRF {LRF_RATE_HZ:g} Hz ({lrf_range_m:g} m valid), velocimeter {VEL_RATE_HZ:g} Hz "
        f"(0 m/s valid), engine {ENGINE_RATE_HZ:g} Hz"
    )


def fc_imu_rate_hz(ctx: StepContext) -> float:
    """IMU frame rate the FC reports receiving over its last second (STATUS ``IMU_RATE_HZ``)."""
    return float(ctx.fc.status()["IMU_RATE_HZ"])


def fc_counter(ctx: StepContext, key: str) -> int:
    """One integer counter of the FC's STATUS reply (``IMU_FRAMES``, ``BAD_COMMANDS``, ...)."""
    status = ctx.fc.status()
    require(key in status, f"FC STATUS reply has no {key} (got {', '.join(status)})")
    return int(status[key])


def ping_ms(ctx: StepContext) -> float:
    """Round trip of a maintenance-port PING, ms."""
    return 1000.0 * ctx.fc.ping()


def wait_s(ctx: StepContext, duration_s: float) -> None:
    """Let the bench run for ``duration_s`` on its clock (a measurement window, not a sync)."""
    clock = ctx.bench.clock
    clock.sleep_until(clock.now_s() + duration_s)


def bit_overall(ctx: StepContext) -> float:
    """Run the FC BIT; 1.0 if it reports overall PASS, else 0.0. The report is kept in
    ``ctx.state["bit"]`` for later steps."""
    report = ctx.fc.run_bit()
    ctx.state["bit"] = report
    ctx.log(
        "BIT " + " ".join(f"{name}={'PASS' if ok else 'FAIL'}" for name, ok in report.items.items())
    )
    return 1.0 if report.passed else 0.0


def zero_and_arm(ctx: StepContext) -> None:
    """Set the FC test parameters to 0, command ARM and wait for FC_Heartbeat to show ARMED."""
    fc, signals = ctx.fc, ctx.signals
    for name in TEST_PARAMETERS:
        fc.set_param(name, 0)
    first = signals.count("FC_Heartbeat.Mode")
    answered = fc.arm()
    require(answered == "ARMED", f"ARM answered {answered}")
    signals.wait_for(
        "FC_Heartbeat.Mode",
        lambda value: int(value) == FC_MODES.index("ARMED"),
        timeout_s=1.0,
        since_index=first,
        description="heartbeat mode ARMED",
    )
    ctx.log("test parameters 0; FC ARMED (FC_Heartbeat confirms)")


def teardown(*, zero_test_parameters: bool = False) -> Callable[[StepContext], None]:
    """The standard teardown: zero the FC test parameters (if asked), command SAFE (engine
    disarmed), stop every emulator stream, park the LRF and velocimeter stimuli invalid, and
    return the FC to STANDBY. Every action is tried even if an earlier one fails; the first
    failure is raised at the end so the record shows the teardown did not complete."""

    def run(ctx: StepContext) -> None:
        bench = ctx.bench
        actions: list[tuple[str, Callable[[], object]]] = []
        if zero_test_parameters:
            actions += [
                (f"SET {name} 0", partial(ctx.fc.set_param, name, 0)) for name in TEST_PARAMETERS
            ]
        actions += [
            ("SAFE", ctx.fc.safe),
            ("stop IMU stream", bench.imu.stop_stream),
            ("stop LRF stream", bench.range_finder.stop_stream),
            ("stop velocimeter stream", bench.velocimeter.stop_stream),
            ("stop engine stream", bench.engine.stop_stream),
            ("MODE STANDBY", lambda: ctx.fc.set_mode("STANDBY")),
        ]
        errors: list[BaseException] = []
        for what, call in actions:
            try:
                call()
            except Exception as err:  # keep going: a teardown must leave the bench safe
                ctx.log(f"teardown: {what} failed: {err}")
                errors.append(err)
        bench.range_finder.stimulus = RangeStimulus(0.0, valid=False, signal_strength_pct=0.0)
        bench.velocimeter.stimulus = VelocityStimulus((0.0, 0.0, 0.0), valid=False)
        if errors:
            raise errors[0]
        ctx.log("teardown: streams stopped, FC SAFE then STANDBY")

    return run


def imu_input_rate_step(number: int) -> Step:
    """The standard step: wait until the FC sees the full 400 Hz IMU input (380 .. 420 Hz)."""
    return measurement(
        number,
        "Wait until the FC reports the full IMU input rate (STATUS IMU_RATE_HZ).",
        name="fc_imu_input_rate",
        unit="Hz",
        low=380.0,
        high=420.0,
        marginal=4.0,
        measure=fc_imu_rate_hz,
        wait_until_s=3.0,
        poll_s=0.2,
    )


def bit_before_arm_step(number: int) -> Step:
    """The standard step before an ARM: the FC's BIT must pass."""
    return measurement(
        number,
        "Run the FC BIT. Record the overall result (1 = PASS); ARM needs a passed BIT.",
        name="bit_overall",
        unit="flag",
        low=1.0,
        high=1.0,
        measure=bit_overall,
    )
