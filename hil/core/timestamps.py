"""Record timestamps: the one format for every wall-clock time the bench writes down.

A timestamp is ISO 8601 text in UTC, to the microsecond, with an explicit offset::

    2025-06-05T10:31:02.123456+00:00

It is always ``TIMESTAMP_CHARS`` long, so two timestamps from ``utc_now`` or ``format_utc``
compare in time order as plain strings (SQL ``ORDER BY`` and ``<`` on the text work). Card
records, record events, signatures, people and the authentication log use it; the fleet tables
are written in the same format.

Records written before this module existed hold millisecond text in card records and
signatures (``2025-06-05T10:31:02.123+00:00``). It stays as written (hashes and signatures cover
it); ``parse_utc`` reads it like any ISO 8601 time. Compare such text with a timestamp through
``parse_utc``: as strings, equal times of different precision do not compare equal.

Bench timing (steps, monitors, the executive) is monotonic seconds from ``hil.core.clock``;
this module is only for the calendar time written into records.
"""

from __future__ import annotations

from datetime import UTC, datetime

TIMESPEC = "microseconds"
"""The precision of a timestamp (``datetime.isoformat``'s ``timespec``)."""

TIMESTAMP_CHARS = len("2025-06-05T10:31:02.123456+00:00")


def utc_now() -> str:
    """The current UTC time as a timestamp (``2025-06-05T10:31:02.123456+00:00``)."""
    return datetime.now(UTC).isoformat(timespec=TIMESPEC)


def format_utc(when: datetime) -> str:
    """``when`` (timezone-aware, any offset) as a UTC timestamp.

    Raises ``ValueError`` for a naive datetime: its offset would be a guess.
    """
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"time {when.isoformat()}: no UTC offset")
    return when.astimezone(UTC).isoformat(timespec=TIMESPEC)


def parse_utc(text: str) -> datetime:
    """An ISO 8601 time (any precision) as an aware datetime; naive text is taken as UTC.

    Raises ``ValueError`` when ``text`` is not an ISO 8601 time.
    """
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
