"""The simulated devices of one bench, created once and shared by the simulated backends.

The harness owns the simulated flight computer (the far end of every link). Simulated role
backends get their link ends from it: the maintenance port and IMU line are pty slave paths,
the CAN bus is the bench's configured channel. With a wall clock the FC free-runs in its own
threads; with a simulated clock it waits for the executive to step it (lockstep).
"""

from __future__ import annotations

from hil.core.clock import Clock
from hil.core.config import BenchConfig
from hil.drivers.sim.fc_device import SimulatedFlightComputer


class SimHarness:
    """Simulated devices behind a bench. A context manager; closing twice is harmless."""

    def __init__(self, bench: BenchConfig, clock: Clock) -> None:
        self.bench = bench
        self.clock = clock
        self.flight_computer = SimulatedFlightComputer(bench.can, clock)
        self._open = False
        self._closed = False

    @property
    def lockstep(self) -> bool:
        return self.clock.is_simulated

    def open(self) -> SimHarness:
        if not self._open:
            self.flight_computer.open(free_running=not self.lockstep)
            self._open = True
        return self

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.flight_computer.close()

    def __enter__(self) -> SimHarness:
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()
