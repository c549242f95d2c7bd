"""Card LL-73-20-00-720-801: main engine throttle valve functional sweep.

With the FC ARMED and no state vector loaded, the FC commands the throttle held in its
TEST_THROTTLE_PCT parameter. The card steps the command through 20, 50, 80 and 100 % and
checks, on ENG_Status, that the throttle settles within 1 % of each command and that the
valve's lag (time to 63 % of the step, from the first ENG_Cmd carrying the new command) is
0.1 s +- 0.05 s. The teardown zeroes the command and puts the FC in SAFE, then STANDBY.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from procedures._common import (
    CheckFailed,
    bit_before_arm_step,
    imu_input_rate_step,
    require,
    start_emulators,
    teardown,
    zero_and_arm,
)

from hil.cards import Card, Monitor, Step, StepContext, action, measurement, prompt

COMMANDS_PCT = (20.0, 50.0, 80.0, 100.0)
SETTLE_TOLERANCE_PCT = 1.0
STEP_FRACTION = 1.0 - float(np.exp(-1.0))
"""A first-order lag reaches 63.2 % of a step after one time constant."""
COMMAND = "ENG_Cmd.ThrottleCmd"
ACTUAL = "ENG_Status.ThrottleActual"
PRESSURE_MONITOR = Monitor(
    "ENG_Status.ChamberPressure", red=(0.0, 1100.0), yellow=(0.0, 1050.0), unit="kPa"
)


def set_throttle(command_pct: float) -> Callable[[StepContext], None]:
    def run(ctx: StepContext) -> None:
        signals = ctx.signals
        ctx.state["step"] = {
            "command_pct": command_pct,
            "start_pct": signals.value(ACTUAL, 0.0),
            "command_index": signals.count(COMMAND),
            "actual_index": signals.count(ACTUAL),
        }
        echoed = ctx.fc.set_param("TEST_THROTTLE_PCT", command_pct)
        require(float(echoed) == command_pct, f"SET TEST_THROTTLE_PCT answered {echoed}")
        ctx.log(f"TEST_THROTTLE_PCT {command_pct:g} % (from {ctx.state['step']['start_pct']:g} %)")

    run.__name__ = f"set_throttle_{command_pct:g}"
    return run


def throttle_actual_pct(ctx: StepContext) -> float:
    sample = ctx.signals.latest(ACTUAL)
    if sample is None:
        raise CheckFailed("no ENG_Status received")
    return sample.value


def lag_s(ctx: StepContext) -> float:
    """Time from the first ENG_Cmd with the new command to ThrottleActual passing 63.2 % of
    the step (ENG_Status arrival times)."""
    step = ctx.state.get("step")
    if step is None:
        raise CheckFailed("no throttle step commanded")
    command_pct, start_pct = step["command_pct"], step["start_pct"]
    times_s, values = ctx.signals.history(COMMAND, step["command_index"])
    commanded = np.flatnonzero(np.abs(values - command_pct) < 0.05)
    require(commanded.size > 0, f"no ENG_Cmd carried {command_pct:g} %")
    command_s = float(times_s[commanded[0]])
    threshold_pct = start_pct + STEP_FRACTION * (command_pct - start_pct)
    times_s, values = ctx.signals.history(ACTUAL, step["actual_index"])
    rising = command_pct >= start_pct
    crossed = np.flatnonzero(
        (times_s >= command_s)
        & ((values >= threshold_pct) if rising else (values <= threshold_pct))
    )
    require(crossed.size > 0, f"ThrottleActual never passed {threshold_pct:.1f} %")
    ctx.log(
        f"step {start_pct:g} -> {command_pct:g} %: ENG_Cmd at {command_s:.3f} s, "
        f"63 % ({threshold_pct:.1f} %) at {times_s[crossed[0]]:.3f} s"
    )
    return float(times_s[crossed[0]] - command_s)


def _sweep_steps(first_number: int, command_pct: float) -> tuple[Step, ...]:
    name = f"{command_pct:g}pct"
    return (
        action(
            first_number,
            f"Set TEST_THROTTLE_PCT to {command_pct:g} %.",
            run=set_throttle(command_pct),
        ),
        measurement(
            first_number + 1,
            f"Wait until ENG_Status ThrottleActual settles within {SETTLE_TOLERANCE_PCT:g} % "
            f"of the {command_pct:g} % command.",
            name=f"throttle_actual_{name}",
            unit="%",
            low=command_pct - SETTLE_TOLERANCE_PCT,
            high=command_pct + SETTLE_TOLERANCE_PCT,
            marginal=0.2,
            measure=throttle_actual_pct,
            wait_until_s=2.0,
            poll_s=0.05,
            monitors=(PRESSURE_MONITOR,),
            on_fail="continue",
        ),
        measurement(
            first_number + 2,
            f"Measure the throttle lag of the step to {command_pct:g} % (time to 63 %).",
            name=f"throttle_lag_{name}",
            unit="s",
            low=0.05,
            high=0.15,
            marginal=0.01,
            measure=lag_s,
            on_fail="continue",
        ),
    )


def command_safe(ctx: StepContext) -> None:
    ctx.fc.set_param("TEST_THROTTLE_PCT", 0)
    answered = ctx.fc.safe()
    require(answered == "SAFE", f"SAFE answered {answered}")


CARD = Card(
    number="LL-73-20-00-720-801",
    revision="A",
    title="Main engine throttle valve functional sweep",
    effectivity=("HR-M3",),
    interval="After throttle valve or engine controller replacement; 180 days",
    equipment=(
        "HIL bench engine emulator on the lander CAN bus (ENG_Cmd / ENG_Status)",
        "Bench CAN harness W103 (FC J2)",
        "Maintenance cable W101 (FC J1)",
        "Lock-out tags and padlocks for the engine isolation valves",
    ),
    warnings=(
        "Do not do this test with propellant or pressurant loaded. The FC is ARMED and "
        "commands the main engine to fire at up to 100 % throttle.",
        "Make sure the main engine propellant and pressurant isolation valves are closed, "
        "locked out and tagged, and that the engine bay is clear of persons, before step 5.",
    ),
    cautions=(
        "On a lander, do not cycle the throttle valve dry more than 20 times in a day; it "
        "wears the valve seat. One run of this card is 4 cycles.",
    ),
    notes=(
        "Settle limit: ThrottleActual within +-1.0 % (throttle points) of the command. "
        "Lag limit: 0.1 s +- 0.05 s to 63 % of the step, timed from the first ENG_Cmd frame "
        "that carries the new command (throttle lag 0.1 s).",
        "TEST_THROTTLE_PCT acts only while the FC is ARMED and no state vector is loaded.",
    ),
    roles=("flight_computer", "imu", "range_finder", "engine"),
    steps=(
        prompt(
            1,
            "Are the main engine propellant and pressurant isolation valves closed, locked out "
            "and tagged, and is the engine bay clear?",
            answers=("yes", "no"),
            expect="yes",
        ),
        action(
            2,
            "Start the IMU, LRF and engine emulators.",
            run=start_emulators,
        ),
        imu_input_rate_step(3),
        bit_before_arm_step(4),
        action(
            5,
            "Set TEST_THROTTLE_PCT, TEST_PITCH_DEG and TEST_YAW_DEG to 0, then ARM the FC. "
            "Verify FC_Heartbeat shows ARMED.",
            run=zero_and_arm,
        ),
        *(
            item
            for index, command_pct in enumerate(COMMANDS_PCT)
            for item in _sweep_steps(6 + 3 * index, command_pct)
        ),
        action(
            18,
            "Set TEST_THROTTLE_PCT to 0 and command SAFE.",
            run=command_safe,
        ),
        measurement(
            19,
            "Wait until ENG_Status ThrottleActual is back below 1 % (valve closed).",
            name="throttle_actual_after_safe",
            unit="%",
            high=1.0,
            marginal=0.2,
            measure=throttle_actual_pct,
            wait_until_s=2.0,
            poll_s=0.05,
        ),
    ),
    teardown=teardown(zero_test_parameters=True),
)
