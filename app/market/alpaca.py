"""The MarketData port over Alpaca's historical bars API (alpaca-py's StockHistoricalDataClient).

Each minute the engine asks for the just-closed minute of the whole universe in one
multi-symbol request (alpaca-py follows `next_page_token`). A bar that is late or absent is
a gap, never an error that stops trading. A request that fails is not a gap (decision
0028): a 429, a 5xx answer, a timeout or a dropped connection is asked again with backoff
(0.25 s doubling to 4 s, or as long as a 429's Retry-After says) within a deadline — 15 s
for a tick's minute, 60 s for a backfill — and once the deadline would pass,
`BarsUnavailableError` says why; the engine then treats the minute as missing and asks again
from it at its next tick (`bars_since`). A refusal that asking again cannot change (400,
401, 403, ...) raises at once. alpaca-py's own retries are off (app.alpaca.http), so these
are the only ones. `backfill` fetches a past session in one go.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from alpaca.common.exceptions import APIError
from alpaca.data.enums import DataFeed
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame

from app.alpaca.http import tune_client
from app.domain.models import Bar
from app.engine.ports import BarsUnavailableError
from app.market.calendar import SessionCalendar

_SESSIONS = SessionCalendar()  # the session close rule (decision 0023)

log = logging.getLogger(__name__)
ONE_MINUTE = timedelta(minutes=1)
# A tick is due 2 s after its minute closed and the next one 60 s later; with 15 s for the
# bars, 5 s for the strategies and the orders' moments, a tick whose bars came at the
# deadline still ends long before the next is due, so the clock never falls behind.
TICK_DEADLINE_SECONDS = 15.0
BACKFILL_DEADLINE_SECONDS = 60.0  # the warm-up: before the first tick, nothing waits
FIRST_WAIT_SECONDS = 0.25
MAX_WAIT_SECONDS = 4.0
MIN_ATTEMPT_SECONDS = 0.1  # less time than this left: not worth another request
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_FAILURES = (APIError, requests.RequestException, ValueError)


class AlpacaMarketData:
    """Minute bars of a fixed universe; implements the engine's MarketData port."""

    def __init__(
        self,
        client: StockHistoricalDataClient,
        universe: Sequence[str],
        feed: str = "iex",
        timeout_seconds: float = 10.0,
        deadline_seconds: float = TICK_DEADLINE_SECONDS,
        backfill_deadline_seconds: float = BACKFILL_DEADLINE_SECONDS,
    ) -> None:
        self.client = client
        self.universe = sorted(universe)
        self.feed = DataFeed(feed)
        self.timeout = timeout_seconds
        self.deadline = deadline_seconds
        self.backfill_deadline = backfill_deadline_seconds
        self.failures = 0  # failed requests, retried or not
        tune_client(client, timeout_seconds)
        self._session = client._session  # type: ignore[attr-defined]  # its TimeoutSession

    def is_session_close(self, minute: datetime) -> bool:
        """The session's last minute: its signals expire (decision 0023)."""
        return _SESSIONS.is_session_close(minute)

    def bars(self, minute: datetime) -> dict[str, Bar]:
        """The bars that start at `minute`; symbols without one are gaps."""
        found = self._fetch(minute, minute + ONE_MINUTE, self.deadline)
        return {symbol: bars[-1] for symbol, bars in found.items() if bars[-1].timestamp == minute}

    def bars_since(self, first: datetime, minute: datetime) -> dict[datetime, dict[str, Bar]]:
        """Every minute's bars from `first` to `minute` (both included), by minute, in one
        request within a tick's deadline: how a missing minute is backfilled."""
        found = self._fetch(first, minute + ONE_MINUTE, self.deadline)
        by_minute: dict[datetime, dict[str, Bar]] = {}
        for symbol, bars in found.items():
            for bar in bars:
                if first <= bar.timestamp <= minute:
                    by_minute.setdefault(bar.timestamp, {})[symbol] = bar
        return {m: by_minute[m] for m in sorted(by_minute)}

    def backfill(
        self, start: datetime, end: datetime, deadline_seconds: float | None = None
    ) -> list[Bar]:
        """Every bar in [start, end), e.g. the previous session, in time order, retried
        within `deadline_seconds` (default: the backfill deadline)."""
        deadline = self.backfill_deadline if deadline_seconds is None else deadline_seconds
        found = self._fetch(start, end, deadline)
        return sorted((b for bars in found.values() for b in bars), key=lambda b: b.timestamp)

    def _fetch(self, start: datetime, end: datetime, deadline: float) -> dict[str, list[Bar]]:
        request = StockBarsRequest(
            symbol_or_symbols=self.universe,
            timeframe=TimeFrame.Minute,
            start=start.astimezone(UTC),
            end=(end - timedelta(seconds=1)).astimezone(UTC),  # Alpaca's end is inclusive
            feed=self.feed,
        )
        tries = _Tries(deadline)
        while True:
            tries.count += 1
            self._session.timeout = min(self.timeout, max(tries.left(), MIN_ATTEMPT_SECONDS))
            try:
                answer = self.client.get_stock_bars(request)
                found = {s: [_bar(s, raw) for raw in rows] for s, rows in answer.data.items()}
            except _FAILURES as error:
                self.failures += 1
                pause = tries.pause_after(error, self._session.timeout)  # or BarsUnavailableError
                log.warning(
                    "bars %s..%s: %s; asking again in %.2f s",
                    start.isoformat(),
                    end.isoformat(),
                    describe(error, self._session.timeout),
                    pause,
                )
                time.sleep(pause)
                continue
            return {s: bars for s, bars in found.items() if bars}


