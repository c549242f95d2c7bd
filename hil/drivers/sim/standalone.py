"""The simulated flight computer as a device of its own, outside any bench process.

``hil device fc --config FILE`` runs it on its wall clock, as a real FC would run: its
maintenance port and IMU line on serial (pseudo-terminals it creates and reports, or ports
given by path or pyserial URL, so it can run on a second computer with USB-serial adapters)
and its CAN on any python-can interface. A device file is TOML::

    [device]
    serial_number = "SIM-FC-0001"
    processing_delay_s = 0.0              # a slower FC: its test modes see inputs this late

    [realtime]                            # optional; see hil.core.realtime
    gc = "gen0"                           # the collector after start-up (default gen0)
    cpus = [1]                            # CPUs it may run on (default: all)
    fifo_priority = 10                    # SCHED_FIFO when permitted (default 10, 0: normal)

    [can]
    interface = "remote"                  # any python-can interface
    channel = "ws://127.0.0.1:54701/"
    bitrate = 1000000
    # database = "lander.dbc"             # default: the ICD's database

    [maintenance]
    url = "pty"                           # or "/dev/ttyUSB0", any pyserial URL
    baudrate = 115200
    link = "/tmp/hil-fc/maintenance"      # a pty's bench end also appears at this path

    [imu]
    url = "pty"
    baudrate = 921600
    link = "/tmp/hil-fc/imu"

The loader is as strict as the bench's: an unknown or missing key is one line naming the file,
table and key. ``run_device`` opens the FC, reports where the bench finds it, serves until
asked to stop, and closes everything (links, threads, the paths it made).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hil.core.clock import WallClock
from hil.core.config import CanConfig, TomlTable, parse_realtime, read_toml
from hil.core.realtime import RealtimeOptions, apply_gc, apply_scheduling
from hil.core.stalls import trace_from_environment
from hil.drivers.sim.fc_device import SerialPorts, SimulatedFlightComputer
from hil.errors import ConfigError
from hil.protocol.icd import ICD_DATABASE

log = logging.getLogger("hil.device.fc")

DEVICE_REALTIME = RealtimeOptions(gc="gen0", cpus=(), fifo_priority=10)
"""The device's defaults (docs/architecture.md, "Stalls of the real-time processes")."""

SWITCH_INTERVAL_S = 0.0005
"""The device's interpreter thread switch interval, s (Python's default is 5 ms)."""

PTY = "pty"
"""The ``url`` that asks the device for a pseudo-terminal pair."""


@dataclass(frozen=True)
class LineConfig:
    """One serial line of the device: a pty (``url = "pty"``) or a port, and for a pty the
    path where its bench end also appears (``link``)."""

    url: str
    baudrate: int
    link: Path | None


@dataclass(frozen=True)
class FcDeviceConfig:
    path: Path
    serial_number: str
    can: CanConfig
    maintenance: LineConfig
    imu: LineConfig
    processing_delay_s: float = 0.0
    realtime: RealtimeOptions = DEVICE_REALTIME

    @property
    def ports(self) -> SerialPorts:
        return SerialPorts(
            maintenance_url=None if self.maintenance.url == PTY else self.maintenance.url,
            maintenance_baudrate=self.maintenance.baudrate,
            imu_url=None if self.imu.url == PTY else self.imu.url,
            imu_baudrate=self.imu.baudrate,
        )


