"""Card LL-22-30-00-720-801: thrust-direction (ACS) command check.

With the FC ARMED and no state vector loaded, the FC sends the thrust direction held in its
TEST_PITCH_DEG / TEST_YAW_DEG parameters on ACS_Cmd. The card sets pitch to -10, 0 and +10 deg
(yaw 0), then yaw to -10, 0 and +10 deg (pitch 0), and checks the values decoded from ACS_Cmd
on the bus are within 0.02 deg of each command, while the engine is never commanded to fire.
"""

from __future__ import annotations

from collections.abc import Callable

from procedures._common import (
    bit_before_arm_step,
    imu_input_rate_step,
    require,
    start_emulators,
    teardown,
    zero_and_arm,
)

from hil.cards import Card, Monitor, Step, StepContext, action, measurement, prompt

ANGLES_DEG = (-10.0, 0.0, 10.0)
TOLERANCE_DEG = 0.02
AXES = (
    ("pitch", "TEST_PITCH_DEG", "ACS_Cmd.ThrustPitch", "TEST_YAW_DEG"),
    ("yaw", "TEST_YAW_DEG", "ACS_Cmd.ThrustYaw", "TEST_PITCH_DEG"),
)
NO_FIRE = Monitor("ENG_Cmd.Fire", red=(0.0, 0.0), unit="flag")
"""The engine must not be commanded to fire while the thrust direction is checked."""


def set_direction(parameter: str, other: str, angle_deg: float) -> Callable[[StepContext], None]:
    def run(ctx: StepContext) -> None:
        fc = ctx.fc
        fc.set_param(other, 0)
        echoed = fc.set_param(parameter, angle_deg)
        require(float(echoed) == angle_deg, f"SET {parameter} answered {echoed}")
        # frames counted from here on were composed after the FC accepted the parameter
        ctx.state["acs_index"] = ctx.signals.count("ACS_Cmd.ThrustPitch")
        ctx.log(f"{parameter} {_label(angle_deg)} deg, {other} 0 deg")

    run.__name__ = f"set_{parameter.lower()}_{angle_deg:g}"
    return run


def acs_value(signal: str) -> Callable[[StepContext], float]:
    """The latest ``signal`` from an ACS_Cmd frame received after the parameter was set."""

    def measure(ctx: StepContext) -> float:
        signals = ctx.signals
        index = ctx.state.get("acs_index")
        require(index is not None, "no thrust direction set")
        signals.wait_for(
            "ACS_Cmd.ThrustPitch",
            lambda _: True,
            timeout_s=0.5,
            since_index=index,
            description="an ACS_Cmd frame after the SET",
        )
        return signals.value(signal)

    measure.__name__ = f"acs_{signal.rsplit('.', 1)[1].lower()}"
    return measure


def _label(angle_deg: float) -> str:
    return f"{angle_deg:+g}" if angle_deg else "0"


def _axis_steps(first_number: int) -> tuple[Step, ...]:
    steps: list[Step] = []
    number = first_number
    for axis, parameter, signal, other in AXES:
        for angle_deg in ANGLES_DEG:
            steps.append(
                action(
                    number,
                    f"Set {parameter} to {_label(angle_deg)} deg ({other} 0 deg).",
                    run=set_direction(parameter, other, angle_deg),
                )
            )
            steps.append(
                measurement(
                    number + 1,
                    f"Read the thrust {axis} decoded from ACS_Cmd on the bus.",
                    name=f"acs_{axis}_{_label(angle_deg)}deg",
                    unit="deg",
                    low=angle_deg - TOLERANCE_DEG,
                    high=angle_deg + TOLERANCE_DEG,
                    marginal=0.005,
                    measure=acs_value(signal),
                    wait_until_s=1.0,
                    poll_s=0.05,
                    monitors=(NO_FIRE,),
                    on_fail="continue",
                )
            )
            number += 2
    return tuple(steps)


def command_safe(ctx: StepContext) -> None:
    ctx.fc.set_param("TEST_PITCH_DEG", 0)
    ctx.fc.set_param("TEST_YAW_DEG", 0)
    answered = ctx.fc.safe()
    require(answered == "SAFE", f"SAFE answered {answered}")


CARD = Card(
    number="LL-22-30-00-720-801",
    revision="A",
    title="Thrust-direction (ACS) command check",
    effectivity=("HR-M3",),
    interval="After FC or thrust-direction actuator replacement; 180 days",
    equipment=(
        "HIL bench engine/ACS emulator on the lander CAN bus (ACS_Cmd)",
        "Bench CAN harness W103 (FC J2)",
        "Maintenance cable W101 (FC J1)",
    ),
    warnings=(
        "Make sure the main engine propellant and pressurant isolation valves are closed, "
        "locked out and tagged before step 5. The FC is ARMED during this card.",
    ),
    cautions=(
        "On a lander with the thrust-direction actuators connected, make sure the nozzle "
        "and the actuator travel area are clear of tools, covers and persons. The nozzle "
        "moves to +-10 deg.",
    ),
    notes=(
        "Limits: the decoded ACS_Cmd value within +-0.02 deg of the command (ACS_Cmd "
        "resolution 0.01 deg). ENG_Cmd Fire is monitored throughout: a fire command fails "
        "the step.",
        "TEST_PITCH_DEG and TEST_YAW_DEG act only while the FC is ARMED and no state vector "
        "is loaded.",
    ),
    roles=("flight_computer", "imu", "range_finder", "engine"),
    steps=(
        prompt(
            1,
            "Are the engine isolation valves closed, locked out and tagged, and the nozzle "
            "travel area clear?",
            answers=("yes", "no"),
            expect="yes",
        ),
        action(2, "Start the IMU, LRF and engine emulators.", run=start_emulators),
        imu_input_rate_step(3),
        bit_before_arm_step(4),
        action(
            5,
            "Set TEST_THROTTLE_PCT, TEST_PITCH_DEG and TEST_YAW_DEG to 0, then ARM the FC. "
            "Verify FC_Heartbeat shows ARMED.",
            run=zero_and_arm,
        ),
        *_axis_steps(6),
        action(
            18,
            "Set TEST_PITCH_DEG and TEST_YAW_DEG to 0 and command SAFE.",
            run=command_safe,
        ),
    ),
    teardown=teardown(zero_test_parameters=True),
)
