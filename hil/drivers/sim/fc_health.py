"""What the simulated FC has received, and what it makes of it: counters, input health, BIT.

:class:`FcCounters` is what STATUS, BIT and the bench's checks read. An input is alive while
its last frame is younger than its limit (:data:`ALIVE_WITHIN_S`); the heartbeat reports the
same verdicts as the BIT's input items, so both read :func:`inputs_alive`. The BIT's items
are computed by :func:`bit_items`; running it (mode BIT and back) is the device's.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from hil.drivers.serial import ImuFrame
from hil.protocol.parameters import PARAMETERS

STREAM_RESTART_S = 0.05
"""IMU silence (the FC's IMU watchdog time) after which a frame with sequence 0 starts a new
stream, s."""


@dataclass
class FcCounters:
    """What the simulated FC has received, for STATUS, BIT and the bench's checks."""

    imu_frames: int = 0
    imu_bad_frames: int = 0
    imu_sequence_gaps: int = 0
    lrf_frames: int = 0
    vel_frames: int = 0
    vel_invalid_frames: int = 0
    """Velocimeter frames flagged invalid by the unit (no lock, out of its range)."""
    engine_status_frames: int = 0
    commands: int = 0
    bad_commands: int = 0
    last_imu_s: float = float("-inf")
    last_lrf_s: float = float("-inf")
    last_vel_s: float = float("-inf")
    last_engine_s: float = float("-inf")
    last_imu_sequence: int = -1
    imu_times_s: list[float] = field(default_factory=list)
    imu_recent: deque[tuple[float, ...]] = field(default_factory=lambda: deque(maxlen=2000))
    """The last IMU samples: specific force (3) and angular rate (3), for the IMU command."""
    lrf_last: dict[str, float] = field(default_factory=dict)
    vel_last: dict[str, float] = field(default_factory=dict)

    def count_imu(self, frames: Sequence[ImuFrame], now_s: float) -> None:
        """IMU frames received at ``now_s``: count them and their sequence gaps, keep their
        samples and arrival times (the last 1000). A stream that starts again at sequence 0
        after ``STREAM_RESTART_S`` of silence is a new stream (an IMU powered up again, a new
        bench session), not a gap."""
        if frames and frames[0].sequence == 0 and now_s - self.last_imu_s > STREAM_RESTART_S:
            self.last_imu_sequence = -1
        for frame in frames:
            if self.last_imu_sequence >= 0:
                expected = (self.last_imu_sequence + 1) & 0xFFFF
                self.imu_sequence_gaps += (frame.sequence - expected) & 0xFFFF
            self.last_imu_sequence = frame.sequence
        self.imu_frames += len(frames)
        if not frames:
            return
        self.last_imu_s = now_s
        self.imu_times_s.extend([now_s] * len(frames))
        del self.imu_times_s[:-1000]
        self.imu_recent.extend(
            (*frame.specific_force_mps2, *frame.angular_rate_radps) for frame in frames
        )

    def imu_rate_hz(self, now_s: float, window_s: float) -> float:
        """IMU frames per second received over the ``window_s`` before ``now_s``."""
        recent = [t for t in self.imu_times_s if t >= now_s - window_s]
        return len(recent) / window_s

    def count_lrf(self, slant_range_m: float, valid: float, strength: float, now_s: float) -> None:
        """An LRF_Range frame received at ``now_s``."""
        self.lrf_frames += 1
        self.last_lrf_s = now_s
        self.lrf_last = {"RANGE": slant_range_m, "VALID": valid, "STRENGTH": strength}

    def count_vel(
        self, velocity_mps: tuple[float, float, float], valid: bool, now_s: float
    ) -> None:
        """A VEL_Velocity frame received at ``now_s`` (body-axis velocity, m/s)."""
        self.vel_frames += 1
        self.vel_invalid_frames += not valid
        self.last_vel_s = now_s
        vx, vy, vz = velocity_mps
        self.vel_last = {"VX": vx, "VY": vy, "VZ": vz, "VALID": float(valid)}


ALIVE_WITHIN_S = {"IMU": 0.1, "LRF": 0.5, "VEL": 0.5, "ENGINE": 0.2}
"""An input is alive while its last frame is younger than this, s."""


def inputs_alive(counters: FcCounters, now_s: float) -> dict[str, bool]:
    """IMU, LRF, VEL and ENGINE: has each been heard from recently enough at ``now_s``?"""
    last_s = {
        "IMU": counters.last_imu_s,
        "LRF": counters.last_lrf_s,
        "VEL": counters.last_vel_s,
        "ENGINE": counters.last_engine_s,
    }
    return {name: now_s - last_s[name] < limit_s for name, limit_s in ALIVE_WITHIN_S.items()}


def bit_items(
    counters: FcCounters,
    now_s: float,
    *,
    imu_rate_hz: float,
    imu_bad_frames: int,
    can_malformed: int,
    parameters: Mapping[str, str | float],
) -> dict[str, bool]:
    """The built-in test's verdicts: every input alive (the IMU at its minimum rate, with no
    malformed frame), no malformed CAN traffic, the parameter table complete."""
    alive = inputs_alive(counters, now_s)
    minimum_imu_rate_hz = float(parameters["IMU_MIN_RATE_HZ"])
    return {
        "IMU": alive["IMU"] and imu_rate_hz >= minimum_imu_rate_hz and imu_bad_frames == 0,
        "LRF": alive["LRF"],
        "VEL": alive["VEL"],
        "ENGINE": alive["ENGINE"],
        "CAN": can_malformed == 0,
        "PARAMETERS": all(name in parameters for name in PARAMETERS),
    }
