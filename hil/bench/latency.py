"""The loop's transport delay, measured end to end: a sensor step until the FC's first command
that reacts, over the real links (``hil bench latency``, card LL-31-60-00-760-801).

With the FC in its ``imu_echo`` test mode (``TEST_MODE``: while ARMED its ACS_Cmd pitch, deg,
follows the IMU's specific force X, m/s^2) the bench writes IMU frames itself at 400 Hz and,
at a due instant, steps the specific force X. Each trial records three times on the bench's
clock:

* ``due``: the 400 Hz instant the step was due;
* ``written``: when the frame carrying it had been written to the IMU line (the bench's
  share: its scheduling and the write);
* ``reacted``: when the first ``ACS_Cmd`` frame whose pitch reacts was received (the FC's
  share, including its command period of 20 ms, the links both ways and the bench's CAN
  reception).

A trial whose reaction never comes within ``timeout_s`` is counted as lost, not averaged.
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass, field

import numpy as np

from hil.bench.assembly import Bench
from hil.core.signals import SignalStore
from hil.drivers.roles import LUNAR_SURFACE_SAMPLE, RangeStimulus
from hil.drivers.velocimeter_role import VelocityStimulus
from hil.errors import DeviceTimeout, ProtocolError

log = logging.getLogger(__name__)

IMU_PERIOD_S = 0.0025
"""The bench writes IMU frames at 400 Hz (the ICD rate) while it measures."""
STEP_MPS2 = 5.0
"""The stimulus: specific force X steps from 0 to this, and back (the pitch follows 1:1)."""


@dataclass(frozen=True)
class LatencyTrial:
    due_s: float
    written_s: float
    reacted_s: float

    @property
    def bench_s(self) -> float:
        return self.written_s - self.due_s

    @property
    def fc_s(self) -> float:
        return self.reacted_s - self.written_s

    @property
    def total_s(self) -> float:
        return self.reacted_s - self.due_s


@dataclass
class LatencyReport:
    """The trials of one measurement and what became of the others."""

    trials: list[LatencyTrial] = field(default_factory=list)
    lost: int = 0
    """Steps the FC never reacted to within the timeout."""

    def percentiles_ms(self, share: str) -> tuple[float, float, float]:
        """p50, p99 and max of ``share`` (``total``, ``bench`` or ``fc``), ms (NaN if none)."""
        if not self.trials:
            return (math.nan, math.nan, math.nan)
        values = np.array([getattr(trial, f"{share}_s") for trial in self.trials]) * 1000.0
        return (
            float(np.percentile(values, 50)),
            float(np.percentile(values, 99)),
            float(values.max()),
        )

    def rows(self) -> list[tuple[str, float, float, float]]:
        """(share, p50 ms, p99 ms, max ms) for the total and each share."""
        names = {"total": "stimulus due -> FC reaction", "bench": "bench share", "fc": "FC share"}
        return [(names[share], *self.percentiles_ms(share)) for share in ("total", "bench", "fc")]


def measure_latency(
    bench: Bench, trials: int = 30, timeout_s: float = 1.0, seed: int = 0
) -> LatencyReport:
    """Measure ``trials`` sensor steps through the FC on an open, real-time bench.

    Brings the FC to STANDBY, runs its BIT with the emulators streaming, arms it in the
    ``imu_echo`` test mode, measures, and leaves it SAFE with ``TEST_MODE`` off. Raises
    ``ProtocolError`` when the BIT fails or the FC has no such test mode.
    """
    if bench.lockstep:
        raise ProtocolError("latency is measured in real time: open the bench on the wall clock")
    fc = bench.flight_computer
    fc.safe()
    fc.set_mode("STANDBY")
    bench.imu.stimulus = LUNAR_SURFACE_SAMPLE
    bench.range_finder.stimulus = RangeStimulus(1500.0, valid=True, signal_strength_pct=90.0)
    bench.imu.start_stream(bench.imu.rate_hz)
    bench.range_finder.start_stream(bench.range_finder.rate_hz)
    bench.velocimeter.stimulus = VelocityStimulus((0.0, 0.0, 0.0), valid=True)
    bench.velocimeter.start_stream(bench.velocimeter.rate_hz)
    bench.engine.start_stream(bench.engine.rate_hz)
    report = LatencyReport()
    try:
        _passing_bit(bench)
        bench.imu.stop_stream()  # from here the bench writes each IMU frame on time itself
        fc.set_param("TEST_MODE", "imu_echo")
        fc.arm()
        _steps(bench, trials, timeout_s, random.Random(seed), report)
    finally:
        bench.imu.stop_stream()
        bench.range_finder.stop_stream()
        bench.velocimeter.stop_stream()
        bench.engine.stop_stream()
        try:
            fc.safe()
            fc.set_param("TEST_MODE", "off")
        except (ProtocolError, DeviceTimeout):
            pass  # the FC is gone: the error that got us here says why
    return report


BIT_ATTEMPTS = 3
"""BITs run before giving up: the FC judges the IMU's rate over its last second, so a stall of
the bench's own IMU stream (a busy machine) fails one BIT that the next one passes; an FC
whose input is really dead fails them all."""


def _passing_bit(bench: Bench) -> None:
    """Run the FC's BIT once the FC sees every input at full rate; raises ``ProtocolError``
    naming the failed items when ``BIT_ATTEMPTS`` BITs all fail."""
    failed: list[str] = []
    for _ in range(BIT_ATTEMPTS):
        _wait_for_full_imu_rate(bench)
        for flag in ("ImuOk", "LrfOk", "EngineOk"):  # every input alive, as BIT will judge
            bench.signals.wait_for(f"FC_Heartbeat.{flag}", lambda ok: ok >= 0.5, 5.0)
        bit = bench.flight_computer.run_bit()
        if bit.passed:
            return
        failed = list(bit.failed_items)
        log.info("BIT failed (%s): waiting for full input rates and running it again", failed)
    raise ProtocolError(f"BIT failed ({', '.join(failed)}) {BIT_ATTEMPTS} times: cannot arm")


def _wait_for_full_imu_rate(bench: Bench, timeout_s: float = 5.0) -> None:
    """Let the FC see a second of IMU frames at the full rate (its BIT measures that)."""
    clock = bench.clock
    deadline_s = clock.now_s() + timeout_s
    while clock.now_s() < deadline_s:
        if float(bench.flight_computer.status()["IMU_RATE_HZ"]) >= 0.95 * bench.imu.rate_hz:
            return
        clock.sleep_until(clock.now_s() + 0.1)


def _steps(
    bench: Bench, trials: int, timeout_s: float, rng: random.Random, report: LatencyReport
) -> None:
    clock = bench.clock
    imu = bench.imu
    signals = bench.signals
    threshold = STEP_MPS2 / 2.0
    rest = np.array([LUNAR_SURFACE_SAMPLE.specific_force_mps2])
    stepped = rest.copy()
    stepped[0, 0] = STEP_MPS2
    rate = np.zeros((1, 3))
    tick_s = clock.now_s()

    def write(force: np.ndarray) -> float:
        """Write one frame at the next 400 Hz instant; returns that instant."""
        nonlocal tick_s
        tick_s += IMU_PERIOD_S
        clock.sleep_until(tick_s)
        imu.send_samples(np.array([tick_s]), force, rate)
        return tick_s

    def settle(force: np.ndarray, wanted: bool, duration_s: float) -> None:
        """Keep writing ``force`` for ``duration_s`` and until the pitch is (not) up."""
        end_s = tick_s + duration_s
        give_up_s = end_s + timeout_s
        while tick_s < end_s or (_pitch_up(signals, threshold) != wanted and tick_s < give_up_s):
            write(force)

    for _ in range(trials):
        settle(rest, wanted=False, duration_s=rng.uniform(0.1, 0.2))
        due_s = write(stepped)
        written_s = clock.now_s()
        reacted_s = math.nan
        while clock.now_s() < written_s + timeout_s:
            sample = signals.latest("ACS_Cmd.ThrustPitch")
            if sample is not None and sample.timestamp_s >= written_s and sample.value > threshold:
                reacted_s = sample.timestamp_s
                break
            write(stepped)
        if math.isnan(reacted_s):
            report.lost += 1
        else:
            report.trials.append(LatencyTrial(due_s, written_s, reacted_s))
    settle(rest, wanted=False, duration_s=0.05)


def _pitch_up(signals: SignalStore, threshold: float) -> bool:
    sample = signals.latest("ACS_Cmd.ThrustPitch")
    return sample is not None and sample.value > threshold
