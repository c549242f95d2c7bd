"""Serial links: COBS/CRC-16 IMU frames, checksummed ASCII lines, pyserial ports and pty pairs.

This module owns everything between a serial byte stream and a decoded message (DESIGN 4):

* **Binary frames** (IMU -> FC). On the wire a frame is
  ``COBS(payload + CRC-16/CCITT-FALSE as big-endian u16) + b"\\x00"``; the CRC is
  ``binascii.crc_hqx(payload, 0xFFFF)``. The IMU payload (:class:`ImuFrame`) is little-endian:
  type u8, sequence u16, time µs u32, 3×f32 specific force, 3×f32 angular rate, status u8.
* **Lines** (FC maintenance port): ``$CMD arg1 arg2*HH\\r\\n`` with an NMEA-style XOR checksum;
  replies ``$OK ...`` or ``$ERR code text``.
* **Ports**: :class:`SerialLink` opens any pyserial URL (``/dev/ttyUSB0``, a pty path,
  ``socket://``, ``loop://``) or wraps the device end of a :class:`PtyPair` (``on_fd``).

Frames are found by their delimiter (0x00 or LF), never by inter-byte timeouts, which pyserial
does not honour on Linux (DESIGN 8). Decoders count malformed input and carry on; they never
raise. No link call blocks forever: every read and write has a deadline (real time, since it
waits on an operating-system device).
"""

from __future__ import annotations

import binascii
import os
import re
import select
import struct
import time
import tty
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol

import serial
from cobs import cobs

from hil.errors import DeviceTimeout, FrameError, LinkError, ProtocolError

__all__ = [
    "IMU_FRAME_TYPE",
    "IMU_PAYLOAD_BYTES",
    "MAX_LINE_BYTES",
    "MAX_PAYLOAD_BYTES",
    "FrameDecoder",
    "FrameStats",
    "ImuFrame",
    "Line",
    "LineDecoder",
    "LineStats",
    "PtyPair",
    "SerialLink",
    "SerialStats",
    "crc16_ccitt_false",
    "encode_frame",
    "encode_line",
    "nmea_checksum",
]

IMU_FRAME_TYPE = 0x01
"""First payload byte of an IMU frame."""

_IMU_STRUCT = struct.Struct("<BHI3f3fB")
IMU_PAYLOAD_BYTES = _IMU_STRUCT.size
"""Length of an IMU payload without its CRC (32 bytes)."""

MAX_PAYLOAD_BYTES = 250
"""Largest frame payload :func:`encode_frame` writes and :class:`FrameDecoder` accepts."""

MAX_LINE_BYTES = 256
"""Longest line :class:`LineDecoder` accepts, ``$`` to LF inclusive (NMEA itself stops at 82)."""

_READ_CHUNK_BYTES = 65536
_crc_hqx = binascii.crc_hqx
_cobs_encode = cobs.encode
_cobs_decode = cobs.decode
_CobsDecodeError = cobs.DecodeError


