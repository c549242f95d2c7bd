"""Simulated backends of the sensor and engine roles.

They are the bench's emulators attached to the simulated flight computer: the IMU line is
the simulated FC's pty, the LRF and engine frames travel on the simulated bench's CAN bus.
Asking for one without the simulated FC in the bench is a configuration error (the bench's
``sim()`` refuses).
"""

from __future__ import annotations

from hil.drivers.engine import EngineEmulator
from hil.drivers.imu import ImuEmulator
from hil.drivers.lrf import LrfEmulator


class SimImu(ImuEmulator):
    baudrate = 921_600

    def _port(self) -> tuple[str, int]:
        return self.context.sim().flight_computer.imu_url, self.baudrate

    def describe_link(self) -> str:
        return "simulated FC IMU line: " + super().describe_link()


class SimRangeFinder(LrfEmulator):
    def _open(self) -> None:
        self.context.sim()

    def describe_link(self) -> str:
        return "simulated bench " + super().describe_link()


class SimEngine(EngineEmulator):
    def _open(self) -> None:
        self.context.sim()

    def describe_link(self) -> str:
        return "simulated bench " + super().describe_link()
