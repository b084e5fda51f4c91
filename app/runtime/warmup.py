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

from app.domain.models import Bar
from app.domain.numbers import price_from_float
from app.market.calendar import SessionCalendar
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
    engine = competition.engine
    for minute in sorted(by_minute):
        bars = by_minute[minute]
        engine.history.append_minute(bars)
        for symbol, bar in bars.items():
            engine.prices[symbol] = price_from_float(bar.close)
    competition.lake.flush()
    log.info("bar history warmed with %d minutes from %s", len(by_minute), start)
    return len(by_minute)


def daily_backfill(competition: Competition, backfill: Backfill) -> Callable[[date], None]:
    """A day-end hook: the finished session's bars, all of them, into the lake."""
    calendar = SessionCalendar()

    def after_session(day: date) -> None:
        minutes = calendar.session_minutes(day)
        if minutes:
            competition.lake.add(backfill(minutes[0], minutes[-1] + ONE_MINUTE))
        competition.end_of_day(day)

    return after_session