# -- binary frames -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImuFrame:
    """One IMU sample as the IMU sends it to the FC at 400 Hz."""

    sequence: int
    """u16 frame counter; wraps at 65536."""
    time_us: int
    """u32 IMU time of the sample in microseconds; wraps."""
    specific_force_mps2: tuple[float, float, float]
    """Specific force in m/s², body frame."""
    angular_rate_radps: tuple[float, float, float]
    """Angular rate in rad/s, body frame."""
    status: int
    """u8 bit flags."""

    def pack(self) -> bytes:
        """The 32-byte payload (CRC not included; :func:`encode_frame` adds it).

        Sequence and time wrap to u16/u32. Raises ValueError if status is not a u8 or a value
        does not fit an f32.
        """
        try:
            return _IMU_STRUCT.pack(
                IMU_FRAME_TYPE,
                self.sequence & 0xFFFF,
                self.time_us & 0xFFFFFFFF,
                *self.specific_force_mps2,
                *self.angular_rate_radps,
                self.status,
            )
        except struct.error as err:
            raise ValueError(f"IMU frame {self.sequence}: cannot pack: {err}") from err

    @classmethod
    def unpack(cls, payload: bytes) -> ImuFrame:
        """Decode a payload from :meth:`pack`. Raises FrameError on a wrong type or length."""
        if len(payload) != IMU_PAYLOAD_BYTES:
            raise FrameError(
                f"IMU frame: payload is {len(payload)} bytes, expected {IMU_PAYLOAD_BYTES}"
            )
        kind, sequence, time_us, fx, fy, fz, wx, wy, wz, status = _IMU_STRUCT.unpack(payload)
        if kind != IMU_FRAME_TYPE:
            raise FrameError(f"IMU frame: type 0x{kind:02X}, expected 0x{IMU_FRAME_TYPE:02X}")
        return cls(sequence, time_us, (fx, fy, fz), (wx, wy, wz), status)


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no xorout)."""
    return _crc_hqx(data, 0xFFFF)


def encode_frame(payload: bytes) -> bytes:
    """Wire bytes for one frame: COBS(payload + big-endian CRC-16) + 0x00.

    Raises ValueError for an empty payload or one longer than MAX_PAYLOAD_BYTES.
    """
    if not payload or len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"frame payload is {len(payload)} bytes; must be 1 to {MAX_PAYLOAD_BYTES}")
    crc = _crc_hqx(payload, 0xFFFF)
    encoded: bytes = _cobs_encode(payload + crc.to_bytes(2, "big"))
    return encoded + b"\x00"


@dataclass(slots=True)
class FrameStats:
    """Counters of a :class:`FrameDecoder` (running totals)."""

    frames_ok: int = 0
    cobs_errors: int = 0
    """Chunks between delimiters that are not valid COBS."""
    crc_errors: int = 0
    length_errors: int = 0
    """Frames too short to hold a payload and CRC, or longer than the decoder allows."""
    bytes_discarded: int = 0
    """Bytes of rejected frames (delimiters not counted)."""

    @property
    def bad_frames(self) -> int:
        """All rejected frames."""
        return self.cobs_errors + self.crc_errors + self.length_errors


class FrameDecoder:
    """Incremental COBS/CRC-16 frame decoder: feed any chunks, get complete valid payloads.

    Bytes before the first delimiter of a stream joined mid-frame form one bad frame, which
    is counted; consecutive delimiters (idle fill) are ignored. Memory is bounded: a frame
    longer than ``max_payload_bytes`` is dropped as it arrives and counted once.
    """

    __slots__ = ("_max_encoded", "_overflow", "_pending", "stats")

    def __init__(self, max_payload_bytes: int = MAX_PAYLOAD_BYTES) -> None:
        raw = max_payload_bytes + 2
        self._max_encoded = raw + raw // 254 + 1
        self._pending = b""
        self._overflow = False
        self.stats = FrameStats()

    @property
    def bad_frames(self) -> int:
        """All rejected frames so far."""
        return self.stats.bad_frames

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; returns the payloads (CRC stripped) of frames now complete."""
        if b"\x00" not in data:
            if data:
                self._pending += data
                if len(self._pending) > self._max_encoded:
                    self._drop_overflow()
            return []
        chunks = (self._pending + data).split(b"\x00")
        tail = chunks.pop()
        stats = self.stats
        payloads: list[bytes] = []
        if self._overflow:
            stats.bytes_discarded += len(chunks[0])
            stats.length_errors += 1
            self._overflow = False
            chunks[0] = b""
        for chunk in chunks:
            if not chunk:
                continue
            if len(chunk) > self._max_encoded:
                stats.length_errors += 1
                stats.bytes_discarded += len(chunk)
                continue
            try:
                decoded = _cobs_decode(chunk)
            except _CobsDecodeError:
                stats.cobs_errors += 1
                stats.bytes_discarded += len(chunk)
                continue
            if len(decoded) < 3:
                stats.length_errors += 1
                stats.bytes_discarded += len(chunk)
            elif _crc_hqx(decoded, 0xFFFF):  # CRC over payload + its big-endian CRC is 0
                stats.crc_errors += 1
                stats.bytes_discarded += len(chunk)
            else:
                payloads.append(decoded[:-2])
        stats.frames_ok += len(payloads)
        self._pending = tail
        if len(tail) > self._max_encoded:
            self._drop_overflow()
        return payloads

    def _drop_overflow(self) -> None:
        self.stats.bytes_discarded += len(self._pending)
        self._pending = b""
        self._overflow = True


# -- lines -------------------------------------------------------------------------------------

_COMMAND_RE = re.compile(r"[!-#%-)+-~]+")  # printable ASCII without space, '$' and '*'
_ARG_RE = re.compile(r"[ -#%-)+-~]+")  # the same, spaces allowed
_HEX_DIGITS = frozenset("0123456789ABCDEFabcdef")


def nmea_checksum(body: str) -> str:
    """Two upper-case hex digits: XOR of the characters between '$' and '*' (``body``).

    Raises ValueError (UnicodeEncodeError) if ``body`` is not ASCII.
    """
    value = 0
    for byte in body.encode("ascii"):
        value ^= byte
    return f"{value:02X}"


def encode_line(command: str, *args: str) -> bytes:
    """Wire bytes ``$CMD arg1 arg2*HH\\r\\n``.

    Fields are printable ASCII without '$' or '*'; the command has no spaces. An argument may
    contain spaces, but arrives as several arguments. Raises ValueError naming a bad field.
    """
    if not _COMMAND_RE.fullmatch(command):
        raise ValueError(
            f"line command {command!r}: must be printable ASCII without spaces, '$' or '*'"
        )
    for arg in args:
        if not arg.strip() or not _ARG_RE.fullmatch(arg):
            raise ValueError(
                f"{command} argument {arg!r}: must be non-blank printable ASCII without '$' or '*'"
            )
    body = " ".join((command, *args))
    return f"${body}*{nmea_checksum(body)}\r\n".encode("ascii")


