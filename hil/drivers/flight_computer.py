"""Wire driver for the flight computer: maintenance port over serial, telemetry over CAN."""

from __future__ import annotations

from collections.abc import Sequence

from hil.drivers.roles import FlightComputer
from hil.drivers.serial import SerialLink
from hil.errors import ConfigError, ProtocolError


class WireFlightComputer(FlightComputer):
    """A flight computer on a real (or emulated) serial port and the bench's CAN bus."""

    needs_serial_port = True

    _link: SerialLink | None = None

    def _port(self) -> tuple[str, int]:
        """URL and baud rate of the maintenance port."""
        if self.config.serial is None:
            raise ConfigError(
                f"{self.context.bench.path}: [devices.flight_computer] needs a [serial] table"
            )
        return self.config.serial.url, self.config.serial.baudrate

    def _open(self) -> None:
        url, baudrate = self._port()
        self._link = SerialLink(url, baudrate=baudrate, name="fc-maintenance").open()

    def _close(self) -> None:
        if self._link is not None:
            self._link.close()

    @property
    def link(self) -> SerialLink:
        if self._link is None:
            raise ConfigError("flight computer is not open")
        return self._link

    def describe_link(self) -> str:
        url, baudrate = self._port()
        return f"{url} @ {baudrate} Bd; CAN {self.context.bench.can.channel}"

    def _transact(self, command: str, args: Sequence[str], timeout_s: float) -> Sequence[str]:
        reply = self.link.transact(command, *args, timeout_s=timeout_s)
        if reply.command != "OK" or not reply.args or reply.args[0] != command:
            raise ProtocolError(
                f"{self.describe_link()}: {command} answered {reply.command} {' '.join(reply.args)}"
            )
        return reply.args[1:]

    def send_raw(self, line: bytes, timeout_s: float = 1.0) -> tuple[str, ...]:
        self.link.write_raw(line)
        reply = self.link.read_line(timeout_s)
        return (reply.command, *reply.args)

    def statistics(self) -> dict[str, float]:
        stats = self.link.stats
        return {
            "lines_out": stats.lines_out,
            "lines_in": stats.lines_in,
            "bad_lines": stats.bad_lines,
        }
