"""The CAN link's traffic counters, live and as snapshots.

``MessageCounters`` (per message, both directions) and ``LinkCounters`` (per link) are the
running totals the send and receive paths update; ``MessageStats`` and ``LinkStats`` are the
snapshots ``CanLink.stats`` and ``CanLink.link_stats`` hand out. The receive rate is measured
over the frames of the last ``RATE_WINDOW_S``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "RATE_WINDOW_S",
    "LinkCounters",
    "LinkStats",
    "MessageCounters",
    "MessageStats",
    "rate_hz",
]

RATE_WINDOW_S = 2.0
"""Receive rates are measured over the frames of the last 2 s."""
_RATE_HISTORY = 4096
"""At most this many receive times are kept per message for the rate estimate."""


@dataclass
class MessageStats:
    """Traffic of one message, both directions, since the link was created."""

    sent: int
    received: int
    """Frames that passed the length and CRC checks, were decoded and published."""
    decode_errors: int
    """Frames of this id with the wrong length, or that cantools could not decode."""
    counter_gaps: int
    """Frames missed according to the rolling counter (a repeated counter counts as 1)."""
    crc_failures: int
    rate_hz: float
    """Receive rate over the frames of the last ``RATE_WINDOW_S`` (2 s); 0 with < 2 frames."""
    stalls: int = 0
    """Silences of a periodic message longer than a lap of its counter (16 periods): its
    sender or the link stalled; not counted as lost frames (``counter_gaps``)."""
    longest_stall_s: float = 0.0
    """The longest of those silences, s."""


STATS_COLUMNS = (
    "message",
    "sent",
    "received",
    "rate Hz",
    "counter gaps",
    "CRC fail",
    "decode err",
    "stalls",
)
"""The headings of ``stats_rows``: what a technician reads of a CAN link, message by message."""

StatsRow = tuple[str, int, int, float, int, int, int, int]


def stats_rows(stats: Mapping[str, MessageStats]) -> list[StatsRow]:
    """One row per message (sorted by name), in the order of ``STATS_COLUMNS``."""
    return [
        (
            name,
            item.sent,
            item.received,
            item.rate_hz,
            item.counter_gaps,
            item.crc_failures,
            item.decode_errors,
            item.stalls,
        )
        for name, item in sorted(stats.items())
    ]


@dataclass
class LinkStats:
    """Traffic of the whole link since it was created.

    Every received frame is counted in ``frames_received`` and in exactly one of: a message's
    ``received``, ``malformed``, ``unknown_ids`` or ``error_frames``.
    """

    frames_received: int
    frames_sent: int
    unknown_ids: int
    """Frames whose id (or id type, or RTR flag) matches no message of the database."""
    malformed: int
    """Frames of a known id with a wrong length, a CRC mismatch or undecodable data."""
    error_frames: int
    callback_errors: int
    """Subscribers or periodic-signal providers that raised (logged, never propagated)."""
    bus_errors: int
    """Errors the bus raised in the receive thread (handed to ``on_error``)."""


class MessageCounters:
    """Running totals of one message on one link (see ``MessageStats`` for their meaning),
    and the receive times of its last frames."""

    __slots__ = (
        "counter_gaps",
        "crc_failures",
        "decode_errors",
        "longest_stall_s",
        "received",
        "rx_times",
        "sent",
        "stalls",
    )

    def __init__(self) -> None:
        self.sent = 0
        self.received = 0
        self.decode_errors = 0
        self.counter_gaps = 0
        self.crc_failures = 0
        self.stalls = 0
        self.longest_stall_s = 0.0
        self.rx_times: deque[float] = deque(maxlen=_RATE_HISTORY)
        """Receive times (the link's clock, s) of the last good frames."""

    def snapshot(self, now_s: float) -> MessageStats:
        return MessageStats(
            sent=self.sent,
            received=self.received,
            decode_errors=self.decode_errors,
            counter_gaps=self.counter_gaps,
            crc_failures=self.crc_failures,
            rate_hz=rate_hz(tuple(self.rx_times), now_s),
            stalls=self.stalls,
            longest_stall_s=self.longest_stall_s,
        )


class LinkCounters:
    """Running totals of one link (see ``LinkStats`` for their meaning)."""

    __slots__ = (
        "bus_errors",
        "callback_errors",
        "error_frames",
        "frames_received",
        "frames_sent",
        "malformed",
        "unknown_ids",
    )

    def __init__(self) -> None:
        self.frames_received = 0
        self.frames_sent = 0
        self.unknown_ids = 0
        self.malformed = 0
        self.error_frames = 0
        self.callback_errors = 0
        self.bus_errors = 0

    def snapshot(self) -> LinkStats:
        return LinkStats(
            frames_received=self.frames_received,
            frames_sent=self.frames_sent,
            unknown_ids=self.unknown_ids,
            malformed=self.malformed,
            error_frames=self.error_frames,
            callback_errors=self.callback_errors,
            bus_errors=self.bus_errors,
        )


def rate_hz(times_s: tuple[float, ...], now_s: float) -> float:
    """Frames per second among ``times_s`` that fall in the last ``RATE_WINDOW_S``."""
    cutoff_s = now_s - RATE_WINDOW_S
    first = len(times_s)
    while first > 0 and times_s[first - 1] > cutoff_s:
        first -= 1
    count = len(times_s) - first
    if count < 2:
        return 0.0
    span_s = times_s[-1] - times_s[first]
    return (count - 1) / span_s if span_s > 0 else 0.0
