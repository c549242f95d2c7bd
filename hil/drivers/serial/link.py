"""The serial link: one port (a pyserial URL or a file descriptor) carrying frames or lines.

:class:`SerialLink` opens any pyserial URL (``/dev/ttyUSB0``, a pty path, ``socket://``,
``loop://``) or wraps a file descriptor such as the device end of a pty pair (``on_fd``). It
writes and reads COBS/CRC-16 frames (``hil.drivers.serial.framing``) carrying IMU samples
(``hil.drivers.serial.messages``), or the maintenance port's checksummed lines
(``hil.drivers.serial.lines``), and counts what it moves (:class:`SerialStats`).

Malformed input is counted and skipped; it never raises. No link call blocks forever: every
read and write has a deadline (real time, since it waits on an operating-system device).
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import serial

from hil.drivers.serial.framing import FrameDecoder, encode_frame
from hil.drivers.serial.lines import Line, LineDecoder, encode_line
from hil.drivers.serial.messages import ImuFrame
from hil.drivers.serial.transport import FdTransport, PortTransport, Transport, reason
from hil.errors import DeviceTimeout, FrameError, LinkError, ProtocolError

__all__ = ["SerialLink", "SerialStats"]


@dataclass(frozen=True, slots=True)
class SerialStats:
    """A snapshot of a link's counters."""

    bytes_in: int = 0
    bytes_out: int = 0
    frames_out: int = 0
    frames_in: int = 0
    """Valid frames received (COBS and CRC good)."""
    lines_in: int = 0
    lines_out: int = 0
    bad_frames: int = 0
    """Frames rejected: COBS, CRC or length errors, and (read_until_sequence) non-IMU frames."""
    bad_lines: int = 0
    extra: dict[str, int] = field(default_factory=dict)
    """Decoder details: cobs_errors, crc_errors, length_errors, checksum_errors, ..."""


