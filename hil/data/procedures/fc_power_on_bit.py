"""Card LL-31-10-00-740-801: flight computer power-on and built-in test (BIT).

Checks that the FC comes up talking: the maintenance port answers a PING, the FC_Heartbeat is
on the bus in STANDBY, it receives live IMU, LRF and engine traffic, its BIT passes item by
item, and it reports its software version for the as-run record.
"""

from __future__ import annotations

from collections.abc import Callable

from procedures._common import (
    CheckFailed,
    bit_overall,
    imu_input_rate_step,
    ping_ms,
    require,
    start_emulators,
    teardown,
    wait_s,
)

from hil.cards import Card, Monitor, StepContext, action, inspection, measurement, prompt

BIT_ITEMS = ("IMU", "LRF", "ENGINE", "CAN", "PARAMETERS")
"""The FC's BIT items (FC ICD, maintenance port BIT reply)."""

HEARTBEAT_WINDOW_S = 1.0


def heartbeat_rate_hz(ctx: StepContext) -> float:
    """FC_Heartbeat frames per second over a 1 s window (0 if fewer than two arrive)."""
    signals = ctx.signals
    first = signals.count("FC_Heartbeat.Mode")
    wait_s(ctx, HEARTBEAT_WINDOW_S)
    times_s, _ = signals.history("FC_Heartbeat.Mode", first)
    if times_s.size < 2 or times_s[-1] <= times_s[0]:
        return 0.0
    return float((times_s.size - 1) / (times_s[-1] - times_s[0]))


def check_standby(ctx: StepContext) -> None:
    heartbeat = ctx.fc.wait_heartbeat(timeout_s=1.0)
    ctx.log(
        f"FC_Heartbeat: mode {heartbeat.mode}, counter {heartbeat.counter}, "
        f"CPU load {heartbeat.cpu_load_pct:.1f} %, uptime {heartbeat.uptime_s:.1f} s"
    )
    require(heartbeat.mode == "STANDBY", f"FC_Heartbeat mode is {heartbeat.mode}, not STANDBY")


def bit_item(item: str) -> Callable[[StepContext], float]:
    def measure(ctx: StepContext) -> float:
        report = ctx.state.get("bit")
        if report is None:
            raise CheckFailed("no BIT report: the BIT step did not run")
        require(item in report.items, f"BIT report has no {item} item ({', '.join(report.items)})")
        return 1.0 if report.items[item] else 0.0

    measure.__name__ = f"bit_{item.lower()}"
    return measure


def read_identification(ctx: StepContext) -> None:
    version = ctx.fc.get_param("SW_VERSION")
    serial = ctx.fc.get_param("SERIAL")
    require(bool(version), "FC returned an empty SW_VERSION")
    require(bool(serial), "FC returned an empty SERIAL")
    ctx.state["sw_version"] = version
    ctx.log(f"FC SERIAL {serial}, SW_VERSION {version}")
    ctx.record("fc_sw_version", version, "")
    ctx.record("fc_serial", serial, "")


CARD = Card(
    number="LL-31-10-00-740-801",
    revision="A",
    title="Flight computer power-on and built-in test",
    effectivity=("HR-M3",),
    interval="Before every descent; after FC replacement; 30 days",
    equipment=(
        "Bench power supply 28 V DC, 5 A",
        "Maintenance cable W101 (FC J1 to bench maintenance port)",
        "Bench CAN harness W103 (FC J2), terminated 120 ohm both ends",
        "HIL bench with IMU, LRF and engine emulators",
    ),
    warnings=(
        "Make sure the engine isolation valves are closed and the pyrotechnic safe-and-arm "
        "plugs are in SAFE before you apply power to the FC. An FC that powers up with "
        "propellant loaded can command the engine.",
    ),
    cautions=(
        "Wear an ESD wrist strap connected to the bench ground point before you touch the FC "
        "connectors. Electrostatic discharge can damage the FC.",
        "Do not connect or disconnect J1 or J2 with power applied.",
    ),
    notes=(
        "BIT needs at least 1.2 s of live IMU, LRF and engine traffic; the card starts the "
        "emulators and waits for the FC to see the full IMU rate before it runs the BIT.",
        "Write the SW_VERSION read in step 14 on the configuration record if it differs from "
        "the last entry.",
    ),
    roles=("flight_computer", "imu", "range_finder", "engine"),
    steps=(
        inspection(
            1,
            "With the FC unpowered, inspect connectors J1 and J2 on the FC and the mating "
            "plugs of W101 and W103.",
            criterion="No bent, pushed-back or corroded pins; no cracked inserts; "
            "coupling rings fully engaged and lockwired",
            evidence=True,
        ),
        prompt(
            2,
            "Apply 28 V DC bench power to the FC. Does the FC PWR OK indicator come on "
            "and the supply current settle below 2.0 A?",
            answers=("yes", "no"),
            expect="yes",
        ),
        measurement(
            3,
            "Send PING on the maintenance port and measure the round-trip time.",
            name="ping_round_trip",
            unit="ms",
            high=50.0,
            marginal=10.0,
            measure=ping_ms,
            attempts=2,
        ),
        measurement(
            4,
            "Measure the FC_Heartbeat rate on the CAN bus over 1 s.",
            name="heartbeat_rate",
            unit="Hz",
            low=9.0,
            high=11.0,
            marginal=0.2,
            measure=heartbeat_rate_hz,
            monitors=(Monitor("FC_Heartbeat.CpuLoad", red=(0, 90), yellow=(0, 70), unit="%"),),
        ),
        action(5, "Verify that FC_Heartbeat reports mode STANDBY.", run=check_standby),
        action(
            6,
            "Start the IMU (400 Hz, at rest), LRF (10 Hz, 1500 m valid) and engine (50 Hz) "
            "emulators.",
            run=start_emulators,
        ),
        imu_input_rate_step(7),
        measurement(
            8,
            "Run the FC BIT from the maintenance port. Record the overall result (1 = PASS).",
            name="bit_overall",
            unit="flag",
            low=1.0,
            high=1.0,
            measure=bit_overall,
            on_fail="continue",
        ),
        *(
            measurement(
                9 + index,
                f"Record the BIT result of item {item} (1 = PASS).",
                name=f"bit_{item.lower()}",
                unit="flag",
                low=1.0,
                high=1.0,
                measure=bit_item(item),
                on_fail="continue",
            )
            for index, item in enumerate(BIT_ITEMS)
        ),
        action(
            14,
            "Read the FC SERIAL and SW_VERSION parameters and record them.",
            run=read_identification,
        ),
    ),
    teardown=teardown(),
)
