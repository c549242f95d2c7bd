"""Record timestamps: one fixed-width UTC format that sorts as text, and older text still read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from hil.core.timestamps import TIMESTAMP_CHARS, format_utc, parse_utc, utc_now


def test_a_timestamp_is_utc_to_the_microsecond_and_fixed_width() -> None:
    stamp = utc_now()
    assert len(stamp) == TIMESTAMP_CHARS and stamp.endswith("+00:00")
    assert abs(parse_utc(stamp) - datetime.now(UTC)) < timedelta(minutes=1)
    on_the_second = datetime(2025, 6, 5, 10, 31, 2, tzinfo=UTC)
    assert format_utc(on_the_second) == "2025-06-05T10:31:02.000000+00:00"


def test_timestamps_sort_as_text_in_time_order() -> None:
    base = datetime(2025, 6, 5, 23, 59, 59, 999_000, tzinfo=UTC)
    times = [base + timedelta(microseconds=step) for step in (0, 1, 999, 1000, 86_400_000_000)]
    stamps = [format_utc(when) for when in times]
    assert sorted(stamps) == stamps and len(set(map(len, stamps))) == 1


def test_other_offsets_are_written_as_utc_and_naive_times_are_refused() -> None:
    eastern = datetime(2025, 6, 5, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert format_utc(eastern) == "2025-06-05T10:00:00.000000+00:00"
    with pytest.raises(ValueError, match="no UTC offset"):
        format_utc(datetime(2025, 6, 5, 12, 0))


def test_older_millisecond_and_naive_text_is_read() -> None:
    assert parse_utc("2025-06-05T10:31:02.123+00:00") == datetime(
        2025, 6, 5, 10, 31, 2, 123_000, tzinfo=UTC
    )
    assert parse_utc("2025-06-05T10:31:02") == datetime(2025, 6, 5, 10, 31, 2, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_utc("yesterday")
