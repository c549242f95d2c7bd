"""The bench: one CAN link, one device per role, built from a bench configuration.

``Bench`` is the only place that turns configuration into objects: it opens the bench's CAN
node, asks the registry for each role's backend class and opens the devices in order. The
executive, procedures and the GUI are handed a bench; they never build drivers themselves.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from hil.core.clock import Clock, WallClock
from hil.core.config import ROLES, BenchConfig
from hil.core.signals import SignalStore
from hil.drivers.can import CanLink, load_database
from hil.drivers.registry import backend_class
from hil.drivers.roles import Device, DeviceContext, Engine, FlightComputer, Imu, RangeFinder
from hil.errors import ConfigError

if TYPE_CHECKING:
    from hil.drivers.sim.harness import SimHarness

log = logging.getLogger("hil.bench")


class Bench:
    """Every device of one bench. A context manager; closing twice is harmless.

    ``clock`` decides how the simulated devices run: a ``WallClock`` (default) lets them
    free-run in real time; a ``SimulatedClock`` makes them wait for the executive (lockstep).
    ``can_log_path`` records all bus traffic to a BLF file.
    """

    def __init__(
        self,
        config: BenchConfig,
        clock: Clock | None = None,
        signals: SignalStore | None = None,
        can_log_path: Path | None = None,
    ) -> None:
        self.config = config
        self.clock = clock or WallClock()
        self.signals = signals or SignalStore()
        self.can = CanLink(
            interface=config.can.interface,
            channel=config.can.channel,
            bitrate=config.can.bitrate,
            database=load_database(config.can.database),
            signals=self.signals,
            clock=self.clock,
            name="bench",
            threaded=not self.clock.is_simulated,
            log_path=can_log_path,
        )
        self._harness: SimHarness | None = None
        self.context = DeviceContext(config, self.signals, self.clock, self.can, self.sim)
        self.devices: dict[str, Device] = {}
        for role in ROLES:
            device_config = config.devices[role]
            cls = backend_class(role, device_config.backend)
            self.devices[role] = cls(device_config, self.context)
        self._closed = False

    def sim(self) -> SimHarness:
        """The simulated devices of this bench, created and opened on first use."""
        if self._harness is None:
            backend = self.config.devices["flight_computer"].backend
            if backend != "sim":
                raise ConfigError(
                    f"{self.config.path}: simulated devices need [devices.flight_computer] "
                    f"backend 'sim' (it has {backend!r})"
                )
            from hil.drivers.sim.harness import SimHarness

            self._harness = SimHarness(self.config, self.clock).open()
        return self._harness

    @property
    def harness(self) -> SimHarness | None:
        """The simulated devices, if any backend asked for them."""
        return self._harness

    def open(self) -> Self:
        try:
            self.can.open()
            for device in self.devices.values():
                device.open()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        errors: list[BaseException] = []
        for device in reversed(list(self.devices.values())):
            try:
                device.close()
            except Exception as err:  # close everything; report the first failure after
                log.exception("closing %s failed", device.role)
                errors.append(err)
        if self._harness is not None:
            self._harness.close()
        self.can.close()
        if errors:
            raise errors[0]

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _role(self, role: str, kind: type) -> Any:
        device = self.devices[role]
        if not isinstance(device, kind):
            raise ConfigError(f"backend for {role} is not a {kind.__name__}")
        return device

    @property
    def flight_computer(self) -> FlightComputer:
        return self._role("flight_computer", FlightComputer)

    @property
    def imu(self) -> Imu:
        return self._role("imu", Imu)

    @property
    def range_finder(self) -> RangeFinder:
        return self._role("range_finder", RangeFinder)

    @property
    def engine(self) -> Engine:
        return self._role("engine", Engine)
