"""The alpaca-py clients from the host's settings; live trading needs explicit consent."""

from __future__ import annotations

from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.historical.corporate_actions import CorporateActionsClient
from alpaca.trading.client import TradingClient

from app.config.settings import ArenaSettings


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


def corporate_actions_client(settings: ArenaSettings) -> CorporateActionsClient:
    """alpaca-py's client of the corporate-action announcements (the market-data host)."""
    if settings.alpaca_api_key is None or settings.alpaca_secret_key is None:
        raise LiveConfigError(
            "set ARENA_ALPACA_API_KEY and ARENA_ALPACA_SECRET_KEY (environment or .env)"
        )
    return CorporateActionsClient(
        settings.alpaca_api_key.get_secret_value(),
        settings.alpaca_secret_key.get_secret_value(),
        url_override=settings.alpaca_data_url,
    )
