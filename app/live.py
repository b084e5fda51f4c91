"""Composing the live path: alpaca-py clients from settings, the broker clock, the checks."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import requests
from alpaca.common.exceptions import APIError
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.trading.client import TradingClient

from app.broker.alpaca import AlpacaBroker, AlpacaLimits
from app.market.alpaca import AlpacaMarketData
from app.market.calendar import SessionCalendar
from app.settings import ArenaSettings

log = logging.getLogger(__name__)
ONE_MINUTE = timedelta(minutes=1)


class LiveConfigError(ValueError):
    """The settings do not allow trading through Alpaca (the message says what to set)."""


def alpaca_clients(settings: ArenaSettings) -> tuple[TradingClient, StockHistoricalDataClient]:
    """The two alpaca-py clients; refuses live (non-paper) trading without explicit consent."""
    if settings.alpaca_api_key is None or settings.alpaca_secret_key is None:
        raise LiveConfigError(
            "set ARENA_ALPACA_API_KEY and ARENA_ALPACA_SECRET_KEY (environment or .env)"
        )
    if not settings.alpaca_paper and not settings.alpaca_live_confirmed:
        raise LiveConfigError(
            "ARENA_ALPACA_PAPER=false trades real money: also set ARENA_ALPACA_LIVE_CONFIRMED=true"
        )
    key = settings.alpaca_api_key.get_secret_value()
    secret = settings.alpaca_secret_key.get_secret_value()
    trading = TradingClient(
        key, secret, paper=settings.alpaca_paper, url_override=settings.alpaca_trading_url
    )
    data = StockHistoricalDataClient(key, secret, url_override=settings.alpaca_data_url)
    return trading, data


def alpaca_components(
    settings: ArenaSettings, universe: list[str], duration: timedelta | None = None
) -> tuple[AlpacaBroker, AlpacaMarketData, BrokerClock]:
    trading, data = alpaca_clients(settings)
    broker = AlpacaBroker(trading, AlpacaLimits(settings.alpaca_requests_per_minute))
    return (
        broker,
        AlpacaMarketData(data, universe, feed=settings.alpaca_feed),
        BrokerClock(broker.client.get_clock, duration),
    )


class BrokerClock:
    """Ticks on the broker's clock: each minute of an open market once it has closed.

    Following the broker's clock (not the host's) lets the same code run against Alpaca
    and against `arena emulator` replaying a session at any speed. A minute is yielded once,
    in order; a late look catches up on every missed minute.
    """

    def __init__(
        self,
        read_clock: Callable[[], object],
        duration: timedelta | None = None,
        delay: timedelta = timedelta(seconds=2),
        poll_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        is_trading_minute: Callable[[datetime], bool] | None = None,
        idle_seconds: float = 1.0,
    ) -> None:
        self._read = read_clock
        self.is_trading_minute = is_trading_minute or SessionCalendar().is_session_minute
        self.delay = delay
        self.poll_seconds = poll_seconds
        self._sleep = sleep
        self.duration = duration
        # Called with the broker's time while waiting for a minute (the engine books fills
        # there); at most every idle_seconds, since each call may cost a request.
        self.idle: Callable[[datetime], None] | None = None
        self.idle_seconds = idle_seconds

    def ticks(self) -> Iterator[datetime]:
        now = self._now_when_answered()
        next_minute = now.replace(second=0, microsecond=0)
        end = None if self.duration is None else next_minute + self.duration
        idled: datetime | None = None
        while end is None or next_minute < end:
            now = self._now_when_answered()
            if now < next_minute + ONE_MINUTE + self.delay:
                if self.idle is not None and (
                    idled is None or (now - idled).total_seconds() >= self.idle_seconds
                ):
                    idled = now
                    self.idle(now)
                self._sleep(self.poll_seconds)
                continue
            if self.is_trading_minute(next_minute):  # nights and weekends are skipped
                yield next_minute
            next_minute += ONE_MINUTE

    def now(self) -> datetime:
        """The broker's time now."""
        return self._now_when_answered()

    def _now_when_answered(self) -> datetime:
        """The broker's time; a failed read (429, 5xx, network) is tried again, not fatal."""
        while True:
            try:
                return _utc(self._read().timestamp)  # type: ignore[attr-defined]
            except (APIError, requests.RequestException) as error:
                log.warning("reading the broker's clock failed (%s); trying again", error)
                self._sleep(self.poll_seconds)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
