"""The FC maintenance port's line protocol: ``$CMD arg1 arg2*HH\\r\\n``.

``HH`` is an NMEA-style checksum: the XOR of the characters between ``$`` and ``*`` as two
hex digits. Replies are ``$OK ...`` or ``$ERR code text``. :func:`encode_line` writes a line;
:class:`LineDecoder` finds lines in any chunks by their LF and counts malformed ones
(:class:`LineStats`) without ever raising.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "MAX_LINE_BYTES",
    "Line",
    "LineDecoder",
    "LineStats",
    "encode_line",
    "nmea_checksum",
]

MAX_LINE_BYTES = 256
"""Longest line :class:`LineDecoder` accepts, ``$`` to LF inclusive (NMEA itself stops at 82)."""

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
