"""Which minutes of an input a replay keeps, by the exchange's calendar.

The regular session by default; `extended` adds 04:00 to the close + 4 h (20:00, or 17:00
after an early close). Every other minute is dropped and counted. Whether the input's
timestamps are read right at all is `app/market/replay_fit.py`.
"""

from __future__ import annotations

from datetime import date, datetime, time

import numpy as np
import pandas as pd

from app.market.calendar import SessionCalendar
from app.market.replay_reading import Dropped
from app.market.replay_rows import NEW_YORK

PRE_MARKET = "before the regular session (pre-market)"
AFTER_HOURS = "after the regular session (after hours)"
OVERNIGHT = "outside extended hours (04:00 to 4 hours after the close, New York)"
NO_SESSION = "not a trading day"
_ORDER = (PRE_MARKET, AFTER_HOURS, OVERNIGHT, NO_SESSION)
_EXTENDED_OPEN = time(4, 0)
AFTER_HOURS_SECONDS = 4 * 3600  # seconds after the close that extended hours run on


class SessionDays:
    """Each New York day's sessions in epoch seconds, looked up once per day."""

    def __init__(self, calendar: SessionCalendar) -> None:
        self._calendar = calendar
        self._cache: dict[date, tuple[int, int, int] | None] = {}

    def bounds(self, day: date) -> tuple[int, int, int] | None:
        """(extended open, open, close) of `day`, or None if it is not a trading day."""
        if day not in self._cache:
            found = self._calendar.session_bounds(day)
            early = datetime.combine(day, _EXTENDED_OPEN, NEW_YORK)
            self._cache[day] = (
                None
                if found is None
                else (int(early.timestamp()), int(found[0].timestamp()), int(found[1].timestamp()))
            )
        return self._cache[day]


def select_hours(frame: pd.DataFrame, hours: str) -> tuple[pd.DataFrame, tuple[Dropped, ...]]:
    """The rows of replayed minutes, and what was dropped (reasons in a fixed order)."""
    if frame.empty:
        return frame, ()
    minutes, inverse = np.unique(frame["ts"].to_numpy(np.int64), return_inverse=True)
    reasons = _reasons(minutes, hours, SessionDays(SessionCalendar()))
    row_reasons = reasons[inverse]
    dropped = []
    for reason in _ORDER:
        bars = int((row_reasons == reason).sum())
        if bars:
            dropped.append(Dropped(reason, int((reasons == reason).sum()), bars))
    return frame[row_reasons == ""].reset_index(drop=True), tuple(dropped)


def _reasons(minutes: np.ndarray, hours: str, days: SessionDays) -> np.ndarray:
    """Why each minute is dropped; '' where it is replayed."""
    local_days = pd.to_datetime(minutes, unit="s", utc=True).tz_convert(NEW_YORK).date
    reasons = np.full(len(minutes), "", dtype=object)
    for i, (minute, day) in enumerate(zip(minutes.tolist(), local_days, strict=True)):
        bounds = days.bounds(day)
        if bounds is None:
            reasons[i] = NO_SESSION
            continue
        early, opening, close = bounds
        if hours == "extended":
            if not early <= minute < close + AFTER_HOURS_SECONDS:
                reasons[i] = OVERNIGHT
        elif minute < opening:
            reasons[i] = PRE_MARKET
        elif minute >= close:
            reasons[i] = AFTER_HOURS
    return reasons
