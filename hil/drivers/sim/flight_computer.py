"""Simulated backend of the FlightComputer role: the wire driver, on the simulated FC's links."""

from __future__ import annotations

from hil.drivers.flight_computer import WireFlightComputer
from hil.drivers.sim.fc_device import SimulatedFlightComputer
from hil.drivers.sim.harness import harness_of


class SimFlightComputer(WireFlightComputer):
    """Talks to the simulated flight computer exactly as to hardware: pty + CAN bus.

    In lockstep the executive steps it (``Steppable``): the simulated FC takes in the IMU
    frames the bench wrote and the CAN frames that arrived, and sends what is due.
    """

    simulated = True
    needs_serial_port = False
    baudrate = 115_200

    @property
    def device(self) -> SimulatedFlightComputer:
        """The simulated FC on the far end (for tests that inject a fault into it)."""
        return harness_of(self.context).flight_computer

    def step(self, now_s: float) -> None:
        harness_of(self.context).step(now_s)

    def _port(self) -> tuple[str, int]:
        return self.device.maintenance_url, self.baudrate

    def describe_link(self) -> str:
        return "simulated FC: " + super().describe_link()
