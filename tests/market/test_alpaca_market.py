"""Alpaca market data through alpaca-py against the emulator: the closed minute, gaps, faults."""

from __future__ import annotations

from datetime import timedelta

from app.market.alpaca import AlpacaMarketData
from tests.conftest import OPEN, SYMBOLS, Emu


def market(emu: Emu) -> AlpacaMarketData:
    return AlpacaMarketData(emu.data(), SYMBOLS, feed="iex", timeout_seconds=2.0)


def test_the_just_closed_minute_arrives_for_every_symbol_that_traded(emu: Emu):
    emu.advance(3)  # 13:30, 13:31, 13:32 have closed
    bars = market(emu).bars(OPEN + timedelta(minutes=2))
    assert sorted(bars) == sorted(SYMBOLS)
    assert all(b.timestamp == OPEN + timedelta(minutes=2) for b in bars.values())
    aapl = bars["AAPL"]
    assert aapl.low <= min(aapl.open, aapl.close) <= max(aapl.open, aapl.close) <= aapl.high


def test_a_minute_not_yet_closed_is_empty_never_a_future_bar(emu: Emu):
    emu.advance(1)
    assert market(emu).bars(OPEN + timedelta(minutes=5)) == {}


def test_a_failing_request_is_a_gap_not_a_crash(emu: Emu):
    emu.advance(2)
    emu.faults("burst500:1")
    data = market(emu)
    assert data.bars(OPEN) == {}
    assert data.failures == 1
    assert sorted(data.bars(OPEN)) == sorted(SYMBOLS)  # the next request works


def test_backfill_returns_a_whole_range_in_time_order(emu: Emu):
    emu.advance(30)
    bars = market(emu).backfill(OPEN, OPEN + timedelta(minutes=30))
    assert len(bars) == 30 * len(SYMBOLS)
    assert [b.timestamp for b in bars] == sorted(b.timestamp for b in bars)
