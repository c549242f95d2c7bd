"""Simulated backend of the FlightComputer role: the wire driver, on the simulated FC's links."""

from __future__ import annotations

from hil.drivers.flight_computer import WireFlightComputer
from hil.drivers.sim.fc_device import SimulatedFlightComputer


class SimFlightComputer(WireFlightComputer):
    """Talks to the simulated flight computer exactly as to hardware: pty + CAN bus."""

    baudrate = 115_200

    @property
    def device(self) -> SimulatedFlightComputer:
        """The simulated FC on the far end (for the executive's lockstep stepping)."""
        return self.context.sim().flight_computer

    def _port(self) -> tuple[str, int]:
        return self.device.maintenance_url, self.baudrate

    def describe_link(self) -> str:
        return "simulated FC: " + super().describe_link()
