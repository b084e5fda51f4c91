"""Does a reading of an input fit the exchange's calendar, and which minutes it replays.

**Zone and labels.** A trading day's first bar opens a session (09:30 New York, or 04:00
with extended hours) and its last bar is the minute before a close (15:59 or 19:59, early
closes included). A reading of the timestamps (naive ones as UTC or as New York time; each
labelling its bar's start or end) is scored by how many trading days begin and end that
way. When the flags left a question open and another answer fits strictly better, on at
least half of the days' edges, the load is refused with the flags that read the input
right: a replay whose every fill is an hour or a minute off is worse than no replay. A
partial day proves nothing and is read as given.

**Hours.** The regular session by default; `extended` adds 04:00 to the close + 4 h
(20:00, or 17:00 after an early close). Every other minute is dropped and counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time

import numpy as np
import pandas as pd

from app.market.calendar import SessionCalendar
from app.market.replay_problems import ReplayDataError
from app.market.replay_reading import Dropped, ReplayOptions
from app.market.replay_rows import NEW_YORK

PRE_MARKET = "before the regular session (pre-market)"
AFTER_HOURS = "after the regular session (after hours)"
OVERNIGHT = "outside extended hours (04:00 to 4 hours after the close, New York)"
NO_SESSION = "not a trading day"
_ORDER = (PRE_MARKET, AFTER_HOURS, OVERNIGHT, NO_SESSION)
_EXTENDED_OPEN = time(4, 0)
_AFTER_HOURS = 4 * 3600  # seconds after the close that extended hours run on


@dataclass(frozen=True, slots=True)
class _Reading:
    tz: str  # the zone of naive timestamps
    labels: str  # which edge of its minute a timestamp names

    def flags(self, dims: Iterable[str]) -> str:
        return " ".join(f"--{d} {getattr(self, d)}" for d in dims)


@dataclass(frozen=True, slots=True)
class _Fit:
    score: int  # days whose first bar opens a session + days whose last bar ends one
    days: int  # trading days with bars
    example: str  # the first trading day's first and last bar, New York time


class _Days:
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


def check_fit(source: str, seconds: np.ndarray, naive: np.ndarray, options: ReplayOptions) -> None:
    """Refuse a reading the calendar contradicts while another fits (module docstring)."""
    dims = [d for d, said in (("tz", options.tz), ("labels", options.labels)) if said is None]
    if not naive.any() and "tz" in dims:
        dims.remove("tz")  # every timestamp carries its zone: nothing to ask
    if not dims or not len(seconds):
        return
    keys = np.unique(seconds * 2 + naive)  # each distinct (minute, naive) once
    seconds, naive = keys // 2, (keys % 2).astype(bool)
    days = _Days(SessionCalendar())
    given = _Reading(options.tz or "UTC", options.labels or "start")
    fit = _fit(seconds, days)
    best, best_fit = given, fit
    for other in _alternatives(given, dims):
        shifted = _reread(seconds, naive, given, other)
        candidate = _fit(shifted, days)
        if candidate.score > best_fit.score:
            best, best_fit = other, candidate
    if best != given and best_fit.score >= best_fit.days:
        changed = [d for d in dims if getattr(best, d) != getattr(given, d)]
        raise ReplayDataError(
            f"{source}: the timestamps do not fit the exchange's sessions as read "
            f"({_describe(given, dims)}): {fit.example}; they fit as {_describe(best, dims)}: pass "
            f"{best.flags(changed)} (or {given.flags(changed)} to read them as they are)"
        )


def _alternatives(given: _Reading, dims: list[str]) -> list[_Reading]:
    """Every other answer to the questions the flags left open."""
    zones = [given.tz]
    if "tz" in dims:
        zones.append("America/New_York" if given.tz == "UTC" else "UTC")
    labels = [given.labels]
    if "labels" in dims:
        labels.append("end" if given.labels == "start" else "start")
    readings = [_Reading(tz, edge) for tz in zones for edge in labels]
    return [r for r in readings if r != given]


def _describe(reading: _Reading, dims: list[str]) -> str:
    """The reading, in the questions that were open."""
    said = {
        "tz": f"times without a zone in {reading.tz}",
        "labels": f"each labelling its bar's {reading.labels}",
    }
    return ", ".join(said[d] for d in dims)


def _reread(seconds: np.ndarray, naive: np.ndarray, given: _Reading, other: _Reading) -> np.ndarray:
    """The bar starts `other` would give, from the ones `given` gave."""
    result = seconds.copy()
    if other.tz != given.tz and naive.any():
        moments = pd.to_datetime(seconds[naive], unit="s", utc=True).tz_convert(given.tz)
        wall = moments.tz_localize(None)
        standard = np.zeros(len(wall), dtype=bool)
        local = wall.tz_localize(other.tz, ambiguous=standard, nonexistent="shift_forward")
        result[naive] = local.tz_convert("UTC").tz_localize(None).as_unit("s").asi8
    if other.labels != given.labels:
        result += -60 if other.labels == "end" else 60
    return result


def _fit(seconds: np.ndarray, days: _Days) -> _Fit:
    local = pd.to_datetime(seconds, unit="s", utc=True).tz_convert(NEW_YORK)
    edges = (
        pd.DataFrame({"day": local.date, "ts": seconds}).groupby("day")["ts"].agg(["min", "max"])
    )
    score = count = 0
    example = ""
    for day, first, last in edges.itertuples():
        bounds = days.bounds(day)
        if bounds is None:
            continue
        early, opening, close = bounds
        count += 1
        score += int(first in (early, opening)) + int(last + 60 in (close, close + _AFTER_HOURS))
        if not example:
            example = (
                f"on {day} the first bar is at {_clock(first)} and the last at "
                f"{_clock(last)} New York time"
            )
    return _Fit(score, count, example)


def _clock(seconds: int) -> str:
    return pd.Timestamp(int(seconds), unit="s", tz="UTC").tz_convert(NEW_YORK).strftime("%H:%M")


def select_hours(frame: pd.DataFrame, hours: str) -> tuple[pd.DataFrame, tuple[Dropped, ...]]:
    """The rows of replayed minutes, and what was dropped (reasons in a fixed order)."""
    if frame.empty:
        return frame, ()
    minutes, inverse = np.unique(frame["ts"].to_numpy(np.int64), return_inverse=True)
    reasons = _reasons(minutes, hours, _Days(SessionCalendar()))
    row_reasons = reasons[inverse]
    dropped = []
    for reason in _ORDER:
        bars = int((row_reasons == reason).sum())
        if bars:
            dropped.append(Dropped(reason, int((reasons == reason).sum()), bars))
    return frame[row_reasons == ""].reset_index(drop=True), tuple(dropped)


def _reasons(minutes: np.ndarray, hours: str, days: _Days) -> np.ndarray:
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
            if not early <= minute < close + _AFTER_HOURS:
                reasons[i] = OVERNIGHT
        elif minute < opening:
            reasons[i] = PRE_MARKET
        elif minute >= close:
            reasons[i] = AFTER_HOURS
    return reasons
