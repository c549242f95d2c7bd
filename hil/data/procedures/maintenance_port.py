"""Card LL-45-10-00-720-801: FC maintenance port command set and checksum rejection.

Every maintenance command the bench relies on must answer (PING, STATUS, GET/SET, MODE, BIT);
an unknown command must be refused with ``$ERR 1``; a line with a corrupted checksum must be
rejected with ``$ERR 5``, not executed, and counted in STATUS ``BAD_COMMANDS``; and the port
must still work afterwards.
"""

from __future__ import annotations

from procedures._common import (
    fc_counter,
    imu_input_rate_step,
    ping_ms,
    require,
    start_emulators,
    teardown,
)

from hil.cards import Card, StepContext, action, measurement
from hil.drivers.serial import encode_line
from hil.protocol.icd import FC_MODES

STATUS_KEYS = ("MODE", "UPTIME", "BIT", "IMU_FRAMES", "LRF_FRAMES", "ENG_FRAMES", "BAD_COMMANDS")
ROUND_TRIP_PARAMETER = "TEST_THROTTLE_PCT"
"""A writable parameter with no effect outside ARMED, used for the GET/SET round trip."""
ROUND_TRIP_VALUE = "12.5"


def _error_code(reply: tuple[str, ...]) -> float:
    """The code of an ``$ERR code text`` reply; 0 for anything else."""
    if len(reply) >= 2 and reply[0] == "ERR" and reply[1].isdigit():
        return float(reply[1])
    return 0.0


def check_status(ctx: StepContext) -> None:
    status = ctx.fc.status()
    ctx.log("STATUS " + " ".join(f"{key}={value}" for key, value in status.items()))
    missing = [key for key in STATUS_KEYS if key not in status]
    require(not missing, f"STATUS reply lacks {', '.join(missing)}")


def set_get_round_trip(ctx: StepContext) -> None:
    fc = ctx.fc
    original = fc.get_param(ROUND_TRIP_PARAMETER)
    require(original != "", f"GET {ROUND_TRIP_PARAMETER} returned no value")
    echoed = fc.set_param(ROUND_TRIP_PARAMETER, ROUND_TRIP_VALUE)
    read_back = fc.get_param(ROUND_TRIP_PARAMETER)
    restored = fc.set_param(ROUND_TRIP_PARAMETER, original)
    ctx.log(
        f"{ROUND_TRIP_PARAMETER}: was {original}, SET {ROUND_TRIP_VALUE} answered {echoed}, "
        f"GET answered {read_back}, restored to {restored}"
    )
    require(
        float(echoed) == float(ROUND_TRIP_VALUE),
        f"SET {ROUND_TRIP_PARAMETER} answered {echoed}",
    )
    require(
        float(read_back) == float(ROUND_TRIP_VALUE),
        f"GET {ROUND_TRIP_PARAMETER} read back {read_back}, set {ROUND_TRIP_VALUE}",
    )
    require(restored == original, f"{ROUND_TRIP_PARAMETER} restored to {restored}, not {original}")


def read_only_refused(ctx: StepContext) -> float:
    reply = ctx.fc.send_raw(encode_line("SET", "SW_VERSION", "TAMPERED"))
    ctx.log("SET SW_VERSION TAMPERED answered " + " ".join(reply))
    return _error_code(reply)


def mode_round_trip(ctx: StepContext) -> None:
    """MODE SAFE then MODE STANDBY; each answer and the heartbeat must show the new mode."""
    fc, signals = ctx.fc, ctx.signals
    for mode in ("SAFE", "STANDBY"):
        first = signals.count("FC_Heartbeat.Mode")
        answered = fc.set_mode(mode)
        require(answered == mode, f"MODE {mode} answered {answered}")
        sample = signals.wait_for(
            "FC_Heartbeat.Mode",
            lambda value, mode=mode: int(value) == FC_MODES.index(mode),  # type: ignore[misc]
            timeout_s=1.0,
            since_index=first,
            description=f"heartbeat mode {mode}",
        )
        ctx.log(
            f"MODE {mode}: answered {answered}, heartbeat shows it at t={sample.timestamp_s:.2f}"
        )


def bit_answers(ctx: StepContext) -> None:
    report = ctx.fc.run_bit()
    ctx.log(
        f"BIT answered {'PASS' if report.passed else 'FAIL'}: "
        + " ".join(f"{name}={'PASS' if ok else 'FAIL'}" for name, ok in report.items.items())
    )
    require(bool(report.items), "BIT answered without any item results")


