"""A deterministic synthetic minute-bar market, for the demo and for tests.

Log returns follow a one-factor model: each minute a common market shock times a per-symbol
beta, plus idiosyncratic noise, so symbols move together. Volatility and volume follow a
U-shaped intraday profile (busy at the open and the close, quiet at lunch), each session
opens with an overnight gap, prices are in cents, volumes are positive whole shares.

Everything comes from one seeded numpy Generator consumed in a fixed order, one step per
session minute from the first session on or after `start`. So the bars of a minute depend
only on the seed, the symbols and the minute — not on which earlier minutes were asked for:
skipping ahead generates (and discards) the minutes in between. About 0.2% of symbol-minutes
have no bar at all, as thin names do in real data.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np

from app.domain.models import Bar
from app.market.calendar import SessionCalendar

_SESSIONS = SessionCalendar()  # the session close rule (decision 0023)

TICKERS = (
    "ACMX", "BLVD", "CRUX", "DYNQ", "EMBR", "FJRD", "GLYP", "HVNS",
    "IONZ", "JUNO", "KYTE", "LUMQ", "MRLN", "NOVX", "ORBT", "PYRX",
)  # fmt: skip
GAP_PROBABILITY = 0.002  # share of symbol-minutes without a bar
_MARKET_SIGMA = 0.0008  # per-minute market shock at the profile's mean (≈1.6% a day)
_OVERNIGHT_SIGMA = 0.006  # market gap between sessions
_OVERNIGHT_IDIO_SIGMA = 0.008  # each symbol's own news overnight
_SHARES_PER_TRADE = 120.0


def ticker_names(count: int) -> list[str]:
    """`count` made-up tickers: the fixed list first, then SYN0016, SYN0017, ..."""
    if count < 1:
        raise ValueError(f"need at least one symbol, got {count}")
    return [TICKERS[i] if i < len(TICKERS) else f"SYN{i:04d}" for i in range(count)]


def _u_shape(position: float) -> float:
    """0 at mid-session, 1 at the open and the close."""
    return (2.0 * position - 1.0) ** 2


class SyntheticMarket:
    """Seeded synthetic bars for any session minute, generated in increasing order."""

    def __init__(
        self, symbols: int | list[str] = 8, seed: int = 7, start: date = date(2026, 3, 2)
    ) -> None:
        names = ticker_names(symbols) if isinstance(symbols, int) else list(symbols)
        if not names or len(set(names)) != len(names) or not all(names):
            raise ValueError(f"symbols must be distinct non-empty names, got {symbols!r}")
        self.universe: list[str] = names
        self._calendar = SessionCalendar()
        self._start = start
        self._rng = np.random.default_rng(seed)
        size = len(names)
        rng = self._rng
        self._close = np.round(np.exp(rng.uniform(np.log(20.0), np.log(500.0), size)), 2)
        self._beta = rng.uniform(0.6, 1.4, size)
        self._idio_sigma = rng.uniform(0.0005, 0.0012, size)
        # Cheaper stocks trade more shares: about $0.3M-$3M a minute at the profile's mean.
        self._base_volume = rng.uniform(3e5, 3e6, size) / self._close
        first = self._calendar.sessions_from(start, 1)[0]
        self._day = first
        self._day_minutes = self._calendar.session_minutes(first)
        self._position = 0  # index in `_day_minutes` of the next minute to generate
        self._last: datetime | None = None
        self._last_bars: dict[str, Bar] = {}

    def minutes(self, sessions: int = 1) -> list[datetime]:
        """The session minutes of the first `sessions` sessions from `start`."""
        days = self._calendar.sessions_from(self._start, sessions)
        return [m for day in days for m in self._calendar.session_minutes(day)]

    def is_session_close(self, minute: datetime) -> bool:
        """The session's last minute: its signals expire (decision 0023)."""
        return _SESSIONS.is_session_close(minute)

    def bars(self, minute: datetime) -> dict[str, Bar]:
        """The bars of `minute` (naive = UTC); never earlier than the last minute asked."""
        if minute.tzinfo is None:
            minute = minute.replace(tzinfo=UTC)
        minute = minute.astimezone(UTC)
        if self._last is not None and minute <= self._last:
            if minute == self._last:
                return dict(self._last_bars)
            raise ValueError(f"{minute.isoformat()} is before the last generated {self._last}")
        if not self._calendar.is_session_minute(minute):
            raise ValueError(f"{minute.isoformat()} is not a session minute")
        if minute < self._day_minutes[0]:
            raise ValueError(f"{minute.isoformat()} is before the first session {self._day}")
        while True:
            current, position, opening = self._next_slot()
            columns = self._step(position, opening)
            if current == minute:
                break
        self._last = minute
        self._last_bars = self._to_bars(minute, columns)
        return dict(self._last_bars)

    def _next_slot(self) -> tuple[datetime, float, bool]:
        """The next minute to generate, its place in the session (0..1), and if it opens it."""
        if self._position == len(self._day_minutes):
            self._day = self._calendar.sessions_from(self._day + timedelta(days=1), 1)[0]
            self._day_minutes = self._calendar.session_minutes(self._day)
            self._position = 0
        index = self._position
        self._position += 1
        place = index / max(1, len(self._day_minutes) - 1)
        return self._day_minutes[index], place, index == 0

    def _step(self, place: float, opening: bool) -> dict[str, np.ndarray]:
        """Advance every symbol by one minute; the draws happen in a fixed order."""
        rng, size = self._rng, len(self.universe)
        opens = self._close
        if opening:  # overnight: the session opens away from yesterday's close
            gap = self._beta * rng.normal(0.0, _OVERNIGHT_SIGMA) + rng.normal(
                0.0, _OVERNIGHT_IDIO_SIGMA, size
            )
            opens = np.maximum(np.round(opens * np.exp(gap), 2), 0.01)
        vol_scale = 0.6 + 1.2 * _u_shape(place)
        market = rng.standard_normal()
        noise = rng.standard_normal(size)
        wicks = np.abs(rng.standard_normal((2, size)))
        volume_noise = rng.standard_normal(size)
        missing = rng.random(size) < GAP_PROBABILITY
        sigma = self._idio_sigma * vol_scale
        returns = self._beta * market * _MARKET_SIGMA * vol_scale + noise * sigma
        closes = np.maximum(np.round(opens * np.exp(returns), 2), 0.01)
        top, bottom = np.maximum(opens, closes), np.minimum(opens, closes)
        # Rounding can pull a wick inside the body; the body bounds it.
        highs = np.maximum(np.round(top * np.exp(0.6 * wicks[0] * sigma), 2), top)
        lows = np.maximum(
            np.minimum(np.round(bottom * np.exp(-0.6 * wicks[1] * sigma), 2), bottom), 0.01
        )
        surprise = 1.0 + 0.5 * np.abs(returns) / sigma  # big moves draw volume
        volumes = self._base_volume * (0.5 + 2.5 * _u_shape(place)) * surprise
        volumes = np.maximum(np.round(volumes * np.exp(0.35 * volume_noise)), 1.0)
        self._close = closes
        return {
            "open": opens,
            "high": highs,
            "low": lows,
            "close": closes,
            "volume": volumes,
            "trade_count": np.maximum(np.round(volumes / _SHARES_PER_TRADE), 1.0),
            "vwap": np.clip(np.round((highs + lows + closes) / 3.0, 4), lows, highs),
            "present": ~missing,
        }

    def _to_bars(self, minute: datetime, columns: dict[str, np.ndarray]) -> dict[str, Bar]:
        values = {name: array.tolist() for name, array in columns.items()}
        return {
            symbol: Bar(
                symbol=symbol,
                timestamp=minute,
                open=values["open"][i],
                high=values["high"][i],
                low=values["low"][i],
                close=values["close"][i],
                volume=values["volume"][i],
                trade_count=values["trade_count"][i],
                vwap=values["vwap"][i],
            )
            for i, symbol in enumerate(self.universe)
            if values["present"][i]
        }
