"""The simulated devices of one bench, created once and shared by the simulated backends.

The harness owns the simulated flight computer (the far end of every link). Simulated role
backends get their link ends from it: the maintenance port and IMU line are pty slave paths,
the CAN bus is the bench's configured channel. With a wall clock the FC free-runs in its own
threads; with a simulated clock it waits for the executive to step it (lockstep), and the
harness carries the lockstep handshake: before it steps, the FC reads its IMU line up to the
last frame the bench's IMU emulator put on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from hil.core.clock import Clock
from hil.core.config import BenchConfig, parse_options
from hil.drivers.roles import DeviceContext, Imu
from hil.drivers.sim.fc_device import SimulatedFlightComputer
from hil.errors import ConfigError


@dataclass(frozen=True)
class SimFcOptions:
    """``[devices.flight_computer.options]`` of a simulated FC."""

    processing_delay_s: float = 0.0
    """How late the FC's test modes see their inputs, s (a slower FC; see hil bench latency)."""


SHARED_KEY = "hil.drivers.sim.harness"
"""Under this key the bench keeps its one harness (``DeviceContext.shared``)."""


class SimHarness:
    """Simulated devices behind a bench. A context manager; closing twice is harmless."""

    def __init__(self, bench: BenchConfig, clock: Clock) -> None:
        self.bench = bench
        self.clock = clock
        fc_config = bench.devices["flight_computer"]
        options = parse_options(fc_config, SimFcOptions, bench.path)
        if not options.processing_delay_s >= 0.0:
            raise ConfigError(
                f"{bench.path}: [devices.flight_computer.options] processing_delay_s: must be "
                f">= 0 s, not {options.processing_delay_s!r}"
            )
        self.flight_computer = SimulatedFlightComputer(
            bench.can, clock, processing_delay_s=options.processing_delay_s
        )
        self.imu_emulator: Imu | None = None
        """The bench's IMU emulator on the FC's IMU line, once it is open."""
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

    def step(self, now_s: float) -> None:
        """Lockstep: the FC reads the IMU frames written so far, then steps to ``now_s``."""
        device = self.flight_computer
        if self.imu_emulator is not None:
            device.read_imu_until(self.imu_emulator.last_written_sequence)
        device.step(now_s)

    def __enter__(self) -> SimHarness:
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def harness_of(context: DeviceContext) -> SimHarness:
    """The bench's simulated devices, created and opened on first use.

    Raises ``ConfigError`` when the bench's flight computer is not simulated: a simulated
    sensor has no device to attach to then.
    """
    if not context.flight_computer_class.simulated:
        backend = context.bench.devices["flight_computer"].backend
        raise ConfigError(
            f"{context.bench.path}: simulated devices need a simulated "
            f"[devices.flight_computer] backend (it has {backend!r})"
        )
    harness: SimHarness = context.shared(
        SHARED_KEY, lambda: SimHarness(context.bench, context.clock).open()
    )
    return harness
