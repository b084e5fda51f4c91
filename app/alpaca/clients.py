"""The alpaca-py clients from the host's settings, and the broker's clock read through them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import requests
from alpaca.common.exceptions import APIError
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.trading.client import TradingClient

from app.config.settings import ArenaSettings
from app.engine.clock import BrokerClock
from app.market.calendar import SessionCalendar

log = logging.getLogger(__name__)


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


def broker_time(
    read_clock: Callable[[], object],
    retry_seconds: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> Callable[[], datetime]:
    """The broker's time in UTC; a failed read (429, 5xx, network) is tried again, not fatal."""

    def now() -> datetime:
        while True:
            try:
                return read_clock().timestamp.astimezone(UTC)  # type: ignore[attr-defined]
            except (APIError, requests.RequestException) as error:
                log.warning("reading the broker's clock failed (%s); trying again", error)
                sleep(retry_seconds)

    return now


def alpaca_clock(
    read_clock: Callable[[], object],
    duration: timedelta | None = None,
    sleep: Callable[[float], None] = time.sleep,
    idle_seconds: float = 1.0,
) -> BrokerClock:
    """The engine's clock on the broker's time (`TradingClient.get_clock`), session minutes."""
    return BrokerClock(
        broker_time(read_clock, sleep=sleep),
        SessionCalendar().is_session_minute,
        duration=duration,
        sleep=sleep,
        idle_seconds=idle_seconds,
    )
