"""Bench configuration: which backend serves each device role, and over which links.

A bench file is TOML (``benches/*.toml`` in the package data or a workspace)::

    [bench]
    name = "sim"
    description = "everything simulated, in one process"

    [can]
    interface = "virtual"        # any python-can interface: socketcan, pcan, kvaser, ...
    channel = "hil-sim"
    bitrate = 1000000
    database = "../can/lander.dbc"   # relative to this file

    [devices.flight_computer]
    backend = "sim"
    [devices.flight_computer.serial]   # the FC maintenance port (wire backends)
    url = "/dev/ttyUSB0"
    baudrate = 115200
    [devices.flight_computer.options]  # backend-specific, checked by the backend

The loader is strict: an unknown key, a missing key or a value of the wrong type is a
``ConfigError`` that names the file, the table and the key. Parsed configuration is a tree of
frozen dataclasses; nothing reads TOML after this module.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from hil.core.paths import resolve_named
from hil.core.realtime import GC_MODES, RealtimeOptions
from hil.errors import ConfigError

ROLES = ("flight_computer", "imu", "range_finder", "velocimeter", "engine")
"""Every device role a bench may have, in the order the bench opens them."""

SERIAL_ROLES = ("flight_computer", "imu")
"""Roles that may have a serial port (the FC maintenance port, the IMU line). Whether a
backend needs one is the backend's to say (``Device.needs_serial_port``)."""


@dataclass(frozen=True)
class CanConfig:
    interface: str
    channel: str
    bitrate: int
    database: Path


@dataclass(frozen=True)
class SerialConfig:
    url: str
    baudrate: int


@dataclass(frozen=True)
class DeviceConfig:
    role: str
    backend: str
    serial: SerialConfig | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


BENCH_REALTIME = RealtimeOptions(gc="gen0", cpus=(), fifo_priority=10)
"""The bench loop's defaults: only the youngest generation collected, SCHED_FIFO 10 when
permitted (docs/architecture.md, "Stalls of the real-time processes")."""


@dataclass(frozen=True)
class BenchConfig:
    name: str
    description: str
    path: Path
    can: CanConfig
    devices: Mapping[str, DeviceConfig]
    realtime: RealtimeOptions = BENCH_REALTIME
    """What the bench's real-time loop asks of the platform (``[realtime]``)."""


T = TypeVar("T")


class TomlTable:
    """A TOML table being read: every access is checked, every unread key is an error."""

    def __init__(self, path: Path, where: str, data: Mapping[str, Any]) -> None:
        self.path = path
        self.where = where
        self.data = data
        self._read: set[str] = set()

    def error(self, key: str, problem: str) -> ConfigError:
        location = f"[{self.where}] {key}" if self.where else key
        return ConfigError(f"{self.path}: {location}: {problem}")

    def get(self, key: str, kind: type[T], default: T | None = None) -> T:
        self._read.add(key)
        if key not in self.data:
            if default is None:
                raise self.error(key, "missing")
            return default
        value = self.data[key]
        # TOML integers are acceptable where a float is wanted; bools are never numbers.
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.error(key, f"expected {kind.__name__}, got {type(value).__name__} {value!r}")
        return value

    def table(self, key: str, required: bool = True) -> TomlTable | None:
        self._read.add(key)
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.error(key, "missing table")
            return None
        if not isinstance(value, dict):
            raise self.error(key, f"expected a table, got {type(value).__name__}")
        return TomlTable(self.path, f"{self.where}.{key}" if self.where else key, value)

    def require(self, key: str) -> TomlTable:
        """The sub-table ``key``; missing is an error naming it."""
        table = self.table(key)
        assert table is not None
        return table

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self._read)
        if unknown:
            raise self.error(
                unknown[0], "unknown key" + (f" (also {unknown[1:]})" if unknown[1:] else "")
            )


def read_toml(path: Path, kind: str) -> dict[str, Any]:
    """Parse a TOML file; a missing file or bad TOML is a one-line ``ConfigError``."""
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except FileNotFoundError as err:
        raise ConfigError(f"{path}: {kind} file not found") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from err


