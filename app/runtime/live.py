"""Composing the live path: Alpaca's broker, market data and clock from the settings."""

from __future__ import annotations

from datetime import timedelta

from app.alpaca.clients import alpaca_clients, alpaca_clock
from app.broker.alpaca import AlpacaBroker, AlpacaLimits
from app.config.settings import ArenaSettings
from app.engine.clock import BrokerClock
from app.market.alpaca import AlpacaMarketData


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
