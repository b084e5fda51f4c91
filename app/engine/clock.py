"""Clocks: which minutes the engine processes, and when.

A tick is named by its bar's minute (the minute's start) and is due once that minute
has closed. Both clocks yield every minute exactly once, in order.
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


class WallClock:
    """Wall-clock minutes, aligned to minute boundaries.

    The minute in progress at start is the first tick; it is due `delay` after it
    closes (bars need a moment to be published). A wake-up that comes late — a slow
    tick, a suspended laptop — yields every missed minute in order, never skipping
    one and never yielding one twice. `is_trading_minute` (e.g. the session calendar)
    filters minutes out without breaking the order.
    """

    def __init__(
        self,
        duration: timedelta | None = None,
        delay: timedelta = timedelta(seconds=2),
        is_trading_minute: Callable[[datetime], bool] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.duration = duration
        self.delay = delay
        self.is_trading_minute = is_trading_minute
        self._now = now
        self._sleep = sleep

    def ticks(self) -> Iterator[datetime]:
        next_minute = floor_minute(self._now())
        end = None if self.duration is None else next_minute + self.duration
        while end is None or next_minute < end:
            due = next_minute + ONE_MINUTE + self.delay
            wait = (due - self._now()).total_seconds()
            if wait > 0:
                self._sleep(wait)
                continue  # re-read the time: a sleep may end early or late
            if self.is_trading_minute is None or self.is_trading_minute(next_minute):
                yield next_minute
            next_minute += ONE_MINUTE
