"""The NYSE calendar: 2026 holidays, early closes, DST, and minute arithmetic."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest

from app.market import calendar as calendar_module
from app.market.calendar import SessionCalendar

CAL = SessionCalendar()

HOLIDAYS_2026 = [
    date(2026, 1, 1),  # New Year's Day
    date(2026, 1, 19),  # Martin Luther King Jr. Day
    date(2026, 2, 16),  # Washington's Birthday
    date(2026, 4, 3),  # Good Friday
    date(2026, 5, 25),  # Memorial Day
    date(2026, 6, 19),  # Juneteenth
    date(2026, 7, 3),  # Independence Day, observed (the 4th is a Saturday)
    date(2026, 9, 7),  # Labor Day
    date(2026, 11, 26),  # Thanksgiving
    date(2026, 12, 25),  # Christmas
]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize("holiday", HOLIDAYS_2026)
def test_2026_holidays_are_closed(holiday: date) -> None:
    assert not CAL.is_session(holiday)
    assert CAL.session_minutes(holiday) == []
    assert holiday not in CAL.sessions(holiday - timedelta(days=3), holiday + timedelta(days=3))


def test_2026_has_the_expected_number_of_sessions() -> None:
    weekdays = [
        date(2026, 1, 1) + timedelta(days=i)
        for i in range(365)
        if (date(2026, 1, 1) + timedelta(days=i)).weekday() < 5
    ]
    sessions = CAL.sessions(date(2026, 1, 1), date(2026, 12, 31))
    assert sessions == sorted(set(weekdays) - set(HOLIDAYS_2026))


def test_good_friday_week() -> None:
    assert CAL.sessions(date(2026, 4, 1), date(2026, 4, 7)) == [
        date(2026, 4, 1),
        date(2026, 4, 2),
        date(2026, 4, 6),
        date(2026, 4, 7),
    ]


def test_normal_day_has_390_minutes_in_summer_time() -> None:
    minutes = CAL.session_minutes(date(2026, 3, 12))  # after the DST switch on March 8
    assert len(minutes) == 390
    assert minutes[0] == utc(2026, 3, 12, 13, 30)
    assert minutes[-1] == utc(2026, 3, 12, 19, 59)
    assert all(b - a == timedelta(minutes=1) for a, b in pairwise(minutes))
    assert all(m.tzinfo is UTC for m in minutes)


def test_winter_day_opens_at_1430_utc() -> None:
    minutes = CAL.session_minutes(date(2026, 3, 2))
    assert (minutes[0], minutes[-1], len(minutes)) == (
        utc(2026, 3, 2, 14, 30),
        utc(2026, 3, 2, 20, 59),
        390,
    )


def test_day_after_thanksgiving_closes_early() -> None:
    minutes = CAL.session_minutes(date(2026, 11, 27))
    assert len(minutes) == 210
    assert minutes[0] == utc(2026, 11, 27, 14, 30)
    assert minutes[-1] == utc(2026, 11, 27, 17, 59)  # 12:59 ET, the close is 13:00


def test_is_session_minute() -> None:
    assert CAL.is_session_minute(utc(2026, 3, 12, 13, 30))
    assert CAL.is_session_minute(utc(2026, 3, 12, 19, 59))
    assert not CAL.is_session_minute(utc(2026, 3, 12, 20, 0))  # the close itself
    assert not CAL.is_session_minute(utc(2026, 3, 12, 13, 29))
    assert not CAL.is_session_minute(utc(2026, 3, 12, 13, 30, 30))  # not a minute start
    assert not CAL.is_session_minute(utc(2026, 3, 14, 15, 0))  # Saturday
    assert not CAL.is_session_minute(utc(2026, 11, 27, 18, 0))  # after the early close
    assert CAL.is_session_minute(datetime(2026, 3, 12, 13, 30))  # naive is UTC


def test_next_session_minute() -> None:
    assert CAL.next_session_minute(utc(2026, 3, 12, 13, 30)) == utc(2026, 3, 12, 13, 31)
    assert CAL.next_session_minute(utc(2026, 3, 12, 13, 29, 59)) == utc(2026, 3, 12, 13, 30)
    assert CAL.next_session_minute(utc(2026, 3, 12, 3, 0)) == utc(2026, 3, 12, 13, 30)
    # The last minute before Good Friday leads to Monday's open.
    assert CAL.next_session_minute(utc(2026, 4, 2, 19, 59)) == utc(2026, 4, 6, 13, 30)
    assert CAL.next_session_minute(utc(2026, 11, 27, 17, 59)) == utc(2026, 11, 30, 14, 30)


def test_next_session_minute_walks_every_minute_of_a_session() -> None:
    day = CAL.session_minutes(date(2026, 3, 13))
    walked = [day[0]]
    while len(walked) < len(day):
        walked.append(CAL.next_session_minute(walked[-1]))
    assert walked == day


def test_session_of() -> None:
    assert CAL.session_of(utc(2026, 3, 12, 13, 30)) == date(2026, 3, 12)
    assert CAL.session_of(utc(2026, 3, 12, 19, 59, 59)) == date(2026, 3, 12)
    assert CAL.session_of(utc(2026, 3, 12, 20, 0)) is None
    assert CAL.session_of(utc(2026, 3, 12, 13, 29)) is None
    assert CAL.session_of(utc(2026, 4, 3, 15, 0)) is None


def test_sessions_from() -> None:
    assert CAL.sessions_from(date(2026, 4, 2), 3) == [
        date(2026, 4, 2),
        date(2026, 4, 6),
        date(2026, 4, 7),
    ]
    assert CAL.sessions_from(date(2026, 4, 3), 1) == [date(2026, 4, 6)]
    with pytest.raises(ValueError, match="count"):
        CAL.sessions_from(date(2026, 4, 3), -1)


def test_calendar_tables_are_built_once() -> None:
    SessionCalendar().session_minutes(date(2026, 3, 12))
    SessionCalendar().session_minutes(date(2026, 3, 13))
    assert calendar_module._tables.cache_info().misses == 1
