"""Card LL-42-20-00-730-801: CAN bus data-link health.

Watches the lander CAN bus for a 3 s window with every node talking and checks the FC's
periodic messages run at their ICD rates and that no frame was lost (rolling counter),
corrupted (CRC-8), undecodable, malformed or of an unknown identifier. Counters are taken
before and after the window; only what happened inside it counts.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from procedures._common import require, start_emulators, teardown, wait_s

from hil.cards import Card, StepContext, action, measurement

WINDOW_S = 3.0
RATE_SIGNALS = {
    "FC_Heartbeat": "FC_Heartbeat.Mode",
    "ENG_Cmd": "ENG_Cmd.ThrottleCmd",
    "ACS_Cmd": "ACS_Cmd.ThrustPitch",
}
"""One signal per rate-checked message: its samples' timestamps are the frames' arrivals."""


def _message_totals(ctx: StepContext) -> dict[str, int]:
    stats = ctx.bench.can.stats
    link = ctx.bench.can.link_stats
    return {
        "counter_gaps": sum(item.counter_gaps for item in stats.values()),
        "crc_failures": sum(item.crc_failures for item in stats.values()),
        "decode_errors": sum(item.decode_errors for item in stats.values()),
        "malformed": link.malformed,
        "unknown_ids": link.unknown_ids,
        "error_frames": link.error_frames,
        "frames_received": link.frames_received,
    }


def observe_window(ctx: StepContext) -> None:
    """Take the counters, let the bus run ``WINDOW_S``, take them again."""
    signals = ctx.signals
    first_index = {message: signals.count(name) for message, name in RATE_SIGNALS.items()}
    before = _message_totals(ctx)
    started_s = time.monotonic()
    wait_s(ctx, WINDOW_S)
    after = _message_totals(ctx)
    ctx.state["window_s"] = time.monotonic() - started_s
    ctx.state["first_index"] = first_index
    ctx.state["delta"] = {key: after[key] - before[key] for key in after}
    ctx.log(
        f"window {ctx.state['window_s']:.2f} s: "
        + ", ".join(f"{key} +{value}" for key, value in ctx.state["delta"].items())
    )
    for name, item in sorted(ctx.bench.can.stats.items()):
        ctx.log(
            f"{name}: sent {item.sent}, received {item.received}, gaps {item.counter_gaps}, "
            f"CRC {item.crc_failures}, decode {item.decode_errors}"
        )
    require(ctx.state["delta"]["frames_received"] > 0, "no CAN frames received in the window")


def message_rate(message: str) -> Callable[[StepContext], float]:
    def measure(ctx: StepContext) -> float:
        require("first_index" in ctx.state, "no observation window: step 2 did not run")
        times_s, _ = ctx.signals.history(RATE_SIGNALS[message], ctx.state["first_index"][message])
        if times_s.size < 2 or times_s[-1] <= times_s[0]:
            return 0.0
        return float((times_s.size - 1) / (times_s[-1] - times_s[0]))

    measure.__name__ = f"{message.lower()}_rate_hz"
    return measure


def window_count(key: str) -> Callable[[StepContext], float]:
    def measure(ctx: StepContext) -> float:
        require("delta" in ctx.state, "no observation window: step 2 did not run")
        return float(ctx.state["delta"][key])

    measure.__name__ = f"{key}_in_window"
    return measure


_COUNT_STEPS = (
    ("counter_gaps", "frames lost according to the rolling counters (all messages)"),
    ("crc_failures", "frames with a CRC-8 mismatch (all messages)"),
    ("decode_errors", "frames of a known identifier that could not be decoded"),
    ("malformed", "malformed frames (wrong length, CRC or data)"),
    ("unknown_ids", "frames with an identifier not in the lander CAN database"),
    ("error_frames", "CAN error frames"),
)

CARD = Card(
    number="LL-42-20-00-730-801",
    revision="A",
    title="CAN bus data-link health check",
    effectivity=("HR-M3",),
    interval="Before every descent; after any CAN harness or LRU change",
    equipment=(
        "HIL bench CAN interface, 1 Mbit/s, with bus logging",
        "Bench CAN harness W103, terminated 120 ohm both ends",
        "HIL bench with IMU, LRF and engine emulators",
    ),
    warnings=(),
    cautions=(
        "Do not connect a second CAN analyser to the bus during the window. An extra node "
        "changes the bus load and can cause the rates to drift out of limits.",
    ),
    notes=(
        "Rates are computed from the arrival times of the frames received inside the 3 s "
        "window: FC_Heartbeat 10 Hz, ENG_Cmd and ACS_Cmd 50 Hz, each +-5 %.",
        "The error counts are the difference of the bench counters after and before the "
        "window. Any non-zero count is a failure; look in the bus log for the frames.",
    ),
    roles=("flight_computer", "imu", "range_finder", "engine"),
    steps=(
        action(
            1,
            "Start the IMU, LRF and engine emulators so every node on the bus transmits.",
            run=start_emulators,
        ),
        action(
            2,
            "Record the bus counters, monitor the bus for 3.0 s, then record the counters again.",
            run=observe_window,
        ),
        measurement(
            3,
            "Measure the FC_Heartbeat rate over the window.",
            name="heartbeat_rate",
            unit="Hz",
            low=9.5,
            high=10.5,
            marginal=0.1,
            measure=message_rate("FC_Heartbeat"),
            on_fail="continue",
        ),
        measurement(
            4,
            "Measure the ENG_Cmd rate over the window.",
            name="eng_cmd_rate",
            unit="Hz",
            low=47.5,
            high=52.5,
            marginal=0.5,
            measure=message_rate("ENG_Cmd"),
            on_fail="continue",
        ),
        measurement(
            5,
            "Measure the ACS_Cmd rate over the window.",
            name="acs_cmd_rate",
            unit="Hz",
            low=47.5,
            high=52.5,
            marginal=0.5,
            measure=message_rate("ACS_Cmd"),
            on_fail="continue",
        ),
        *(
            measurement(
                6 + index,
                f"Count the {text} in the window.",
                name=key,
                unit="frames",
                high=0.0,
                measure=window_count(key),
                on_fail="continue",
            )
            for index, (key, text) in enumerate(_COUNT_STEPS)
        ),
    ),
    teardown=teardown(),
)
