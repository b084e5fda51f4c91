"""Fixtures for the broker tests: the Alpaca emulator over one real session (2026-03-12) of
a few symbols, served in-process by uvicorn on a free loopback port, reset before every test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.trading.client import TradingClient

from app.broker.emulator import EmulatorServer, EmulatorState, load_state

KEY, SECRET = "test-key", "test-secret"
HEADERS = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
DAY = date(2026, 3, 12)
SYMBOLS = ("AAPL", "QQQ", "SPY")
OPEN = datetime(2026, 3, 12, 13, 30, tzinfo=UTC)  # 09:30 New York


def emulator_state(real_bars: Path, **config: Any) -> EmulatorState:
    """The test session's state; QQQ is configured as not shortable."""
    config.setdefault("assets", {"QQQ": {"shortable": False, "easy_to_borrow": False}})
    return load_state(
        real_bars,
        start=DAY,
        end=DAY,
        symbols=SYMBOLS,
        api_key=KEY,
        secret_key=SECRET,
        **config,
    )


@dataclass
class Emu:
    """A running emulator and the calls tests make to it."""

    server: EmulatorServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def state(self) -> EmulatorState:
        return self.server.state

    def admin(self, method: str, path: str, **params: Any) -> Any:
        answer = requests.request(
            method, f"{self.url}/_emulator/{path}", params=params, headers=HEADERS, timeout=10
        )
        answer.raise_for_status()
        return answer.json()

    def advance(self, minutes: int = 1) -> dict[str, Any]:
        return self.admin("POST", "advance", minutes=minutes)

    def faults(self, spec: str) -> dict[str, Any]:
        return self.admin("POST", "faults", spec=spec)

    def trading(self, retry_wait: int | None = None) -> TradingClient:
        client = TradingClient(KEY, SECRET, paper=True, url_override=self.url)
        if retry_wait is not None:
            client._retry_wait = retry_wait  # alpaca-py's own 3 s pause between retries
        return client

    def data(self) -> StockHistoricalDataClient:
        return StockHistoricalDataClient(KEY, SECRET, url_override=self.url)

    def raw(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("headers", HEADERS)
        kwargs.setdefault("timeout", 10)
        return requests.request(method, f"{self.url}{path}", **kwargs)


@pytest.fixture(scope="module")
def emulator_server(real_bars: Path) -> Iterator[EmulatorServer]:
    with EmulatorServer(emulator_state(real_bars, max_page_size=50)) as server:
        yield server


@pytest.fixture
def emu(emulator_server: EmulatorServer) -> Emu:
    emulator_server.state.reset()
    return Emu(emulator_server)
