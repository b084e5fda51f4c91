"""The MarketData port over Alpaca's historical bars API (alpaca-py's StockHistoricalDataClient).

Each minute the engine asks for the just-closed minute of the whole universe in one
multi-symbol request (alpaca-py follows `next_page_token`). A bar that is late or missing
is a gap, never an error that stops trading; a failed request is logged and the minute has
no bars (the reference prices carry forward). `backfill` fetches a past session in one go.
"""

from __future__ import annotations

import logging
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
from app.market.calendar import SessionCalendar

_SESSIONS = SessionCalendar()  # the session close rule (decision 0023)

log = logging.getLogger(__name__)
ONE_MINUTE = timedelta(minutes=1)


class AlpacaMarketData:
    """Minute bars of a fixed universe; implements the engine's MarketData port."""

    def __init__(
        self,
        client: StockHistoricalDataClient,
        universe: Sequence[str],
        feed: str = "iex",
        timeout_seconds: float = 10.0,
    ) -> None:
        self.client = client
        self.universe = sorted(universe)
        self.feed = DataFeed(feed)
        self.failures = 0
        tune_client(client, timeout_seconds)

    def is_session_close(self, minute: datetime) -> bool:
        """The session's last minute: its signals expire (decision 0023)."""
        return _SESSIONS.is_session_close(minute)

    def bars(self, minute: datetime) -> dict[str, Bar]:
        """The bars that start at `minute`; symbols without one are gaps."""
        found = self._fetch(minute, minute + ONE_MINUTE)
        return {symbol: bars[-1] for symbol, bars in found.items() if bars[-1].timestamp == minute}

    def backfill(self, start: datetime, end: datetime) -> list[Bar]:
        """Every bar in [start, end), e.g. the previous session, in time order."""
        found = self._fetch(start, end)
        return sorted((b for bars in found.values() for b in bars), key=lambda b: b.timestamp)

    def _fetch(self, start: datetime, end: datetime) -> dict[str, list[Bar]]:
        request = StockBarsRequest(
            symbol_or_symbols=self.universe,
            timeframe=TimeFrame.Minute,
            start=start.astimezone(UTC),
            end=(end - timedelta(seconds=1)).astimezone(UTC),  # Alpaca's end is inclusive
            feed=self.feed,
        )
        try:
            answer = self.client.get_stock_bars(request)
        except (APIError, requests.RequestException, ValueError) as error:
            self.failures += 1
            log.warning("bars %s..%s could not be fetched: %s", start, end, error)
            return {}
        return {s: [_bar(s, raw) for raw in rows] for s, rows in answer.data.items() if rows}


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
