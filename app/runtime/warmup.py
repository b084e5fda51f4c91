"""Bars from before the host started, and the daily backfill, for a live market source.

After a start or a restart the strategies would otherwise see a window that begins at the
first live minute: the previous session and today's minutes so far are fetched in one go
and fed to the engine's bar history (and the lake). After each session the whole day is
fetched again into the lake, so a bar that came late or not at all during the day is there
for replays and research.

Both fetches are retried by the source (decision 0028): the warm-up within the source's
backfill deadline (60 s for Alpaca: nothing waits for it), the day-end backfill within
15 s, as it runs inside the next session's first tick. A warm-up that still fails says
so, with the cause, instead of reporting an empty history as if there were none; the host
starts anyway and the window fills minute by minute. A day-end backfill that fails is
logged and the lake keeps what the ticks wrote.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from app.domain.models import Bar
from app.domain.timefmt import to_rfc3339
from app.engine.ports import BarsUnavailableError
from app.market.calendar import SessionCalendar
from app.market.lake import BarLake

if TYPE_CHECKING:  # the competition's warm step calls in here
    from app.runtime.competition import Competition

log = logging.getLogger(__name__)
ONE_MINUTE = timedelta(minutes=1)
DAY_END_DEADLINE_SECONDS = 15.0  # a tick's (app.market.alpaca): it runs inside one


class Backfill(Protocol):
    """A source's fetch of every bar in [start, end), retried within its deadline or the
    one given; raises BarsUnavailableError when it could not (AlpacaMarketData.backfill)."""

    def __call__(
        self, start: datetime, end: datetime, deadline_seconds: float | None = None
    ) -> list[Bar]: ...


@dataclass(frozen=True, slots=True)
class Warmup:
    """What the warm-up fed the engine: `minutes` from `start`, or why it could not."""

    minutes: int
    start: datetime | None = None
    problem: str | None = None  # the history could not be fetched: the cause
    until: datetime | None = None  # the first minute not warmed: the clock starts there

    def describe(self) -> str:
        if self.problem is not None:
            return (
                f"could not be fetched ({self.problem}); strategies start with an empty "
                "window, which fills minute by minute"
            )
        if self.start is None:
            return "none (no session has begun yet)"
        return f"{self.minutes} minutes of the previous and current session"


def warm_history(
    competition: Competition,
    backfill: Backfill,
    now: datetime,
    calendar: SessionCalendar | None = None,
) -> Warmup:
    """Feed the previous session and today's minutes closed before `now` to the engine;
    the first live tick should be `Warmup.until`, so a minute that passes meanwhile (a slow
    warm-up, a recovery) is ticked late rather than never seen."""
    calendar = calendar or SessionCalendar()
    today = now.date()
    days = calendar.sessions(today - timedelta(days=10), today)
    earlier = [d for d in days if calendar.session_minutes(d)[0] < now]
    if not earlier:
        return Warmup(0)
    first = earlier[-2] if len(earlier) > 1 else earlier[-1]
    start = calendar.session_minutes(first)[0]
    end = now.replace(second=0, microsecond=0)
    try:
        bars = backfill(start, end)
    except Exception as error:  # BarsUnavailableError, or an adapter's own: said, not fatal
        log.error("the bar history from %s could not be fetched: %s", to_rfc3339(start), error)
        cause = str(error) if isinstance(error, BarsUnavailableError) else repr(error)
        return Warmup(0, start, cause, until=end)
    by_minute: dict[datetime, dict[str, Bar]] = defaultdict(dict)
    for bar in bars:
        by_minute[bar.timestamp][bar.symbol] = bar
    warmed = competition.warm(by_minute[minute] for minute in sorted(by_minute))
    log.info("bar history warmed with %d minutes from %s", warmed, start)
    return Warmup(warmed, start, until=end)


def backfill_session(
    lake: BarLake,
    backfill: Backfill,
    day: date,
    calendar: SessionCalendar | None = None,
    deadline_seconds: float = DAY_END_DEADLINE_SECONDS,
) -> None:
    """A finished session's bars, all of them, into the lake (the competition's day-end)."""
    minutes = (calendar or SessionCalendar()).session_minutes(day)
    if not minutes:
        return
    try:
        lake.add(backfill(minutes[0], minutes[-1] + ONE_MINUTE, deadline_seconds=deadline_seconds))
    except Exception as error:  # inside a tick: a data failure never stops trading
        log.warning("the bars of %s could not be fetched again for the lake: %r", day, error)
    lake.flush()
