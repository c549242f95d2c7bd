"""Pseudo-terminal pairs: the serial ports the simulated devices sit behind.

The bench opens the slave end of a :class:`PtyPair` by path, exactly as it would open
``/dev/ttyUSB0``; the simulated device reads and writes the master end (``SerialLink.on_fd``).
"""

from __future__ import annotations

import os
import tty
from types import TracebackType

from hil.errors import LinkError

__all__ = ["PtyPair"]


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
