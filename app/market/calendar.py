"""The NYSE session calendar: which minutes are trading minutes.

Holidays and early closes come from `exchange_calendars` ("XNYS"), never from a list of our
own. Building that calendar costs a noticeable fraction of a second, so it is built lazily,
once per process, and shared by every `SessionCalendar`.

A *session minute* is the start of a one-minute bar inside a session: from the open up to one
minute before the close, as tz-aware UTC datetimes (390 on a normal day, 210 on an early
close). Naive datetimes are taken as UTC, like everywhere else in the arena.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

_MINUTE = 60  # seconds
# The calendar covers 2000 up to at least 2036 (and always two years past today), so
# replaying old data and scheduling a live competition both stay inside it.
_FIRST_DAY = date(2000, 1, 1)
_LAST_DAY = date(2036, 12, 31)


@dataclass(frozen=True, slots=True)
class _Tables:
    """The calendar flattened to arrays: session dates and open/close in epoch seconds."""

    days: np.ndarray  # datetime64[D], sorted
    opens: np.ndarray  # int64 epoch seconds, UTC
    closes: np.ndarray  # int64 epoch seconds, UTC


@functools.cache
def _tables() -> _Tables:
    import exchange_calendars  # imported here: the import alone costs ~0.4 s

    last = max(_LAST_DAY, date.today() + timedelta(days=2 * 366))
    with warnings.catch_warnings():
        # exchange_calendars 4.13 still reads tz-aware `Series.values`, which pandas 3.1
        # deprecates; the warning is theirs to fix and says nothing about our use.
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
        cal = exchange_calendars.get_calendar(
            "XNYS", start=_FIRST_DAY.isoformat(), end=last.isoformat()
        )

    def epoch_seconds(moments: pd.Series) -> np.ndarray:
        return moments.dt.tz_convert(None).to_numpy("datetime64[s]").astype(np.int64)

    return _Tables(
        days=cal.sessions.to_numpy("datetime64[D]"),
        opens=epoch_seconds(cal.opens),
        closes=epoch_seconds(cal.closes),
    )


def _epoch(moment: datetime) -> float:
    """Seconds since the epoch; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(int(seconds), UTC)


class SessionCalendar:
    """NYSE ("XNYS") sessions and their minutes; cheap to create, the tables are shared."""

    __slots__ = ()

    @property
    def first_session(self) -> date:
        return _tables().days[0].item()

    @property
    def last_session(self) -> date:
        return _tables().days[-1].item()

    def sessions(self, start: date, end: date) -> list[date]:
        """Session dates from `start` to `end`, both inclusive."""
        days = _tables().days
        lo = np.searchsorted(days, np.datetime64(start, "D"), side="left")
        hi = np.searchsorted(days, np.datetime64(end, "D"), side="right")
        return [d.item() for d in days[lo:hi]]

    def sessions_from(self, start: date, count: int) -> list[date]:
        """The first `count` sessions on or after `start`."""
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        days = _tables().days
        lo = int(np.searchsorted(days, np.datetime64(start, "D"), side="left"))
        if lo + count > len(days):
            raise ValueError(f"{count} sessions from {start} run past {self.last_session}")
        return [d.item() for d in days[lo : lo + count]]

    def is_session(self, day: date) -> bool:
        return self._index_of_day(day) is not None

    def session_minutes(self, day: date) -> list[datetime]:
        """Minute starts of `day`'s session, open to close - 1 min; [] if not a session."""
        idx = self._index_of_day(day)
        if idx is None:
            return []
        tables = _tables()
        starts = range(int(tables.opens[idx]), int(tables.closes[idx]), _MINUTE)
        return [_utc(s) for s in starts]

    def session_bounds(self, day: date) -> tuple[datetime, datetime] | None:
        """`day`'s regular session as (open, close), tz-aware UTC; None if not a session."""
        idx = self._index_of_day(day)
        if idx is None:
            return None
        tables = _tables()
        return _utc(tables.opens[idx]), _utc(tables.closes[idx])

    def is_session_minute(self, t: datetime) -> bool:
        """True if `t` is a whole-minute start inside a session."""
        seconds = _epoch(t)
        return seconds % _MINUTE == 0 and self._index_containing(seconds) is not None

    def is_session_close(self, t: datetime) -> bool:
        """True unless the minute after `t` is in the same session as `t`: a signal of
        minute `t` has no later bar in its session to trade on (the close rule, 0023)."""
        return not (self.is_session_minute(t) and self.is_session_minute(t + timedelta(minutes=1)))

    def next_session_minute(self, t: datetime) -> datetime:
        """The first session minute strictly after `t`."""
        seconds = _epoch(t)
        candidate = (int(seconds // _MINUTE) + 1) * _MINUTE
        tables = _tables()
        # The last session opening at or before the candidate; it contains it or lies before.
        idx = int(np.searchsorted(tables.opens, candidate, side="right")) - 1
        if idx >= 0 and candidate < tables.closes[idx]:
            return _utc(candidate)
        if idx + 1 >= len(tables.opens):
            raise ValueError(f"{t} is past the calendar's last session {self.last_session}")
        return _utc(tables.opens[idx + 1])

    def session_of(self, t: datetime) -> date | None:
        """The session whose [open, close) contains the instant `t`, else None."""
        idx = self._index_containing(_epoch(t))
        return None if idx is None else _tables().days[idx].item()

    def _index_of_day(self, day: date) -> int | None:
        if isinstance(day, datetime):  # a datetime is a date too; its day is meant
            day = day.date()
        days = _tables().days
        key = np.datetime64(day, "D")
        idx = int(np.searchsorted(days, key))
        return idx if idx < len(days) and days[idx] == key else None

    def _index_containing(self, seconds: float) -> int | None:
        tables = _tables()
        idx = int(np.searchsorted(tables.opens, seconds, side="right")) - 1
        if idx >= 0 and seconds < tables.closes[idx]:
            return idx
        return None
