"""Card LL-31-60-00-760-801: closed-loop transport delay, IMU step to FC command.

A bench closes the loop around the FC, and the delay from a sensor stimulus to the FC's first
command that reacts is what first makes a bench's loop differ from flight. With the FC armed
in its ``imu_echo`` test mode (ACS_Cmd pitch follows the IMU's specific force X), the bench
writes IMU frames at 400 Hz and steps the specific force, then times the first ACS_Cmd frame
that reacts. The bench's share (stimulus due until the frame is on the line) and the FC's
share (until its reacting command is received) are recorded apart, with limits.
"""

from __future__ import annotations

from collections.abc import Callable

from procedures._common import CheckFailed, teardown

from hil.bench.latency import LatencyReport, measure_latency
from hil.cards import Card, StepContext, action, measurement

TRIALS = 30


def measure(ctx: StepContext) -> None:
    report = measure_latency(ctx.bench, trials=TRIALS)
    ctx.state["latency"] = report
    for name, p50, p99, top in report.rows():
        ctx.log(f"{name}: p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {top:.2f} ms")
    ctx.log(f"{len(report.trials)} steps measured, {report.lost} without a reaction in 1 s")
    ctx.record("steps_measured", len(report.trials), "")


def _report(ctx: StepContext) -> LatencyReport:
    report = ctx.state.get("latency")
    if not isinstance(report, LatencyReport) or not report.trials:
        raise CheckFailed("no latency measured: step 1 did not complete")
    return report


def percentile(share: str, which: int) -> Callable[[StepContext], float]:
    def value(ctx: StepContext) -> float:
        return _report(ctx).percentiles_ms(share)[which]

    value.__name__ = f"{share}_latency_{('p50', 'p99', 'max')[which]}_ms"
    return value


def lost_steps(ctx: StepContext) -> float:
    report = ctx.state.get("latency")
    if not isinstance(report, LatencyReport):
        raise CheckFailed("no latency measured: step 1 did not complete")
    return float(report.lost)


CARD = Card(
    number="LL-31-60-00-760-801",
    revision="A",
    title="Closed-loop transport delay: IMU step to FC thrust-direction command",
    effectivity=("HR-M3",),
    timing_limits=True,
    interval="After FC software load; after any bench computer, adapter or harness change; "
    "before every descent campaign",
    equipment=(
        "HIL bench with the flight computer under test (real time)",
        "IMU line W102 and CAN harness W103 as for flight",
    ),
    cautions=(
        "The FC is armed in its imu_echo test mode for about 10 s: the engine is not fired "
        "(TEST_THROTTLE_PCT stays 0) but the thrust direction moves. Keep clear of the "
        "actuators.",
    ),
    notes=(
        "The FC sends ACS_Cmd every 20 ms, so its share includes up to one command period; a "
        "FC that reacts at its next command has a p50 near 10 ms and a p99 near 20 ms.",
        "Limits: total p99 <= 50 ms (2.5 command periods), bench share p99 <= 5 ms.",
    ),
    roles=("flight_computer", "imu"),
    steps=(
        action(
            1,
            f"Arm the FC in TEST_MODE imu_echo and measure {TRIALS} IMU steps of specific "
            "force X (0 -> 5 m/s^2) until the first ACS_Cmd whose pitch reacts. Record the "
            "shares.",
            run=measure,
        ),
        measurement(
            2,
            "Record the p99 delay from the IMU step to the FC's reacting command.",
            name="loop_latency_p99",
            unit="ms",
            high=50.0,
            marginal=10.0,
            measure=percentile("total", 1),
            on_fail="continue",
        ),
        measurement(
            3,
            "Record the p50 delay from the IMU step to the FC's reacting command.",
            name="loop_latency_p50",
            unit="ms",
            high=30.0,
            marginal=5.0,
            measure=percentile("total", 0),
            on_fail="continue",
        ),
        measurement(
            4,
            "Record the p99 of the bench's share (step due until the frame is written).",
            name="bench_share_p99",
            unit="ms",
            high=5.0,
            marginal=1.0,
            measure=percentile("bench", 1),
            on_fail="continue",
        ),
        measurement(
            5,
            "Verify every step got a reaction within 1 s.",
            name="steps_without_reaction",
            unit="steps",
            high=0.0,
            measure=lost_steps,
            on_fail="continue",
        ),
    ),
    teardown=teardown(),
)