def unknown_command_code(ctx: StepContext) -> float:
    reply = ctx.fc.send_raw(encode_line("XYZZY"))
    ctx.log("XYZZY answered " + " ".join(reply))
    return _error_code(reply)


def corrupted_checksum_code(ctx: StepContext) -> float:
    """Send ``$PING`` with its checksum's lowest bit flipped; the FC must refuse it."""
    ctx.state["bad_commands_before"] = fc_counter(ctx, "BAD_COMMANDS")
    good = encode_line("PING")
    checksum = int(good[-4:-2], 16) ^ 0x01
    corrupted = good[:-4] + f"{checksum:02X}".encode("ascii") + b"\r\n"
    reply = ctx.fc.send_raw(corrupted)
    ctx.log(f"sent {corrupted!r}, answered " + " ".join(reply))
    return _error_code(reply)


def bad_commands_counted(ctx: StepContext) -> float:
    require("bad_commands_before" in ctx.state, "no BAD_COMMANDS baseline: step 10 did not run")
    return float(fc_counter(ctx, "BAD_COMMANDS") - ctx.state["bad_commands_before"])


CARD = Card(
    number="LL-45-10-00-720-801",
    revision="A",
    title="FC maintenance port command set and checksum rejection",
    effectivity=("HR-M3",),
    interval="After FC software load; after maintenance port harness change; 90 days",
    equipment=(
        "Maintenance cable W101 (FC J1 to bench maintenance port), 115200 Bd",
        "HIL bench with IMU, LRF and engine emulators",
    ),
    warnings=(
        "Make sure the engine isolation valves are closed before you start. The card "
        "commands FC modes from the maintenance port.",
    ),
    cautions=(
        "Do not type commands on another terminal connected to the maintenance port while "
        "the card runs. Extra lines change BAD_COMMANDS and the replies the card expects.",
    ),
    notes=(
        "The GET/SET round trip uses TEST_THROTTLE_PCT, which has no effect unless the FC is "
        "ARMED; the card restores the value read and the teardown sets it to 0.",
        "Error codes: 1 UNKNOWN_COMMAND, 4 NOT_ALLOWED, 5 BAD_CHECKSUM (FC ICD).",
    ),
    roles=("flight_computer", "imu", "range_finder", "engine"),
    steps=(
        action(
            1,
            "Start the IMU, LRF and engine emulators so the FC has live inputs.",
            run=start_emulators,
        ),
        imu_input_rate_step(2),
        measurement(
            3,
            "Send PING and measure the round-trip time.",
            name="ping_round_trip",
            unit="ms",
            high=50.0,
            marginal=10.0,
            measure=ping_ms,
        ),
        action(
            4,
            "Send STATUS. Verify that the reply holds MODE, UPTIME, BIT and the frame counters.",
            run=check_status,
        ),
        action(
            5,
            f"SET {ROUND_TRIP_PARAMETER} to {ROUND_TRIP_VALUE}, GET it back, then SET the "
            "original value again.",
            run=set_get_round_trip,
        ),
        measurement(
            6,
            "Send SET SW_VERSION TAMPERED. Record the error code (read-only parameter).",
            name="read_only_error_code",
            unit="code",
            low=4.0,
            high=4.0,
            measure=read_only_refused,
        ),
        action(
            7,
            "Send MODE SAFE, then MODE STANDBY. Verify each reply and the FC_Heartbeat mode.",
            run=mode_round_trip,
        ),
        action(
            8,
            "Send BIT. Verify that the FC answers with an overall result and item results.",
            run=bit_answers,
        ),
        measurement(
            9,
            "Send the unknown command XYZZY. Record the error code.",
            name="unknown_command_error_code",
            unit="code",
            low=1.0,
            high=1.0,
            measure=unknown_command_code,
        ),
        measurement(
            10,
            "Record STATUS BAD_COMMANDS, then send PING with a corrupted checksum. Record the "
            "error code.",
            name="bad_checksum_error_code",
            unit="code",
            low=5.0,
            high=5.0,
            measure=corrupted_checksum_code,
        ),
        measurement(
            11,
            "Read STATUS BAD_COMMANDS again. Record the increase.",
            name="bad_commands_increase",
            unit="lines",
            low=1.0,
            high=1.0,
            measure=bad_commands_counted,
        ),
        measurement(
            12,
            "Send PING again and measure the round-trip time (the port still works).",
            name="ping_round_trip_after",
            unit="ms",
            high=50.0,
            marginal=10.0,
            measure=ping_ms,
        ),
    ),
    teardown=teardown(zero_test_parameters=True),
)
