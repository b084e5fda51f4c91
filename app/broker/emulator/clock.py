"""The emulator's replay clock: a list of steps over the replayed sessions.

"Now" starts at the first replayed minute's start. One step either closes one bar
minute (now moves to that minute's end and its bars go to the broker) or, after a
session's close, jumps to the next session's open (nothing closes). Every session minute
of a replayed day is a step, even one without any bar (a real gap); the step that
reaches a session's close also ends that session (day orders expire). Minutes outside
any session (synthetic data) are steps of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from app.market.calendar import SessionCalendar

MINUTE = timedelta(minutes=1)
NEW_YORK = ZoneInfo("America/New_York")


@dataclass(frozen=True, slots=True)
class Step:
    """Where one step leaves the clock, and what it closes."""

    now: datetime
    closes: datetime | None = None  # the bar minute whose bars this step delivers
    session_end: date | None = None  # the session whose close this step reaches


def build_steps(minutes: Sequence[datetime], calendar: SessionCalendar) -> list[Step]:
    """Steps for replayed bar minutes; steps[0] is the starting point."""
    if not minutes:
        raise ValueError("the replay source has no bars")
    first = min(minutes)
    days = {calendar.session_of(m) for m in minutes} - {None}
    feed = set(minutes)
    for day in days:
        feed.update(m for m in calendar.session_minutes(day) if m >= first)
    steps = [Step(first)]
    for minute in sorted(feed):
        day = calendar.session_of(minute)
        opening = day is not None and calendar.session_of(minute - MINUTE) != day
        if opening and steps[-1].now != minute:
            steps.append(Step(minute))  # the jump from a close to the next open
        end = minute + MINUTE
        ends = day if day is not None and calendar.session_of(end) != day else None
        steps.append(Step(end, minute, ends))
    return steps


class EmulatorClock:
    """A cursor over the steps, with Alpaca's clock fields for the current instant."""

    def __init__(self, minutes: Sequence[datetime], calendar: SessionCalendar | None = None):
        self.calendar = calendar or SessionCalendar()
        self.steps = build_steps(minutes, self.calendar)
        self.cursor = 0
        self._next: dict[int, tuple[datetime, datetime]] = {}

    @property
    def now(self) -> datetime:
        return self.steps[self.cursor].now

    @property
    def start(self) -> datetime:
        return self.steps[0].now

    @property
    def finished(self) -> bool:
        return self.cursor == len(self.steps) - 1

    def advance(self) -> Step | None:
        """Move one step; None when the replay is over."""
        if self.finished:
            return None
        self.cursor += 1
        return self.steps[self.cursor]

    def reset(self) -> None:
        self.cursor = 0

    def is_open(self) -> bool:
        return self.calendar.session_of(self.now) is not None

    def session(self) -> date | None:
        """The session now is in, else the NY date (for day-bound defaults)."""
        return self.calendar.session_of(self.now) or self.now.astimezone(NEW_YORK).date()

    def next_open_close(self) -> tuple[datetime, datetime]:
        """Alpaca's next_open (strictly after now) and next_close (the coming close)."""
        if self.cursor not in self._next:
            self._next[self.cursor] = self._find_next(self.now)
        return self._next[self.cursor]

    def _find_next(self, now: datetime) -> tuple[datetime, datetime]:
        today = now.astimezone(NEW_YORK).date()
        next_open: datetime | None = None
        next_close: datetime | None = None
        for day in self.calendar.sessions(today - timedelta(days=1), today + timedelta(days=14)):
            minutes = self.calendar.session_minutes(day)
            opens, closes = minutes[0], minutes[-1] + MINUTE
            if next_open is None and opens > now:
                next_open = opens
            if next_close is None and closes > now:
                next_close = closes
            if next_open and next_close:
                return next_open, next_close
        raise ValueError(f"no session within two weeks of {now}")

    def sessions(self, start: date, end: date) -> list[tuple[date, datetime, datetime]]:
        """(day, open, close) for every session from start to end."""
        rows = []
        for day in self.calendar.sessions(start, end):
            minutes = self.calendar.session_minutes(day)
            rows.append((day, minutes[0], minutes[-1] + MINUTE))
        return rows
