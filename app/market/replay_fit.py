"""Does a reading of an input's timestamps fit the exchange's calendar (decision 0026)?

A reading answers the questions the flags left open: the zone of timestamps written
without one (UTC or New York time) and which edge of its minute a stamp names (the bar's
start or end). Each reading is scored on the trading days it puts bars on, two ways:

- **edges**: one for a day whose first bar opens a session (09:30, or 04:00) and one for a
  day whose last bar is the minute before a close (15:59 or 19:59, early closes included);
- **busiest stretch**: one for a day whose regular session holds as many of the day's bar
  minutes as any stretch of the session's length does (the session is the day's busiest
  part). Sparse pre-market and after-hours bars put no bar on an edge, but they do not
  move the busy block that the regular session makes.

Another reading refuses the one given when it scores strictly higher on one measure, on
at least half of the days, and no lower on the other: a replay whose every fill is hours
or a minute off is worse than no replay. When another reading scores higher but not that
clearly, or the same on an input that holds a whole day (bars spanning a session's
length), the evidence does not settle the question: the input is read as given and a
warning names the flags. A partial day proves nothing and is read as given in silence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from app.market.calendar import SessionCalendar
from app.market.replay_checks import AFTER_HOURS_SECONDS, SessionDays
from app.market.replay_problems import ReplayDataError
from app.market.replay_reading import ReplayOptions
from app.market.replay_rows import NEW_YORK


@dataclass(frozen=True, slots=True)
class _Reading:
    tz: str  # the zone of naive timestamps
    labels: str  # which edge of its minute a timestamp names

    def flags(self, dims: Iterable[str]) -> str:
        return " ".join(f"--{d} {getattr(self, d)}" for d in dims)

    def changed(self, other: _Reading, dims: Iterable[str]) -> list[str]:
        return [d for d in dims if getattr(self, d) != getattr(other, d)]


@dataclass(frozen=True, slots=True)
class _Fit:
    edges: int  # days whose first bar opens a session + days whose last bar ends one
    busy: int  # days whose regular session is their busiest stretch
    days: int  # trading days with bars
    whole: bool  # some day's bars span at least its regular session
    example: str  # the first trading day's bars, New York time

    def refutes(self, given: _Fit) -> bool:
        """Strictly better on one measure, on at least half of the days, no worse on the
        other."""
        by_edges, by_busy = self._clearly_over(given)
        return (by_edges and self.busy >= given.busy) or (by_busy and self.edges >= given.edges)

    def doubts(self, given: _Fit) -> bool:
        """As good on an input that holds a whole day, or better on some measure unless
        only the given reading is clearly better on the other."""
        if self.key == given.key:
            return given.whole
        if self.edges <= given.edges and self.busy <= given.busy:
            return False
        return any(self._clearly_over(given)) or not any(given._clearly_over(self))

    def _clearly_over(self, other: _Fit) -> tuple[bool, bool]:
        """Strictly better, on at least half of the days: by edges, by the busiest stretch."""
        return (
            self.edges > other.edges and self.edges >= self.days,
            self.busy > other.busy and 2 * self.busy >= self.days,
        )

    @property
    def key(self) -> tuple[int, int]:
        return self.edges, self.busy


def check_fit(
    source: str, seconds: np.ndarray, naive: np.ndarray, options: ReplayOptions
) -> str | None:
    """Refuse a reading the calendar contradicts while another fits; a warning when the
    bars do not settle the open questions (module docstring)."""
    dims = [d for d, said in (("tz", options.tz), ("labels", options.labels)) if said is None]
    if not naive.any() and "tz" in dims:
        dims.remove("tz")  # every timestamp carries its zone: nothing to ask
    if not dims or not len(seconds):
        return None
    keys = np.unique(seconds * 2 + naive)  # each distinct (minute, naive) once
    seconds, naive = keys // 2, (keys % 2).astype(bool)
    days = SessionDays(SessionCalendar())
    given = _Reading(options.tz or "UTC", options.labels or "start")
    fit = _fit(seconds, days)
    others = [
        (other, _fit(_reread(seconds, naive, given, other), days))
        for other in _alternatives(given, dims)
    ]
    refuting = [(other, found) for other, found in others if found.refutes(fit)]
    if refuting:
        best, _ = max(refuting, key=lambda pair: pair[1].key)
        changed = best.changed(given, dims)
        raise ReplayDataError(
            f"{source}: the timestamps do not fit the exchange's sessions as read "
            f"({_describe(given, dims)}): {fit.example}; they fit as {_describe(best, dims)}: "
            f"pass {best.flags(changed)} (or {given.flags(changed)} to read them as they are)"
        )
    doubting = [(other, found) for other, found in others if found.doubts(fit)]
    return _doubt(given, fit, doubting, dims) if doubting else None


def _doubt(
    given: _Reading, fit: _Fit, doubting: list[tuple[_Reading, _Fit]], dims: list[str]
) -> str:
    """The warning for a reading the bars do not settle: each open question's answers."""
    best, found = max(doubting, key=lambda pair: pair[1].key)
    open_dims = [d for d in dims if any(getattr(o, d) != getattr(given, d) for o, _ in doubting)]
    answers = {d: {getattr(o, d) for o, _ in doubting} - {getattr(given, d)} for d in open_dims}
    choices = ", and ".join(
        " or ".join(f"--{d} {value}" for value in [getattr(given, d), *sorted(answers[d])])
        for d in open_dims
    )
    as_read = f"as read ({_describe(given, open_dims)}; {fit.example})"
    if found.key > fit.key:
        changed = best.changed(given, open_dims)
        how = f"better as {_describe(best, changed)} than {as_read}, but not clearly"
    else:
        how = f"as well read otherwise {as_read}"
    return (
        f"the bars do not settle how to read their timestamps: they fit the exchange's "
        f"sessions {how}; read as given; say which with {choices}"
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


def _fit(seconds: np.ndarray, days: SessionDays) -> _Fit:
    """Score one reading's bar starts (epoch seconds) against the sessions."""
    seconds = np.unique(seconds)  # sorted
    local = np.asarray(
        pd.to_datetime(seconds, unit="s", utc=True).tz_convert(NEW_YORK).date, dtype=object
    )
    starts = [0, *(np.flatnonzero(local[1:] != local[:-1]) + 1).tolist()]
    edges = busy = count = 0
    whole = False
    example = ""
    for lo, hi in zip(starts, [*starts[1:], len(seconds)], strict=True):
        bounds = days.bounds(local[lo])
        if bounds is None:
            continue
        early, opening, close = bounds
        day = seconds[lo:hi]
        count += 1
        edges += int(day[0] in (early, opening)) + int(
            day[-1] + 60 in (close, close + AFTER_HOURS_SECONDS)
        )
        held, densest, block = _stretches(day, opening, close)
        busy += int(held == densest)
        whole |= bool(day[-1] - day[0] + 60 >= close - opening)
        if not example:
            example = _example(local[lo], day, block, close - opening)
    return _Fit(edges, busy, count, whole, example)


def _stretches(day: np.ndarray, opening: int, close: int) -> tuple[int, int, int]:
    """Bar minutes in the regular session, the most in any stretch of its length, and
    where the first such stretch starts (`day`: one day's sorted bar starts)."""
    length = close - opening
    held = int(np.searchsorted(day, close) - np.searchsorted(day, opening))
    counts = np.searchsorted(day, day + length) - np.arange(len(day))
    first = int(np.argmax(counts))
    return held, int(counts[first]), int(day[first])


def _example(day: date, bars: np.ndarray, block: int, length: int) -> str:
    return (
        f"on {day} the first bar is at {_clock(bars[0])} and the last at {_clock(bars[-1])} "
        f"New York time, the busiest {length // 60} minutes from {_clock(block)}"
    )


def _clock(seconds: int) -> str:
    return pd.Timestamp(int(seconds), unit="s", tz="UTC").tz_convert(NEW_YORK).strftime("%H:%M")