def load_device(path: str | Path) -> FcDeviceConfig:
    """Read a device file. Raises ``ConfigError`` naming the file, table and key at fault."""
    path = Path(path)
    top = TomlTable(path, "", read_toml(path, "device"))
    device = top.require("device")
    serial_number = device.get("serial_number", str, "SIM-FC-0001")
    processing_delay_s = device.get("processing_delay_s", float, 0.0)
    if not processing_delay_s >= 0.0:
        raise device.error("processing_delay_s", f"must be >= 0 s, not {processing_delay_s!r}")
    device.finish()
    can_table = top.require("can")
    database_text = can_table.get("database", str, "")
    database = Path(database_text) if database_text else ICD_DATABASE
    if not database.is_absolute():
        database = (path.parent / database).resolve()
    if not database.is_file():
        raise can_table.error("database", f"file not found: {database}")
    can = CanConfig(
        interface=can_table.get("interface", str),
        channel=can_table.get("channel", str),
        bitrate=can_table.get("bitrate", int, 1_000_000),
        database=database,
    )
    can_table.finish()
    maintenance = _line(top.require("maintenance"), path, 115_200)
    imu = _line(top.require("imu"), path, 921_600)
    realtime = parse_realtime(top.table("realtime", required=False), DEVICE_REALTIME)
    top.finish()
    return FcDeviceConfig(path, serial_number, can, maintenance, imu, processing_delay_s, realtime)


def _line(table: TomlTable, path: Path, baudrate: int) -> LineConfig:
    url = table.get("url", str)
    link_text = table.get("link", str, "")
    link = Path(link_text) if link_text else None
    if link is not None and url != PTY:
        raise table.error("link", f"only a pty line gets a link (url is {url!r})")
    if link is not None and not link.is_absolute():
        link = (path.parent / link).resolve()
    line = LineConfig(url, table.get("baudrate", int, baudrate), link)
    table.finish()
    return line


def run_device(
    config: FcDeviceConfig,
    stop: threading.Event,
    ready: Callable[[dict[str, str]], None] | None = None,
) -> SimulatedFlightComputer:
    """Open the FC, call ``ready`` with where the bench finds it, serve until ``stop`` is
    set, close. Returns the closed device (its counters stay readable).

    Raises ``LinkError`` naming the port or CAN interface that cannot be opened, and
    ``ConfigError`` when a link path is taken by something that is not a link.
    """
    device = SimulatedFlightComputer(
        config.can,
        WallClock(),
        serial_number=config.serial_number,
        ports=config.ports,
        processing_delay_s=config.processing_delay_s,
    )
    made: list[Path] = []
    trace_from_environment("fc")
    # before its threads start, which inherit the affinity and policy
    apply_scheduling(config.realtime, "FC device")
    try:
        device.open(free_running=True)
        # what exists now leaves the collector's view: a full collection of the whole heap
        # stalls every thread of the FC for tens of ms
        apply_gc(config.realtime, "FC device")
        # as in the bench loop: a thread due to send waits for the interpreter at most this
        # long behind one that computes (the 5 ms default put periodic frames 1-5 ms late)
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        places = {
            "maintenance": device.maintenance_url,
            "imu": device.imu_url,
            "can": f"{config.can.interface} {config.can.channel}",
        }
        for name, line, target in (
            ("maintenance", config.maintenance, device.maintenance_url),
            ("imu", config.imu, device.imu_url),
        ):
            if line.link is not None:
                _link(line.link, target)
                made.append(line.link)
                places[f"{name}_link"] = str(line.link)
        log.info(
            "FC %s up: maintenance port %s, IMU line %s, CAN %s",
            config.serial_number,
            device.maintenance_url,
            device.imu_url,
            places["can"],
        )
        if ready is not None:
            ready(places)
        while not stop.wait(1.0):
            for error in device.thread_errors:
                log.error("FC thread failed: %s", error)
            device.thread_errors.clear()
        log.info("FC %s stopping", config.serial_number)
    finally:
        device.close()
        for link in made:
            if link.is_symlink():
                link.unlink()
    log.info(
        "FC %s stopped: %d commands, %d IMU frames (%d bad), %d LRF frames, %d VEL frames",
        config.serial_number,
        device.counters.commands,
        device.counters.imu_frames,
        device.counters.imu_bad_frames,
        device.counters.lrf_frames,
        device.counters.vel_frames,
    )
    return device


def _link(path: Path, target: str) -> None:
    """Make ``path`` a symbolic link to ``target`` (replacing an old link, never a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():
        path.unlink()
    elif path.exists():
        raise ConfigError(f"{path}: exists and is not a link; the FC will not replace it")
    os.symlink(target, path)
