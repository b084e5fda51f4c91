"""Clocks yield every minute once, in order, and catch up after a late wake-up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.engine.clock import ReplayClock, WallClock
from app.market.calendar import SessionCalendar


class FakeTime:
    """A wall clock the test moves: `sleep` advances it, plus any extra lateness queued."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.late: list[float] = []  # extra seconds added to upcoming sleeps
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        extra = self.late.pop(0) if self.late else 0.0
        self.now += timedelta(seconds=seconds + extra)


def at(hh: int, mm: int, ss: int = 0, day: int = 16) -> datetime:
    return datetime(2026, 3, day, hh, mm, ss, tzinfo=UTC)


def test_the_wall_clock_yields_each_minute_after_it_closes_plus_the_delay() -> None:
    time = FakeTime(at(14, 0, 30))
    clock = WallClock(duration=timedelta(minutes=3), now=lambda: time.now, sleep=time.sleep)
    seen = []
    for minute in clock.ticks():
        seen.append((minute, time.now))
    assert [m for m, _ in seen] == [at(14, 0), at(14, 1), at(14, 2)]
    # Each minute is handed out 2 s after it closed, not before.
    assert [t for _, t in seen] == [at(14, 1, 2), at(14, 2, 2), at(14, 3, 2)]


def test_a_late_wake_up_catches_up_every_missed_minute_in_order_without_repeats() -> None:
    time = FakeTime(at(14, 0, 30))
    time.late = [0.0, 250.0]  # the second sleep overruns by 4 min 10 s (a suspended laptop)
    clock = WallClock(duration=timedelta(minutes=8), now=lambda: time.now, sleep=time.sleep)
    ticks = list(clock.ticks())
    assert ticks == [at(14, m) for m in range(8)]
    assert len(set(ticks)) == len(ticks)


def test_a_tick_that_takes_longer_than_a_minute_does_not_skip_the_next_minute() -> None:
    time = FakeTime(at(14, 0, 59))
    clock = WallClock(duration=timedelta(minutes=4), now=lambda: time.now, sleep=time.sleep)
    ticks = []
    for minute in clock.ticks():
        ticks.append(minute)
        time.now += timedelta(seconds=95)  # the engine's work for this tick overran
    assert ticks == [at(14, m) for m in range(4)]


def test_the_calendar_filter_skips_closed_minutes_but_keeps_order() -> None:
    calendar = SessionCalendar()
    time = FakeTime(at(13, 27, 10))  # 09:27 New York: the session opens at 13:30 UTC
    clock = WallClock(
        duration=timedelta(minutes=6),
        is_trading_minute=calendar.is_session_minute,
        now=lambda: time.now,
        sleep=time.sleep,
    )
    assert list(clock.ticks()) == [at(13, 30), at(13, 31), at(13, 32)]


def test_the_replay_clock_runs_flat_out_or_paced_against_its_start() -> None:
    minutes = [at(14, m) for m in range(5)]
    assert list(ReplayClock(minutes).ticks()) == minutes

    now = [100.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    paced = ReplayClock(minutes, speed=2.0, sleep=sleep, monotonic=lambda: now[0])
    assert list(paced.ticks()) == minutes
    assert now[0] == pytest.approx(102.0)  # 4 intervals of half a second
    assert sleeps == pytest.approx([0.5, 0.5, 0.5, 0.5])


def test_the_replay_clock_refuses_a_non_positive_speed() -> None:
    with pytest.raises(ValueError, match="speed must be positive"):
        ReplayClock([], speed=0)