class _Tries:
    """The attempts of one fetch: when to ask again, and when to give up with the cause."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.started = time.monotonic()
        self.count = 0
        self.wait = FIRST_WAIT_SECONDS

    def left(self) -> float:
        return self.deadline - (time.monotonic() - self.started)

    def pause_after(self, error: Exception, timeout: float) -> float:
        """Seconds to wait before the next attempt; raises BarsUnavailableError if there is none."""
        cause = describe(error, timeout)
        status = _status(error)
        if status is not None and status not in RETRYABLE_STATUSES:
            raise self._unavailable(cause)
        asked = _retry_after(error)
        if asked is not None and asked + MIN_ATTEMPT_SECONDS > self.left():
            raise self._unavailable(f"{cause}, retry after {asked:g} s: beyond the deadline")
        pause = self.wait if asked is None else asked
        if pause + MIN_ATTEMPT_SECONDS > self.left():
            raise self._unavailable(cause)
        self.wait = min(2 * self.wait, MAX_WAIT_SECONDS)
        return pause

    def _unavailable(self, cause: str) -> BarsUnavailableError:
        spent = time.monotonic() - self.started
        attempts = "1 attempt" if self.count == 1 else f"{self.count} attempts"
        return BarsUnavailableError(f"{cause} ({attempts} in {spent:.1f} s)")


def describe(error: Exception, timeout: float) -> str:
    """A failed request in a few words, e.g. "HTTP 429 rate limit exceeded"."""
    if isinstance(error, APIError):
        try:
            message = str(error.message)
        except (ValueError, KeyError, TypeError):  # not Alpaca's JSON (a gateway's page)
            response = error.response
            message = str(getattr(response, "reason", "") or "")
        return f"HTTP {error.status_code} {message}".strip()[:200]
    if isinstance(error, requests.Timeout):
        return f"no answer within {timeout:g} s"
    if isinstance(error, requests.ConnectionError):
        return f"connection failed ({type(error).__name__})"
    if isinstance(error, requests.RequestException):
        return f"request failed ({type(error).__name__})"
    return f"unreadable answer ({str(error)[:120]})"


def _status(error: Exception) -> int | None:
    return error.status_code if isinstance(error, APIError) else None


def _retry_after(error: Exception) -> float | None:
    """A 429's (or 503's) Retry-After in seconds, if it gave one as a number."""
    response = error.response if isinstance(error, APIError) else None
    if response is None:
        return None
    try:
        seconds = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None  # absent, or an HTTP date: the backoff decides
    return max(seconds, 0.0)


def _bar(symbol: str, raw: Any) -> Bar:
    return Bar(
        symbol=symbol,
        timestamp=raw.timestamp.astimezone(UTC),
        open=float(raw.open),
        high=float(raw.high),
        low=float(raw.low),
        close=float(raw.close),
        volume=float(raw.volume),
        trade_count=None if raw.trade_count is None else float(raw.trade_count),
        vwap=None if raw.vwap is None else float(raw.vwap),
    )
