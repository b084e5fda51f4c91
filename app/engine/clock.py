"""Clocks: which minutes the engine processes, and when.

A tick is named by its bar's minute (the minute's start) and is due once that minute
has closed. Every clock yields every minute exactly once, in order: replayed minutes
(ReplayClock), the host's wall clock (WallClock) and the broker's clock (BrokerClock),
the last two through one catch-up loop (MinuteClock).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta

ONE_MINUTE = timedelta(minutes=1)


def floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


class ReplayClock:
    """Replayed minutes, as fast as possible or at `speed` minutes per second."""

    def __init__(
        self,
        minutes: Sequence[datetime],
        speed: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive (minutes per second)")
        self.minutes = minutes
        self.speed = speed
        self._sleep = sleep
        self._monotonic = monotonic

    def ticks(self) -> Iterator[datetime]:
        started = self._monotonic()
        for index, minute in enumerate(self.minutes):
            if self.speed is not None:
                # Pace against the start, not the previous tick, so delays do not add up.
                wait = started + index / self.speed - self._monotonic()
                if wait > 0:
                    self._sleep(wait)
            yield minute


class MinuteClock:
    """The catch-up loop every live clock shares: each minute once, in order, when it is due.

    A tick is due `delay` after its minute closed (bars need a moment to be published). A
    look that comes late (a slow tick, a suspended laptop) yields every missed minute in
    order, never skipping one and never yielding one twice. `is_trading_minute` (e.g. the
    session calendar) filters minutes out without breaking the order. Subclasses say what
    "now" is and how to wait.
    """

    def __init__(
        self,
        now: Callable[[], datetime],
        duration: timedelta | None = None,
        delay: timedelta = timedelta(seconds=2),
        is_trading_minute: Callable[[datetime], bool] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._now = now
        self.duration = duration
        self.delay = delay
        self.is_trading_minute = is_trading_minute
        self._sleep = sleep

    def now(self) -> datetime:
        return self._now()

    def ticks(self, start: datetime | None = None) -> Iterator[datetime]:
        """Each minute once it has closed (and `delay` has passed), from `start` (default:
        the minute now in progress); minutes already past are yielded at once, in order."""
        next_minute = floor_minute(start if start is not None else self._now())
        end = None if self.duration is None else next_minute + self.duration
        while end is None or next_minute < end:
            now = self._now()
            due = next_minute + ONE_MINUTE + self.delay
            if now < due:
                self._wait(now, due)
                continue  # read the time again: a wait may end early or late
            if self.is_trading_minute is None or self.is_trading_minute(next_minute):
                yield next_minute
            next_minute += ONE_MINUTE

    def _wait(self, now: datetime, due: datetime) -> None:
        self._sleep((due - now).total_seconds())


class WallClock(MinuteClock):
    """Wall-clock minutes, aligned to minute boundaries; the minute in progress at start is
    the first tick."""

    def __init__(
        self,
        duration: timedelta | None = None,
        delay: timedelta = timedelta(seconds=2),
        is_trading_minute: Callable[[datetime], bool] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(now, duration, delay, is_trading_minute, sleep)


class BrokerClock(MinuteClock):
    """Ticks on the broker's clock: each minute of an open market once it has closed.

    Following the broker's clock (not the host's) lets the same code run against Alpaca
    and against `arena emulator` replaying a session at any speed: the broker's time is
    read again every `poll_seconds` instead of slept towards. While it waits, `idle` (given
    to `ticks`) gets the broker's time (the engine books fills there), at most every
    `idle_seconds`, since each call may cost a request.
    """

    def __init__(
        self,
        now: Callable[[], datetime],
        is_trading_minute: Callable[[datetime], bool],
        duration: timedelta | None = None,
        delay: timedelta = timedelta(seconds=2),
        poll_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        idle_seconds: float = 1.0,
    ) -> None:
        super().__init__(now, duration, delay, is_trading_minute, sleep)
        self.poll_seconds = poll_seconds
        self.idle_seconds = idle_seconds
        self._idle: Callable[[datetime], None] | None = None
        self._idled: datetime | None = None

    def ticks(
        self, idle: Callable[[datetime], None] | None = None, start: datetime | None = None
    ) -> Iterator[datetime]:
        self._idle, self._idled = idle, None
        return super().ticks(start)

    def _wait(self, now: datetime, due: datetime) -> None:
        if self._idle is not None and (
            self._idled is None or (now - self._idled).total_seconds() >= self.idle_seconds
        ):
            self._idled = now
            self._idle(now)
        self._sleep(self.poll_seconds)