class SerialLink:
    """One serial port carrying either binary frames or lines. A context manager.

    ``url`` is anything ``serial.serial_for_url`` opens. Every read waits at most its
    ``timeout_s`` (default ``read_timeout_s``); writes wait at most ``max(read_timeout_s, 1 s)``
    for the other end to drain. Errors name the port: ``<name> port '<url>'``. One thread may
    read while another writes; two readers on one link are not supported.
    """

    def __init__(
        self,
        url: str,
        *,
        baudrate: int = 115200,
        name: str = "serial",
        read_timeout_s: float = 0.5,
    ) -> None:
        if not read_timeout_s > 0:
            raise ValueError(
                f"{name} port '{url}': read_timeout_s must be > 0, not {read_timeout_s}"
            )
        self.url = url
        self.name = name
        self.baudrate = baudrate
        self.read_timeout_s = read_timeout_s
        self._write_timeout_s = max(read_timeout_s, 1.0)
        self._label = f"{name} port '{url}'"
        self._fd: int | None = None
        self._port: Any = None
        self._transport: Transport | None = None
        self._frames = FrameDecoder()
        self._payloads: deque[bytes] = deque()
        self._lines = LineDecoder()
        self._pending_lines: deque[Line] = deque()
        self._bytes_in = 0
        self._bytes_out = 0
        self._frames_out = 0
        self.tx_fault: Callable[[bytes], bytes] | None = None
        """Fault injection on transmit: ``tx_fault(encoded_frame)`` returns the bytes to write
        (possibly corrupted, or b"" to lose the frame). None writes every frame as encoded."""
        self._lines_out = 0
        self._foreign_frames = 0

    @classmethod
    def on_fd(cls, fd: int, *, name: str, read_timeout_s: float = 0.5) -> SerialLink:
        """An open link on a file descriptor, e.g. the device end (master) of a PtyPair.

        The fd is made non-blocking; :meth:`close` leaves it open for its owner to close.
        """
        link = cls(f"fd:{fd}", name=name, read_timeout_s=read_timeout_s)
        link._fd = fd
        return link.open()

    # -- lifetime --------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._transport is not None

    def open(self) -> SerialLink:
        """Open the port (no-op if open). Raises LinkError naming the port and the reason."""
        if self._transport is not None:
            return self
        if self._fd is not None:
            try:
                os.set_blocking(self._fd, False)
            except OSError as err:
                raise LinkError(f"{self._label}: {reason(err)}") from err
            self._transport = FdTransport(self._fd, self._label)
            return self
        try:
            port = serial.serial_for_url(
                self.url,
                baudrate=self.baudrate,
                timeout=self.read_timeout_s,
                write_timeout=self._write_timeout_s,
            )
        except (serial.SerialException, ValueError, OSError) as err:
            raise LinkError(f"{self._label}: {reason(err)}") from err
        self._port = port
        fileno = getattr(port, "fileno", None)
        if type(port) is getattr(serial, "Serial", None) and fileno is not None:
            # A local POSIX port: pyserial left its fd non-blocking; use it directly (lean path).
            self._transport = FdTransport(fileno(), self._label)
        else:
            self._transport = PortTransport(port, self._label)
        return self

    def close(self) -> None:
        """Close the port (an ``on_fd`` link leaves the fd to its owner). Twice is harmless."""
        self._transport = None
        port, self._port = self._port, None
        if port is not None:
            port.close()

    def __enter__(self) -> SerialLink:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"SerialLink({self.url!r}, name={self.name!r}, {state})"

    def _open_transport(self) -> Transport:
        transport = self._transport
        if transport is None:
            raise LinkError(f"{self._label}: not open")
        return transport

    # -- raw bytes -------------------------------------------------------------------------

    def write_raw(self, data: bytes) -> None:
        """Write bytes as they are (fault injection, already-encoded traffic)."""
        self._open_transport().write_all(data, self._write_timeout_s)
        self._bytes_out += len(data)

    def _receive(self, timeout_s: float) -> bytes:
        data = self._open_transport().read_some(timeout_s)
        self._bytes_in += len(data)
        return data

    # -- binary frames ---------------------------------------------------------------------

    def write_frame(self, payload: bytes) -> None:
        """Encode and write one frame. Raises ValueError for a bad payload size."""
        data = encode_frame(payload)
        if self.tx_fault is not None:
            data = self.tx_fault(data)
        self._open_transport().write_all(data, self._write_timeout_s)
        self._bytes_out += len(data)
        self._frames_out += 1

    def write_frames(self, payloads: Iterable[bytes]) -> list[bool]:
        """Encode several frames and write them in one go. Returns, per frame, whether it
        went on the wire (a ``tx_fault`` may lose frames)."""
        encoded = [encode_frame(payload) for payload in payloads]
        if self.tx_fault is not None:
            encoded = [self.tx_fault(frame) for frame in encoded]
        data = b"".join(encoded)
        if data:
            self._open_transport().write_all(data, self._write_timeout_s)
        written = [bool(frame) for frame in encoded]
        self._bytes_out += len(data)
        self._frames_out += sum(written)
        return written

    def read_frames(self, timeout_s: float | None = None) -> list[bytes]:
        """Payloads of the frames received so far; waits up to ``timeout_s`` (default
        ``read_timeout_s``) for at least one. ``[]`` on timeout."""
        payloads = self._payloads
        if not payloads:
            wait_s = self.read_timeout_s if timeout_s is None else timeout_s
            deadline_s = time.monotonic() + wait_s
            while True:
                data = self._receive(wait_s)
                if data:
                    payloads.extend(self._frames.feed(data))
                    if payloads:
                        break
                wait_s = deadline_s - time.monotonic()
                if wait_s <= 0:
                    return []
        out = list(payloads)
        payloads.clear()
        return out

    def read_until_sequence(
        self, sequence: int, timeout_s: float, corrupted_quiet_s: float | None = None
    ) -> list[ImuFrame]:
        """Lockstep handshake: IMU frames in order, up to the one numbered ``sequence``.

        Returns as soon as a frame with this sequence number, or a later one (modulo 2**16,
        meaning the awaited frame was lost), has arrived; frames after it stay queued for the
        next read. Frames that are valid but not IMU frames are counted in ``bad_frames``.
        ``corrupted_quiet_s``: once a malformed frame has arrived during this call and the
        line then stays quiet that long, the awaited frame was the corrupted one: return what
        arrived. Raises DeviceTimeout naming the port and sequence; frames read until then
        are lost.
        """
        target = sequence & 0xFFFF
        frames: list[ImuFrame] = []
        payloads = self._payloads
        unpack = ImuFrame.unpack
        deadline_s = 0.0
        bad_before = self._frames.bad_frames
        while True:
            while payloads:
                try:
                    frame = unpack(payloads.popleft())
                except FrameError:
                    self._foreign_frames += 1
                    continue
                frames.append(frame)
                if (frame.sequence - target) & 0xFFFF < 0x8000:
                    return frames
            now_s = time.monotonic()
            if not deadline_s:
                deadline_s = now_s + timeout_s
            elif now_s >= deadline_s:
                last = frames[-1].sequence if frames else None
                raise DeviceTimeout(
                    f"{self._label}: IMU frame with sequence {target} did not arrive within "
                    f"{timeout_s:.3f} s (last sequence received in that time: {last})"
                )
            if corrupted_quiet_s is not None and self._frames.bad_frames > bad_before:
                data = self._receive(min(corrupted_quiet_s, deadline_s - now_s))
                if not data:
                    return frames
            else:
                data = self._receive(deadline_s - now_s)
            if data:
                payloads.extend(self._frames.feed(data))

    # -- lines -----------------------------------------------------------------------------

    def write_line(self, command: str, *args: str) -> None:
        """Write ``$CMD args*HH\\r\\n``. Raises ValueError naming a field that cannot be sent."""
        data = encode_line(command, *args)
        self._open_transport().write_all(data, self._write_timeout_s)
        self._bytes_out += len(data)
        self._lines_out += 1

    def read_line(self, timeout_s: float | None = None) -> Line:
        """The next valid line; bad lines are counted and skipped.

        Raises DeviceTimeout naming the port if none arrives within ``timeout_s`` (default
        ``read_timeout_s``).
        """
        pending = self._pending_lines
        if not pending:
            limit_s = wait_s = self.read_timeout_s if timeout_s is None else timeout_s
            deadline_s = time.monotonic() + wait_s
            while True:
                data = self._receive(wait_s)
                if data:
                    pending.extend(self._lines.feed(data))
                    if pending:
                        break
                wait_s = deadline_s - time.monotonic()
                if wait_s <= 0:
                    raise DeviceTimeout(f"{self._label}: no line received within {limit_s:.3f} s")
        return pending.popleft()

    def transact(self, command: str, *args: str, timeout_s: float = 1.0) -> Line:
        """Send a command and return its ``$OK ...`` reply.

        Lines already received and not read (and a partial one) are discarded first, so a
        late reply to an earlier command is not taken for this one. Raises ProtocolError on
        ``$ERR code text`` (``"<port>: CMD -> ERR code text"``) or any reply other than
        OK/ERR, DeviceTimeout if no reply comes within ``timeout_s``.
        """
        self._discard_received_lines()
        self.write_line(command, *args)
        try:
            reply = self.read_line(timeout_s)
        except DeviceTimeout as err:
            raise DeviceTimeout(
                f"{self._label}: no reply to {command} within {timeout_s:.3f} s"
            ) from err
        if reply.command == "OK":
            return reply
        text = " ".join((reply.command, *reply.args))
        if reply.command == "ERR":
            raise ProtocolError(f"{self._label}: {command} -> {text}")
        raise ProtocolError(f"{self._label}: {command} -> unexpected reply '{text}'")

    def _discard_received_lines(self) -> None:
        while True:
            data = self._receive(0.0)
            if not data:
                break
            self._lines.feed(data)
        self._lines.reset()
        self._pending_lines.clear()

    # -- statistics ------------------------------------------------------------------------

    @property
    def stats(self) -> SerialStats:
        """Counters since the link was created."""
        frames = self._frames.stats
        lines = self._lines.stats
        return SerialStats(
            bytes_in=self._bytes_in,
            bytes_out=self._bytes_out,
            frames_out=self._frames_out,
            frames_in=frames.frames_ok,
            lines_in=lines.lines_ok,
            lines_out=self._lines_out,
            bad_frames=frames.bad_frames + self._foreign_frames,
            bad_lines=lines.bad_lines,
            extra={
                "cobs_errors": frames.cobs_errors,
                "crc_errors": frames.crc_errors,
                "length_errors": frames.length_errors,
                "foreign_frames": self._foreign_frames,
                "bytes_discarded": frames.bytes_discarded,
                "checksum_errors": lines.checksum_errors,
                "format_errors": lines.format_errors,
            },
        )
