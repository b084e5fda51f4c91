"""The live path end to end in one process: the engine trading through alpaca-py against the
emulator over HTTP (AlpacaBroker + AlpacaMarketData), minute by minute on the emulator's clock."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import SecretStr

from app.alpaca.clients import LiveConfigError, alpaca_clients
from app.broker.alpaca import AlpacaBroker, AlpacaLimits
from app.config.registry import load_registry
from app.config.settings import ArenaSettings
from app.market.alpaca import AlpacaMarketData
from app.runtime.competition import build_competition
from app.runtime.live import alpaca_clock
from tests.conftest import OPEN, SYMBOLS, Emu, trade_totals

D = Decimal


def buy(qty: int, symbol: str = "AAPL") -> dict:
    return {"symbol": symbol, "action": "buy", "quantity": qty}


def sell(qty: int, symbol: str = "AAPL") -> dict:
    return {"symbol": symbol, "action": "sell", "quantity": qty}


@pytest.mark.parametrize("fills_between_ticks", [False, True])
def test_the_engine_trades_through_alpaca_py_with_nothing_duplicated_and_books_equal(
    emu: Emu, write_registry, tmp_path, fills_between_ticks: bool
):
    registry = write_registry(
        {
            "alpha": ("scripted.py", "ScriptedStrategy",
                      {"script": {"0": buy(10), "3": buy(8), "6": [sell(4), buy(3, "SPY")]}},
                      100_000),
            "beta": ("scripted.py", "ScriptedStrategy",
                     {"script": {"0": buy(5), "3": sell(5), "5": buy(2, "QQQ")}}, 100_000),
            "gamma": ("../../../strategy_starter/strategy.py", "MomentumStrategy",
                      {"lookback": 3, "top": 2, "rebalance_every": 4}, 100_000),
        }
    )  # fmt: skip
    gamma = load_registry(registry).team("gamma")
    assert gamma.strategy.is_file()
    broker = AlpacaBroker(emu.trading(), AlpacaLimits(backoff_seconds=0.01))
    market = AlpacaMarketData(emu.data(), SYMBOLS)
    competition = build_competition(
        load_registry(registry), market, tmp_path / "data", broker=broker
    )
    minutes = [OPEN + timedelta(minutes=m) for m in range(25)]
    booked_early = 0
    for minute in minutes:
        emu.advance(1)  # the emulator closes `minute`; the engine then processes it
        if fills_between_ticks:  # as the live loop does while it waits for the bars
            waiting = competition.engine.execution.open_orders
            competition.engine.poll_fills(minute + timedelta(minutes=1))
            booked_early += waiting - competition.engine.execution.open_orders
        competition.engine.tick(minute)
    assert (booked_early > 5) == fills_between_ticks
    problems = competition.run([])  # finish: books against the broker
    assert problems == []

    accepted = [o["client_order_id"] for o in emu.state.all_orders()]
    assert len(accepted) == len(set(accepted)) > 5  # nothing sent twice
    assert emu.state.summary()["duplicates_refused"] == 0

    fills: dict[str, Decimal] = defaultdict(Decimal)
    for fill in emu.state.all_fills():
        fills[fill["client_order_id"]] += D(str(fill["qty"]))
    totals = trade_totals(tmp_path / "data", ("alpha", "beta", "gamma"))
    allocated, crossed, positions = totals.allocated, totals.crossed, totals.positions
    assert allocated == fills  # every broker fill allocated exactly
    assert crossed  # alpha bought while beta sold: crossed inside the host
    assert all(total == 0 for total in crossed.values())
    at_broker = {s: D(q) for s, q in emu.state.summary()["positions"].items() if D(q) != 0}
    assert {s: q for s, q in positions.items() if q != 0} == at_broker


def test_live_trading_needs_keys_and_explicit_consent():
    with pytest.raises(LiveConfigError, match="ARENA_ALPACA_API_KEY"):
        alpaca_clients(ArenaSettings(alpaca_api_key=None))
    live = ArenaSettings(alpaca_api_key=SecretStr("k"), alpaca_secret_key=SecretStr("s"),
                         alpaca_paper=False)  # fmt: skip
    with pytest.raises(LiveConfigError, match="LIVE_CONFIRMED"):
        alpaca_clients(live)
    assert "k" not in repr(live.alpaca_api_key)  # keys never print


class FakeClock:
    def __init__(self, times: list[datetime]) -> None:
        self.times = times

    def __call__(self) -> object:
        moment = self.times.pop(0) if len(self.times) > 1 else self.times[0]
        return type("Clock", (), {"timestamp": moment, "is_open": True})()


def test_the_broker_clock_lets_the_engine_book_fills_while_it_waits_but_not_on_every_read():
    start = datetime(2026, 3, 12, 15, 0, 1, tzinfo=UTC)
    reads = [start + timedelta(seconds=s) for s in range(0, 70, 2)]  # every 2 s of broker time
    idled: list[datetime] = []
    clock = alpaca_clock(FakeClock(reads), sleep=lambda s: None, idle_seconds=5.0)
    assert next(clock.ticks(idle=idled.append)) == datetime(2026, 3, 12, 15, 0, tzinfo=UTC)
    assert idled[0] == start + timedelta(seconds=2)  # the broker's time of the first wait
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(idled)]
    assert len(idled) > 5
    assert all(gap >= 5 for gap in gaps)  # at most every idle_seconds


def test_the_broker_clock_yields_each_session_minute_once_and_skips_the_night():
    close = datetime(2026, 3, 12, 19, 58, 30, tzinfo=UTC)
    reads = [close, close + timedelta(minutes=1), close + timedelta(minutes=2),
             datetime(2026, 3, 13, 13, 31, 5, tzinfo=UTC)]  # fmt: skip
    clock = alpaca_clock(FakeClock(reads), sleep=lambda s: None)
    ticks = clock.ticks()
    got = [next(ticks) for _ in range(2)]
    assert got == [
        datetime(2026, 3, 12, 19, 58, tzinfo=UTC),
        datetime(2026, 3, 12, 19, 59, tzinfo=UTC),
    ]
    assert next(ticks) == datetime(2026, 3, 13, 13, 30, tzinfo=UTC)  # the night was skipped