def load_bench(path: str | Path) -> BenchConfig:
    """Read a bench file, by path or by name in ``benches/`` of the workspace or the package
    (``sim``). Raises ``ConfigError`` naming the file, table and key at fault."""
    path = resolve_named(path, "benches", ".toml")
    return parse_bench(read_toml(path, "bench"), path)


def parse_bench(data: Mapping[str, Any], path: Path) -> BenchConfig:
    """Build a ``BenchConfig`` from parsed TOML; relative paths resolve against ``path``."""
    top = TomlTable(path, "", data)
    bench = top.require("bench")
    name = bench.get("name", str)
    description = bench.get("description", str, "")
    bench.finish()

    can_table = top.require("can")
    database = Path(can_table.get("database", str))
    if not database.is_absolute():
        database = (path.parent / database).resolve()
    can = CanConfig(
        interface=can_table.get("interface", str),
        channel=can_table.get("channel", str),
        bitrate=can_table.get("bitrate", int),
        database=database,
    )
    if not can.database.is_file():
        raise can_table.error("database", f"file not found: {can.database}")
    can_table.finish()

    devices_table = top.require("devices")
    devices: dict[str, DeviceConfig] = {}
    for role in devices_table.data:
        if role not in ROLES:
            raise devices_table.error(role, f"unknown device role (roles: {', '.join(ROLES)})")
        devices[role] = _parse_device(role, devices_table.require(role))
    missing = [role for role in ROLES if role not in devices]
    if missing:
        raise devices_table.error(missing[0], "missing device role")
    devices_table.finish()
    realtime = parse_realtime(top.table("realtime", required=False), BENCH_REALTIME)
    top.finish()
    return BenchConfig(name, description, path, can, MappingProxyType(devices), realtime)


def _parse_device(role: str, table: TomlTable) -> DeviceConfig:
    backend = table.get("backend", str)
    serial: SerialConfig | None = None
    serial_table = table.table("serial", required=False)
    if serial_table is not None:
        if role not in SERIAL_ROLES:
            raise table.error("serial", f"role {role} talks CAN only; it has no serial port")
        serial = SerialConfig(
            url=serial_table.get("url", str), baudrate=serial_table.get("baudrate", int)
        )
        serial_table.finish()
    options_table = table.table("options", required=False)
    options = MappingProxyType(dict(options_table.data)) if options_table is not None else None
    table.finish()
    return DeviceConfig(
        role, backend, serial, options if options is not None else MappingProxyType({})
    )


def parse_options(device: DeviceConfig, schema: type[T], path: Path) -> T:
    """Check a device's ``options`` table against a backend's dataclass of options.

    Unknown keys and wrong types raise ``ConfigError`` naming file, table and key.
    """
    import dataclasses

    if not dataclasses.is_dataclass(schema):
        raise TypeError(f"{schema!r} is not a dataclass")
    table = TomlTable(path, f"devices.{device.role}.options", device.options)
    values: dict[str, Any] = {}
    for item in dataclasses.fields(schema):
        if item.name in device.options:
            kind = item.type if isinstance(item.type, type) else _builtin(str(item.type))
            values[item.name] = table.get(item.name, kind)
    table.finish()
    return schema(**values)


def _builtin(name: str) -> type:
    return {"str": str, "int": int, "float": float, "bool": bool}.get(name, object)


def parse_realtime(table: TomlTable | None, default: RealtimeOptions) -> RealtimeOptions:
    """The ``[realtime]`` table (None: absent, ``default``). Raises ``ConfigError``."""
    if table is None:
        return default
    mode = table.get("gc", str, default.gc)
    if mode not in GC_MODES:
        raise table.error("gc", f"must be one of {', '.join(GC_MODES)}, not {mode!r}")
    cpus_value = table.get("cpus", list, list(default.cpus))
    available = os.cpu_count() or 1
    for cpu in cpus_value:
        if not isinstance(cpu, int) or isinstance(cpu, bool) or not 0 <= cpu < available:
            raise table.error("cpus", f"CPU numbers 0-{available - 1}, not {cpu!r}")
    priority = table.get("fifo_priority", int, default.fifo_priority)
    if not 0 <= priority <= 99:
        raise table.error("fifo_priority", f"must be 0 (normal) or 1-99, not {priority!r}")
    table.finish()
    return RealtimeOptions(mode, tuple(cpus_value), priority)
