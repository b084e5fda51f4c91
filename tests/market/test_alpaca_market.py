"""Alpaca market data through alpaca-py against the emulator over HTTP: the closed minute,
real gaps, and failed requests, which are retried within the deadline and are never a gap."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from alpaca.data.historical import StockHistoricalDataClient

from app.engine.ports import BarsUnavailableError
from app.market.alpaca import AlpacaMarketData
from tests.conftest import OPEN, SYMBOLS, Emu


def market(emu: Emu, deadline: float = 2.0, timeout: float = 2.0) -> AlpacaMarketData:
    return AlpacaMarketData(
        emu.data(),
        SYMBOLS,
        feed="iex",
        timeout_seconds=timeout,
        deadline_seconds=deadline,
        backfill_deadline_seconds=deadline,
    )


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


@pytest.mark.parametrize("spec", ["burst500:2@data", "burst503:1@data", "burst429:2@data"])
def test_a_transient_failure_is_retried_and_the_minute_has_its_bars(emu: Emu, spec: str):
    emu.advance(2)
    emu.faults(spec)
    data = market(emu)
    assert sorted(data.bars(OPEN)) == sorted(SYMBOLS)
    assert data.failures == int(spec.split(":")[1].split("@")[0])


def test_a_429_waits_as_long_as_its_retry_after_says(emu: Emu):
    emu.advance(2)
    emu.faults("burst429:1:0.4@data")
    started = time.monotonic()
    assert sorted(market(emu).bars(OPEN)) == sorted(SYMBOLS)
    assert time.monotonic() - started >= 0.4


def test_an_answer_slower_than_the_timeout_is_asked_again(emu: Emu):
    emu.advance(2)
    emu.faults("burstslow:1:3@data")
    started = time.monotonic()
    assert sorted(market(emu, deadline=2.5, timeout=0.5).bars(OPEN)) == sorted(SYMBOLS)
    assert time.monotonic() - started < 2.0  # not the 3 s the slow answer took


def test_a_failure_that_lasts_past_the_deadline_is_unavailable_not_a_gap(emu: Emu):
    emu.advance(2)
    emu.faults("500:1@data")
    data = market(emu, deadline=0.8)
    started = time.monotonic()
    with pytest.raises(BarsUnavailableError, match="HTTP 500") as caught:
        data.bars(OPEN)
    assert time.monotonic() - started < 0.8 + 0.5  # within the deadline
    assert "attempts" in str(caught.value)
    assert data.failures >= 2  # it was retried


def test_a_retry_after_beyond_the_deadline_gives_up_at_once(emu: Emu):
    emu.advance(2)
    emu.faults("burst429:1:30@data")
    started = time.monotonic()
    with pytest.raises(BarsUnavailableError, match=r"429.*retry after 30"):
        market(emu).bars(OPEN)
    assert time.monotonic() - started < 0.5


def test_a_refusal_that_asking_again_cannot_change_is_not_retried(emu: Emu):
    emu.advance(2)
    wrong_keys = StockHistoricalDataClient("wrong", "keys", url_override=emu.url)
    data = AlpacaMarketData(wrong_keys, SYMBOLS, deadline_seconds=2.0)
    with pytest.raises(BarsUnavailableError, match="HTTP 401"):
        data.bars(OPEN)
    assert data.failures == 1


def test_bars_since_gives_every_minute_of_a_range_by_minute(emu: Emu):
    emu.advance(5)
    found = market(emu).bars_since(OPEN + timedelta(minutes=1), OPEN + timedelta(minutes=3))
    assert sorted(found) == [OPEN + timedelta(minutes=m) for m in (1, 2, 3)]
    assert all(sorted(bars) == sorted(SYMBOLS) for bars in found.values())
    assert all(b.timestamp == m for m, bars in found.items() for b in bars.values())


def test_backfill_returns_a_whole_range_in_time_order(emu: Emu):
    emu.advance(30)
    bars = market(emu).backfill(OPEN, OPEN + timedelta(minutes=30))
    assert len(bars) == 30 * len(SYMBOLS)
    assert [b.timestamp for b in bars] == sorted(b.timestamp for b in bars)


def test_backfill_retries_and_raises_when_it_cannot(emu: Emu):
    emu.advance(10)
    emu.faults("burst429:1:0.1@data")
    assert len(market(emu).backfill(OPEN, OPEN + timedelta(minutes=10))) == 10 * len(SYMBOLS)
    emu.faults("503:1@data")
    with pytest.raises(BarsUnavailableError, match="HTTP 503"):
        market(emu, deadline=0.5).backfill(OPEN, OPEN + timedelta(minutes=10))
