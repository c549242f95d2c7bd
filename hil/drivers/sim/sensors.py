"""Simulated backends of the sensor and engine roles.

They are the bench's emulators attached to the simulated flight computer: the IMU line is
the simulated FC's pty, the LRF, velocimeter and engine frames travel on the simulated bench's
CAN bus.
Asking for one without a simulated flight computer in the bench is a configuration error
(``harness_of`` refuses).
"""

from __future__ import annotations

from hil.drivers.engine import EngineEmulator
from hil.drivers.imu import ImuEmulator
from hil.drivers.lrf import LrfEmulator
from hil.drivers.sim.harness import harness_of
from hil.drivers.velocimeter import VelocimeterEmulator


class SimImu(ImuEmulator):
    simulated = True
    needs_serial_port = False
    baudrate = 921_600

    def _port(self) -> tuple[str, int]:
        return harness_of(self.context).flight_computer.imu_url, self.baudrate

    def _open(self) -> None:
        super()._open()
        harness_of(self.context).imu_emulator = self

    def describe_link(self) -> str:
        return "simulated FC IMU line: " + super().describe_link()


class SimRangeFinder(LrfEmulator):
    simulated = True

    def _open(self) -> None:
        harness_of(self.context)

    def describe_link(self) -> str:
        return "simulated bench " + super().describe_link()


class SimVelocimeter(VelocimeterEmulator):
    simulated = True

    def _open(self) -> None:
        harness_of(self.context)

    def describe_link(self) -> str:
        return "simulated bench " + super().describe_link()


class SimEngine(EngineEmulator):
    simulated = True

    def _open(self) -> None:
        harness_of(self.context)

    def describe_link(self) -> str:
        return "simulated bench " + super().describe_link()
