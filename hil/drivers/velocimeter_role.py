"""The velocimeter role: the bench's Doppler radar / lidar velocimeter emulator.

It writes ``VEL_Velocity`` frames (10 Hz): the lander's velocity relative to the surface in
its body axes and a valid flag (docs/architecture.md §4). Kept beside :mod:`hil.drivers.roles`
(one abstract base per role) in a module of its own; the public methods own the argument
checks, a backend overrides ``_send``. Wire driver: :mod:`hil.drivers.velocimeter`; simulated
backend: :mod:`hil.drivers.sim.sensors`.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass

from hil.core.config import DeviceConfig
from hil.drivers.roles import DeviceContext, _StreamingDevice
from hil.protocol.icd import MESSAGE_PERIODS_S


@dataclass(frozen=True)
class VelocityStimulus:
    """What the free-running stream sends: a body-axis velocity (m/s) and its valid flag."""

    velocity_mps: tuple[float, float, float]
    valid: bool = True


class Velocimeter(_StreamingDevice):
    """The bench's velocimeter emulator: ``VEL_Velocity`` frames at 10 Hz."""

    role = "velocimeter"
    rate_hz = 1.0 / MESSAGE_PERIODS_S["VEL_Velocity"]
    max_speed_mps = 1310.0
    """Per axis: what the message can carry; beyond it the unit reports invalid."""

    def __init__(self, config: DeviceConfig, context: DeviceContext) -> None:
        super().__init__(config, context)
        self.stimulus = VelocityStimulus((0.0, 0.0, 0.0), valid=False)
        """What the free-running stream sends."""

    def send_velocity(self, velocity_mps: tuple[float, float, float], valid: bool) -> None:
        """Send one reading (body axes, m/s). A component beyond ``max_speed_mps`` or not
        finite makes the frame invalid with zeros, as a real unit out of its range; an invalid
        frame carries zeros."""
        ok = all(abs(v) <= self.max_speed_mps for v in velocity_mps)  # False for NaN
        valid = valid and ok
        vx, vy, vz = (round(v / 0.02) * 0.02 if valid else 0.0 for v in velocity_mps)
        self._send({"VelocityX": vx, "VelocityY": vy, "VelocityZ": vz, "Valid": int(valid)})

    def _tick(self, now_s: float) -> None:
        self.send_velocity(self.stimulus.velocity_mps, self.stimulus.valid)

    @abstractmethod
    def _send(self, signals: Mapping[str, float]) -> None: ...
