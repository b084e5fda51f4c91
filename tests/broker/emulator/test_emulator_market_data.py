"""Bars from the emulator: alpaca-py's StockHistoricalDataClient, pagination, no future."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from alpaca.data.requests import StockBarsRequest, StockLatestBarRequest
from alpaca.data.timeframe import TimeFrame

from tests.conftest import DAY, OPEN, SYMBOLS, Emu

MINUTE = timedelta(minutes=1)


def bars_request(**fields: object) -> StockBarsRequest:
    fields.setdefault("symbol_or_symbols", list(SYMBOLS))
    fields.setdefault("start", OPEN)
    return StockBarsRequest(timeframe=TimeFrame.Minute, **fields)


def test_bars_follow_pages_and_never_show_the_future(emu: Emu) -> None:
    emu.advance(40)  # now = 14:10; the 13:30 .. 14:09 bars are closed
    before = emu.admin("GET", "state")["requests"]
    barset = emu.data().get_stock_bars(bars_request())
    pages = emu.admin("GET", "state")["requests"] - before  # admin calls are not counted
    assert pages == 3  # 120 bars in pages of 50 (the emulator's page cap in these tests)
    assert sorted(barset.data) == list(SYMBOLS)
    for symbol, bars in barset.data.items():
        stamps = [b.timestamp for b in bars]
        assert stamps == [OPEN + n * MINUTE for n in range(40)], symbol
        replayed = emu.state.market.bars(stamps[-1])[symbol]
        assert (bars[-1].open, bars[-1].close, bars[-1].volume) == (
            replayed.open,
            replayed.close,
            replayed.volume,
        )
        assert bars[0].trade_count is None
        assert bars[0].vwap is None
    emu.advance(1)
    latest = emu.data().get_stock_latest_bar(StockLatestBarRequest(symbol_or_symbols=["SPY"]))
    assert latest["SPY"].timestamp == OPEN + 40 * MINUTE  # the bar that just closed


def test_limit_counts_across_symbols_and_pages_resume_exactly(emu: Emu) -> None:
    emu.advance(30)
    barset = emu.data().get_stock_bars(bars_request(limit=45))
    assert {s: len(b) for s, b in barset.data.items()} == {"AAPL": 30, "QQQ": 15}
    params = {"symbols": "SPY,AAPL", "timeframe": "1Min", "limit": 7, "start": OPEN.isoformat()}
    first = emu.raw("GET", "/v2/stocks/bars", params=params).json()
    assert list(first["bars"]) == ["AAPL"]
    assert len(first["bars"]["AAPL"]) == 7
    seen = [("AAPL", b["t"]) for b in first["bars"]["AAPL"]]
    token = first["next_page_token"]
    while token:
        page = emu.raw("GET", "/v2/stocks/bars", params={**params, "page_token": token}).json()
        seen += [(s, b["t"]) for s, rows in page["bars"].items() for b in rows]
        token = page["next_page_token"]
    assert len(seen) == len(set(seen)) == 60
    assert seen == sorted(seen)  # by symbol, then time


def test_sort_descending_and_time_window(emu: Emu) -> None:
    emu.advance(20)
    barset = emu.data().get_stock_bars(
        bars_request(
            symbol_or_symbols="SPY", start=OPEN + 5 * MINUTE, end=OPEN + 9 * MINUTE, sort="desc"
        )
    )
    stamps = [b.timestamp for b in barset.data["SPY"]]
    assert stamps == [OPEN + n * MINUTE for n in (9, 8, 7, 6, 5)]  # start and end inclusive


def test_no_bars_yet_is_an_empty_mapping(emu: Emu) -> None:
    answer = emu.raw(
        "GET", "/v2/stocks/bars", params={"symbols": "SPY", "timeframe": "1Min"}
    ).json()
    assert answer == {"bars": {}, "next_page_token": None}
    assert emu.data().get_stock_bars(bars_request()).data == {}
    future = bars_request(start=OPEN + 60 * MINUTE, end=OPEN + 90 * MINUTE)
    emu.advance(5)
    assert emu.data().get_stock_bars(future).data == {}  # asking for the future gets nothing


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"timeframe": "1Min"}, 400, "symbols is required"),
        ({"symbols": "SPY", "timeframe": "1Day"}, 422, "timeframe '1Day' is not supported"),
        ({"symbols": "SPY", "timeframe": "1Min", "page_token": "%%%"}, 400, "invalid page_token"),
        ({"symbols": "SPY", "timeframe": "1Min", "start": "yesterday"}, 400, "invalid start"),
    ],
)
def test_bad_bar_queries_get_alpaca_errors(
    emu: Emu, params: dict, status: int, message: str
) -> None:
    answer = emu.raw("GET", "/v2/stocks/bars", params=params)
    assert answer.status_code == status
    assert answer.json()["message"].startswith(message)
    assert isinstance(answer.json()["code"], int)


def test_day_only_start_and_unknown_symbols(emu: Emu) -> None:
    emu.state.advance(3)
    params = {"symbols": "SPY,NOPE", "timeframe": "1Min", "start": DAY.isoformat()}
    answer = emu.raw("GET", "/v2/stocks/bars", params=params).json()
    assert list(answer["bars"]) == ["SPY"]
    assert len(answer["bars"]["SPY"]) == 3
    bar = answer["bars"]["SPY"][0]
    assert set(bar) == {"t", "o", "h", "l", "c", "v", "n", "vw"}
    assert bar["t"] == "2026-03-12T13:30:00Z"
    assert bar["v"] == 2830211
    assert datetime.fromisoformat(bar["t"]) == OPEN
