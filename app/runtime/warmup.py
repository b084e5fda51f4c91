"""Bars from before the host started, and the daily backfill, for a live market source.

After a start or a restart the strategies would otherwise see a window that begins at the
first live minute: the previous session and today's minutes so far are fetched in one go
and fed to the engine's bar history (and the lake). After each session the whole day is
fetched again into the lake, so a bar that came late or not at all during the day is there
for replays and research.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from app.domain.models import Bar
from app.market.calendar import SessionCalendar
from app.market.lake import BarLake

if TYPE_CHECKING:  # the competition's warm step calls in here
    from app.runtime.competition import Competition

log = logging.getLogger(__name__)
ONE_MINUTE = timedelta(minutes=1)
Backfill = Callable[[datetime, datetime], list[Bar]]


def warm_history(
    competition: Competition,
    backfill: Backfill,
    now: datetime,
    calendar: SessionCalendar | None = None,
) -> int:
    """Feed the previous session and today's closed minutes to the engine; returns minutes."""
    calendar = calendar or SessionCalendar()
    today = now.date()
    days = calendar.sessions(today - timedelta(days=10), today)
    earlier = [d for d in days if calendar.session_minutes(d)[0] < now]
    if not earlier:
        return 0
    first = earlier[-2] if len(earlier) > 1 else earlier[-1]
    start = calendar.session_minutes(first)[0]
    end = now.replace(second=0, microsecond=0)
    by_minute: dict[datetime, dict[str, Bar]] = defaultdict(dict)
    for bar in backfill(start, end):
        by_minute[bar.timestamp][bar.symbol] = bar
    warmed = competition.warm(by_minute[minute] for minute in sorted(by_minute))
    log.info("bar history warmed with %d minutes from %s", warmed, start)
    return warmed


def backfill_session(
    lake: BarLake, backfill: Backfill, day: date, calendar: SessionCalendar | None = None
) -> None:
    """A finished session's bars, all of them, into the lake (the competition's day-end)."""
    minutes = (calendar or SessionCalendar()).session_minutes(day)
    if minutes:
        lake.add(backfill(minutes[0], minutes[-1] + ONE_MINUTE))
        lake.flush()
