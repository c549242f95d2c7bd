"""How a serial link moves bytes: a non-blocking file descriptor, or a pyserial port object.

Both transports give ``read_some`` (the bytes available now, or the first to arrive within a
timeout) and ``write_all`` (every byte, or ``DeviceTimeout`` after a deadline). Waits are in
real time: they wait on an operating-system device. Errors name the port and carry a one-line
reason (``reason``).
"""

from __future__ import annotations

import os
import select
import time
from typing import Any, Protocol

import serial

from hil.errors import DeviceTimeout, LinkError

__all__ = ["FdTransport", "PortTransport", "Transport", "reason"]

_READ_CHUNK_BYTES = 65536


class Transport(Protocol):
    def read_some(self, timeout_s: float) -> bytes:
        """Bytes available now, or the first to arrive within ``timeout_s``; b"" if none."""

    def write_all(self, data: bytes, timeout_s: float) -> None:
        """Write every byte or raise DeviceTimeout after ``timeout_s``."""


def reason(err: BaseException) -> str:
    """One-line reason for an OS or pyserial error."""
    errno_ = getattr(err, "errno", None)
    if isinstance(errno_, int) and errno_ > 0:
        return os.strerror(errno_)
    return " ".join(str(err).split()) or type(err).__name__


class FdTransport:
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
            raise LinkError(f"{self._label}: read failed: {reason(err)}") from err
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
                raise LinkError(f"{self._label}: write failed: {reason(err)}") from err
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
                raise LinkError(f"{self._label}: write failed: {reason(err)}") from err


class PortTransport:
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
            raise LinkError(f"{self._label}: read failed: {reason(err)}") from err

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
            raise LinkError(f"{self._label}: write failed: {reason(err)}") from err