@dataclass(frozen=True, slots=True)
class Line:
    """One decoded line: ``$OK MODE ARMED*HH`` is ``Line("OK", ("MODE", "ARMED"))``."""

    command: str
    args: tuple[str, ...] = ()


@dataclass(slots=True)
class LineStats:
    """Counters of a :class:`LineDecoder` (running totals)."""

    lines_ok: int = 0
    checksum_errors: int = 0
    format_errors: int = 0
    """No '$', no '*HH', not printable ASCII, no command, or longer than allowed."""

    @property
    def bad_lines(self) -> int:
        """All rejected lines."""
        return self.checksum_errors + self.format_errors


class LineDecoder:
    """Incremental ``$CMD args*HH`` decoder: feed any chunks, get complete valid lines.

    Lines end with LF (a CR before it is dropped); empty lines are ignored. A line longer than
    ``max_line_bytes`` is dropped as it arrives and counted once.
    """

    __slots__ = ("_max_bytes", "_overflow", "_pending", "stats")

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._max_bytes = max_line_bytes
        self._pending = b""
        self._overflow = False
        self.stats = LineStats()

    @property
    def bad_lines(self) -> int:
        """All rejected lines so far."""
        return self.stats.bad_lines

    def feed(self, data: bytes) -> list[Line]:
        """Add received bytes; returns the lines now complete and valid."""
        if b"\n" not in data:
            if data:
                self._pending += data
                if len(self._pending) > self._max_bytes:
                    self._pending = b""
                    self._overflow = True
            return []
        raw_lines = (self._pending + data).split(b"\n")
        tail = raw_lines.pop()
        if self._overflow:
            self.stats.format_errors += 1
            self._overflow = False
            raw_lines[0] = b""
        lines: list[Line] = []
        for raw in raw_lines:
            line = self._parse(raw)
            if line is not None:
                lines.append(line)
        self._pending = tail
        if len(tail) > self._max_bytes:
            self._pending = b""
            self._overflow = True
        return lines

    def reset(self) -> None:
        """Forget a partial line; the next bytes start afresh (counters are kept)."""
        self._pending = b""
        self._overflow = False

    def _parse(self, raw: bytes) -> Line | None:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if not raw:
            return None
        stats = self.stats
        star = raw.rfind(b"*")
        if (
            len(raw) >= self._max_bytes
            or not raw.startswith(b"$")
            or star < 1
            or len(raw) - star != 3
            or not raw.isascii()
        ):
            stats.format_errors += 1
            return None
        text = raw.decode("ascii")
        body, digits = text[1:star], text[star + 1 :]
        if not body.isprintable() or "$" in body or "*" in body or not set(digits) <= _HEX_DIGITS:
            stats.format_errors += 1
            return None
        if nmea_checksum(body) != digits.upper():
            stats.checksum_errors += 1
            return None
        fields = body.split()
        if not fields:
            stats.format_errors += 1
            return None
        stats.lines_ok += 1
        return Line(fields[0], tuple(fields[1:]))


# -- pseudo-terminals --------------------------------------------------------------------------


class PtyPair:
    """A pseudo-terminal pair: ``slave_path`` is a serial port, ``master_fd`` its device end.

    The slave is put in raw mode so bytes pass untouched; the master is non-blocking. Both
    ends stay open until :meth:`close` (closing twice is harmless). Raises LinkError if the
    system has no pty to give.
    """

    def __init__(self) -> None:
        try:
            master_fd, slave_fd = os.openpty()
        except OSError as err:
            raise LinkError(f"pty pair: cannot open: {err.strerror or err}") from err
        try:
            tty.setraw(slave_fd)
            os.set_blocking(master_fd, False)
            self.slave_path: str = os.ttyname(slave_fd)
        except OSError as err:
            os.close(master_fd)
            os.close(slave_fd)
            raise LinkError(f"pty pair: cannot configure: {err.strerror or err}") from err
        self.master_fd: int = master_fd
        self._slave_fd = slave_fd

    @property
    def closed(self) -> bool:
        return self.master_fd < 0

    def close(self) -> None:
        """Close both ends."""
        for fd in (self.master_fd, self._slave_fd):
            if fd >= 0:
                os.close(fd)
        self.master_fd = self._slave_fd = -1

    def __enter__(self) -> PtyPair:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PtyPair(master_fd={self.master_fd}, slave_path={self.slave_path!r})"


# -- transports --------------------------------------------------------------------------------


