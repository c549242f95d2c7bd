"""Wire driver for the IMU emulator: COBS/CRC-16 IMU frames on a serial line into the FC."""

from __future__ import annotations

from collections.abc import Sequence

from hil.drivers.roles import Imu
from hil.drivers.serial import ImuFrame, SerialLink
from hil.errors import ConfigError


class ImuEmulator(Imu):
    """Writes IMU frames on a serial port (RS-422 adapter, pty, ``socket://``, ...)."""

    needs_serial_port = True

    _link: SerialLink | None = None

    def _port(self) -> tuple[str, int]:
        if self.config.serial is None:
            raise ConfigError(f"{self.context.bench.path}: [devices.imu] needs a [serial] table")
        return self.config.serial.url, self.config.serial.baudrate

    def _open(self) -> None:
        url, baudrate = self._port()
        self._link = SerialLink(url, baudrate=baudrate, name="imu").open()

    def _close(self) -> None:
        if self._link is not None:
            self._link.close()

    def describe_link(self) -> str:
        url, baudrate = self._port()
        return f"{url} @ {baudrate} Bd"

    @property
    def link(self) -> SerialLink:
        """The serial link (for fault injection on the line)."""
        if self._link is None:
            raise ConfigError("IMU emulator is not open")
        return self._link

    def _write_frames(self, frames: Sequence[ImuFrame]) -> Sequence[bool]:
        return self.link.write_frames([frame.pack() for frame in frames])

    def statistics(self) -> dict[str, float]:
        if self._link is None:
            return {}
        stats = self._link.stats
        return {"frames_out": stats.frames_out, "bytes_out": stats.bytes_out}
