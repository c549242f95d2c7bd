"""The bench: one CAN link, one device per role, built from a bench configuration.

``Bench`` is the only place that turns configuration into objects: it opens the bench's CAN
node, asks the registry for each role's backend class and opens the devices in order. The
executive, procedures and the GUI are handed a bench; they never build drivers themselves.

What a bench can do is read from its backend classes' declared capabilities
(``Device.simulated``, ``Device.needs_serial_port``, ``Steppable``), never from their names:
a bench on a simulated clock (lockstep) needs every device simulated, and refuses otherwise
with one line naming the devices that cannot follow it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from hil.core.clock import Clock, WallClock
from hil.core.config import ROLES, BenchConfig
from hil.core.signals import SignalStore
from hil.drivers.can import CanLink, load_database
from hil.drivers.registry import backend_class
from hil.drivers.roles import (
    Device,
    DeviceContext,
    Engine,
    FlightComputer,
    Imu,
    RangeFinder,
    Steppable,
)
from hil.drivers.velocimeter_role import Velocimeter
from hil.errors import ConfigError

log = logging.getLogger("hil.bench")


def backend_classes(config: BenchConfig) -> dict[str, type[Device]]:
    """The backend class of every role of ``config``, in the order the bench opens them.

    Raises ``BackendNotFound`` for a backend nobody registered, and ``ConfigError`` naming
    the file and table when a backend that needs a serial port has no ``[serial]`` table.
    """
    classes: dict[str, type[Device]] = {}
    for role in ROLES:
        device = config.devices[role]
        cls = backend_class(role, device.backend)
        if cls.needs_serial_port and device.serial is None:
            raise ConfigError(
                f"{config.path}: [devices.{role}] serial: missing table: backend "
                f"{device.backend!r} needs a serial port"
            )
        classes[role] = cls
    return classes


def lockstep_refusal(config: BenchConfig) -> str | None:
    """Why ``config``'s bench cannot run on a simulated clock, or None when it can."""
    real = [
        f"{role}: {config.devices[role].backend}"
        for role, cls in backend_classes(config).items()
        if not cls.simulated
    ]
    if not real:
        return None
    return (
        f"{config.path}: bench {config.name!r} has hardware devices ({', '.join(real)}); "
        "lockstep needs simulated devices, fly it in real time"
    )


class Bench:
    """Every device of one bench. A context manager; closing twice is harmless.

    ``clock`` decides how the simulated devices run: a ``WallClock`` (default) lets them
    free-run in real time; a ``SimulatedClock`` makes them wait for the executive (lockstep),
    which only a bench of simulated devices can do (``ConfigError`` otherwise).
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
        classes = backend_classes(config)
        if self.clock.is_simulated:
            refusal = lockstep_refusal(config)
            if refusal is not None:
                raise ConfigError(refusal)
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
        self._shared: dict[str, Any] = {}
        self.context = DeviceContext(
            config,
            self.signals,
            self.clock,
            self.can,
            self._shared_object,
            classes["flight_computer"],
        )
        self.devices: dict[str, Device] = {
            role: cls(config.devices[role], self.context) for role, cls in classes.items()
        }
        self._closed = False

    def _shared_object(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self._shared:
            self._shared[key] = make()
        return self._shared[key]

    @property
    def lockstep(self) -> bool:
        """True when the bench runs on a simulated clock: its devices wait to be stepped."""
        return self.clock.is_simulated

    @property
    def steppers(self) -> list[Steppable]:
        """The devices the executive must step in lockstep, in the bench's role order."""
        return [device for device in self.devices.values() if isinstance(device, Steppable)]

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
        for key, shared in reversed(list(self._shared.items())):
            close = getattr(shared, "close", None)
            if close is None:
                continue
            try:
                close()
            except Exception as err:
                log.exception("closing %s failed", key)
                errors.append(err)
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
    def velocimeter(self) -> Velocimeter:
        return self._role("velocimeter", Velocimeter)

    @property
    def engine(self) -> Engine:
        return self._role("engine", Engine)
