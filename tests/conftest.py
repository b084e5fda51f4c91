"""Fixtures shared by the whole suite: paths, the real data set, registries, markets."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.trading.client import TradingClient

from app.broker.emulator import EmulatorServer, EmulatorState, load_state
from app.domain.models import Bar
from app.engine.lines import EventKind
from app.ledger.jsonl import read_jsonl
from app.ledger.paths import EVENTS

REPO = Path(__file__).resolve().parents[1]
FIXTURE_STRATEGIES = REPO / "tests" / "fixtures" / "strategies"
DATASET = "us-minute-2026-03"


def find_real_data() -> Path | None:
    """The shared real bars: `../shared/data/<DATASET>` beside the repository, or
    $ARENA_SHARED_DATA (the data set itself or a folder holding it)."""
    candidates = [REPO.parent / "shared" / "data" / DATASET]
    if env := os.environ.get("ARENA_SHARED_DATA"):
        base = Path(env)
        candidates += [base, base / DATASET, base / "data" / DATASET]
    return next((c for c in candidates if (c / "SPY.csv").is_file()), None)


@pytest.fixture(scope="session")
def real_bars() -> Path:
    found = find_real_data()
    if found is None:
        pytest.skip(f"real data set {DATASET} not found beside the repository (../shared/data)")
    return found


def error_lines(owner_folder: Path) -> list[dict[str, Any]]:
    """A team's (or the account's) event lines other than accepted signals: what its
    `errors.jsonl` held before the channel became `events.jsonl`."""
    path = owner_folder / EVENTS
    if not path.exists():
        return []
    return [r for r in read_jsonl(path) if r.get("kind") != EventKind.SIGNAL_ACCEPTED]


def minute(hh: int, mm: int, day: int = 12) -> datetime:
    """A minute of March 2026 in UTC (13:30 UTC is the 09:30 New York open)."""
    return datetime(2026, 3, day, hh, mm, tzinfo=UTC)


def bar(
    symbol: str, at: datetime, close: float, open_: float | None = None, volume: float = 1e6
) -> Bar:
    open_ = close if open_ is None else open_
    return Bar(symbol, at, open_, max(open_, close) + 0.05, min(open_, close) - 0.05, close, volume)


class ScriptedMarket:
    """A MarketData port over bars given in the test: {minute: {symbol: Bar}}."""

    def __init__(self, bars: Mapping[datetime, Mapping[str, Bar]]) -> None:
        self._bars = {m: dict(b) for m, b in bars.items()}
        self.universe = sorted({s for b in self._bars.values() for s in b})

    def minutes(self) -> list[datetime]:
        return sorted(self._bars)

    def bars(self, at: datetime) -> dict[str, Bar]:
        return dict(self._bars.get(at, {}))


@dataclass
class TradeTotals:
    """What the teams' trade ledgers add up to, per parent order and per symbol."""

    allocated: dict[str, Decimal]  # broker fills allocated, per parent client order ID
    crossed: dict[str, Decimal]  # signed crossed quantity per parent (sums to 0 if right)
    positions: dict[str, Decimal]  # signed position per symbol, zeros left out


def trade_totals(data_dir: Path, teams: Iterable[str]) -> TradeTotals:
    """Sum every team's trades.jsonl (a team without trades counts as none)."""
    from app.ledger.jsonl import read_jsonl

    allocated: dict[str, Decimal] = defaultdict(Decimal)
    crossed: dict[str, Decimal] = defaultdict(Decimal)
    positions: dict[str, Decimal] = defaultdict(Decimal)
    for team in teams:
        path = Path(data_dir) / "team" / team / "trades.jsonl"
        for trade in read_jsonl(path) if path.exists() else []:
            signed = Decimal(trade["quantity"]) * (1 if trade["side"] == "buy" else -1)
            positions[trade["symbol"]] += signed
            if trade["crossed"]:
                crossed[trade["parent_client_order_id"]] += signed
            else:
                allocated[trade["parent_client_order_id"]] += Decimal(trade["quantity"])
    nonzero = {symbol: q for symbol, q in positions.items() if q != 0}
    return TradeTotals(dict(allocated), dict(crossed), nonzero)


@pytest.fixture
def write_registry(tmp_path: Path) -> Callable[..., Path]:
    """Write a registry for teams given as {team_id: (fixture file, class, params, cash)}."""

    def write(teams: Mapping[str, tuple], competition: dict[str, Any] | None = None) -> Path:
        entries = []
        for team_id, (file, entry_point, params, cash) in teams.items():
            entries.append(
                {
                    "team_id": team_id,
                    "name": team_id.title(),
                    "strategy": str(FIXTURE_STRATEGIES / file),
                    "entry_point": entry_point,
                    "initial_cash": cash,
                    "params": params,
                }
            )
        document = {"competition": competition or {}, "teams": entries}
        path = tmp_path / "registry.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        return path

    return write


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Every run shows which sandbox isolation layers this machine gave a worker."""
    from sandbox.host.probe import kernel_supports, probe_layers

    supported = kernel_supports()
    report = probe_layers()
    terminalreporter.section("sandbox isolation layers on this machine")
    for layer in report.layers:
        state = "active" if layer.active else "INACTIVE"
        support = "supported" if supported.get(layer.name) else "not supported by the kernel"
        terminalreporter.write_line(f"{layer.name:<14} {state:<9} ({support}) {layer.detail}")


# -- the Alpaca emulator (broker and market-data tests) -----------------------------------

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