class _Transport(Protocol):
    def read_some(self, timeout_s: float) -> bytes:
        """Bytes available now, or the first to arrive within ``timeout_s``; b"" if none."""

    def write_all(self, data: bytes, timeout_s: float) -> None:
        """Write every byte or raise DeviceTimeout after ``timeout_s``."""


def _reason(err: BaseException) -> str:
    """One-line reason for an OS or pyserial error."""
    errno_ = getattr(err, "errno", None)
    if isinstance(errno_, int) and errno_ > 0:
        return os.strerror(errno_)
    return " ".join(str(err).split()) or type(err).__name__


class _FdTransport:
    """A non-blocking file descriptor: select + os.read / os.write."""

    __slots__ = ("_fd", "_label")

    def __init__(self, fd: int, label: str) -> None:
        self._fd = fd
        self._label = label

    def read_some(self, timeout_s: float) -> bytes:
        fd = self._fd
        try:
            try:
                data = os.read(fd, _READ_CHUNK_BYTES)
            except BlockingIOError:
                data = b""
            if data:  # the common case under load: bytes already waiting, one system call
                return data
            # Nothing yet. A tty in pyserial's raw mode (VMIN=0) answers b"" rather than
            # EAGAIN, so emptiness only means end of file after select reported readable.
            if timeout_s <= 0 or not select.select([fd], [], [], timeout_s)[0]:
                return b""
            try:
                data = os.read(fd, _READ_CHUNK_BYTES)
            except BlockingIOError:
                return b""
        except OSError as err:
            raise LinkError(f"{self._label}: read failed: {_reason(err)}") from err
        if not data:
            raise LinkError(f"{self._label}: device disconnected (end of file)")
        return data

    def write_all(self, data: bytes, timeout_s: float) -> None:
        fd = self._fd
        view = memoryview(data)
        deadline_s = 0.0
        while True:
            try:
                written = os.write(fd, view)
            except BlockingIOError:
                written = 0
            except OSError as err:
                raise LinkError(f"{self._label}: write failed: {_reason(err)}") from err
            if written == len(view):
                return
            view = view[written:]
            now_s = time.monotonic()
            if not deadline_s:
                deadline_s = now_s + timeout_s
            elif now_s >= deadline_s:
                raise DeviceTimeout(
                    f"{self._label}: write timed out after {timeout_s:.3f} s with "
                    f"{len(view)} of {len(data)} bytes unsent (is the other end reading?)"
                )
            try:
                select.select([], [fd], [], deadline_s - now_s)
            except OSError as err:
                raise LinkError(f"{self._label}: write failed: {_reason(err)}") from err


class _PortTransport:
    """Any pyserial port object (``loop://``, ``socket://``, ...) through its own API."""

    __slots__ = ("_label", "_port")

    def __init__(self, port: Any, label: str) -> None:
        self._port = port
        self._label = label

    def read_some(self, timeout_s: float) -> bytes:
        port = self._port
        try:
            waiting = port.in_waiting
            if waiting:
                return bytes(port.read(waiting))
            timeout_s = max(timeout_s, 0.0)
            if port.timeout != timeout_s:
                port.timeout = timeout_s
            data = bytes(port.read(1))
            if data:
                waiting = port.in_waiting
                if waiting:
                    data += port.read(waiting)
            return data
        except serial.SerialException as err:
            raise LinkError(f"{self._label}: read failed: {_reason(err)}") from err

    def write_all(self, data: bytes, timeout_s: float) -> None:
        port = self._port
        try:
            if port.write_timeout != timeout_s:
                port.write_timeout = timeout_s
            port.write(data)
        except serial.SerialTimeoutException as err:
            raise DeviceTimeout(
                f"{self._label}: write of {len(data)} bytes timed out after {timeout_s:.3f} s"
            ) from err
        except serial.SerialException as err:
            raise LinkError(f"{self._label}: write failed: {_reason(err)}") from err


# -- the link ----------------------------------------------------------------------------------


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
        self._transport: _Transport | None = None
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
                raise LinkError(f"{self._label}: {_reason(err)}") from err
            self._transport = _FdTransport(self._fd, self._label)
            return self
        try:
            port = serial.serial_for_url(
                self.url,
                baudrate=self.baudrate,
                timeout=self.read_timeout_s,
                write_timeout=self._write_timeout_s,
            )
        except (serial.SerialException, ValueError, OSError) as err:
            raise LinkError(f"{self._label}: {_reason(err)}") from err
        self._port = port
        fileno = getattr(port, "fileno", None)
        if type(port) is getattr(serial, "Serial", None) and fileno is not None:
            # A local POSIX port: pyserial left its fd non-blocking; use it directly (lean path).
            self._transport = _FdTransport(fileno(), self._label)
        else:
            self._transport = _PortTransport(port, self._label)
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

    def _open_transport(self) -> _Transport:
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
