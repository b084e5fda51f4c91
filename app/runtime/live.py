"""Composing the live path: Alpaca's broker, market data and clock from the settings."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import requests
from alpaca.common.exceptions import APIError

from app.alpaca.clients import alpaca_clients
from app.broker.alpaca import AlpacaBroker, AlpacaLimits
from app.config.settings import ArenaSettings
from app.engine.clock import BrokerClock
from app.market.alpaca import AlpacaMarketData
from app.market.calendar import SessionCalendar

log = logging.getLogger(__name__)


def alpaca_components(
    settings: ArenaSettings, universe: list[str], duration: timedelta | None = None
) -> tuple[AlpacaBroker, AlpacaMarketData, BrokerClock]:
    trading, data = alpaca_clients(settings)
    broker = AlpacaBroker(trading, AlpacaLimits(settings.alpaca_requests_per_minute))
    return (
        broker,
        AlpacaMarketData(data, universe, feed=settings.alpaca_feed),
        alpaca_clock(broker.client.get_clock, duration),
    )


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
