"""The synthetic market: determinism, sane bars, correlated symbols, U-shaped volume."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest

from app.domain.models import Bar
from app.market.calendar import SessionCalendar
from app.market.synthetic import TICKERS, SyntheticMarket


def run(market: SyntheticMarket, minutes: list[datetime]) -> list[dict[str, Bar]]:
    return [market.bars(m) for m in minutes]


@pytest.fixture(scope="module")
def two_sessions() -> tuple[SyntheticMarket, list[datetime], list[dict[str, Bar]]]:
    market = SyntheticMarket(symbols=12, seed=11)
    minutes = market.minutes(2)
    return market, minutes, run(market, minutes)


def closes(market: SyntheticMarket, history: list[dict[str, Bar]]) -> np.ndarray:
    """Close per (minute, symbol); a missing bar carries the previous close forward."""
    table = np.full((len(history), len(market.universe)), np.nan)
    for row, bars in enumerate(history):
        for col, symbol in enumerate(market.universe):
            if symbol in bars:
                table[row, col] = bars[symbol].close
            elif row:
                table[row, col] = table[row - 1, col]
    return table


def test_same_seed_same_bars_other_seed_other_bars() -> None:
    minutes = SyntheticMarket().minutes(1)[:120]
    first = run(SyntheticMarket(seed=3), minutes)
    assert run(SyntheticMarket(seed=3), minutes) == first
    assert run(SyntheticMarket(seed=4), minutes) != first


def test_bars_do_not_depend_on_which_minutes_were_asked() -> None:
    minutes = SyntheticMarket().minutes(2)
    every = run(SyntheticMarket(), minutes)
    sparse = SyntheticMarket()
    for index in range(0, len(minutes), 37):
        assert sparse.bars(minutes[index]) == every[index]


def test_same_minute_twice_and_going_back() -> None:
    market = SyntheticMarket()
    minutes = market.minutes(1)
    first = market.bars(minutes[5])
    assert market.bars(minutes[5]) == first
    with pytest.raises(ValueError, match="before the last"):
        market.bars(minutes[4])


def test_refuses_non_session_minutes_and_minutes_before_start() -> None:
    market = SyntheticMarket(start=date(2026, 3, 3))
    with pytest.raises(ValueError, match="not a session minute"):
        market.bars(datetime(2026, 3, 3, 3, 0, tzinfo=UTC))
    with pytest.raises(ValueError, match="before the first session"):
        market.bars(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))


def test_minutes_follow_the_calendar() -> None:
    calendar = SessionCalendar()
    market = SyntheticMarket(start=date(2026, 11, 25))  # Thanksgiving week
    minutes = market.minutes(3)
    expected = [date(2026, 11, 25), date(2026, 11, 27), date(2026, 11, 30)]
    assert minutes == [m for d in expected for m in calendar.session_minutes(d)]
    assert len(minutes) == 390 + 210 + 390
    history = run(market, minutes)  # through the early close and over the weekend
    assert all(
        bar.timestamp == m
        for m, bars in zip(minutes, history, strict=True)
        for bar in bars.values()
    )


def test_ohlc_is_consistent_in_cents_with_whole_positive_volumes(two_sessions) -> None:
    _, _, history = two_sessions
    bars = [bar for minute in history for bar in minute.values()]
    for bar in bars:
        assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
        assert bar.low > 0
        for price in (bar.open, bar.high, bar.low, bar.close):
            assert round(price, 2) == price
        assert bar.volume >= 1
        assert bar.volume == int(bar.volume)
        assert bar.vwap is not None
        assert bar.low <= bar.vwap <= bar.high
        assert bar.trade_count is not None
        assert bar.trade_count >= 1


def test_bars_move(two_sessions) -> None:
    market, _, history = two_sessions
    table = closes(market, history)
    assert np.all(np.nanstd(np.diff(np.log(table), axis=0), axis=0) > 0)


def test_symbols_are_correlated(two_sessions) -> None:
    market, _, history = two_sessions
    returns = np.diff(np.log(closes(market, history)), axis=0)
    returns = returns[~np.isnan(returns).any(axis=1)]
    correlation = np.corrcoef(returns, rowvar=False)
    pairs = correlation[np.triu_indices(len(market.universe), k=1)]
    assert pairs.min() > 0
    assert pairs.mean() > 0.2


def test_volume_is_u_shaped(two_sessions) -> None:
    _, minutes, history = two_sessions
    assert len(minutes) == 2 * 390  # two full sessions
    shares = np.array([sum(bar.volume for bar in bars.values()) for bars in history])
    by_minute_of_session = shares.reshape(2, 390).sum(axis=0)
    ends = np.r_[by_minute_of_session[:30], by_minute_of_session[-30:]].mean()
    middle = by_minute_of_session[165:225].mean()
    assert ends > 2 * middle


def test_initial_prices_spread_from_tens_to_hundreds() -> None:
    market = SyntheticMarket(symbols=40, seed=1)
    opens = [bar.open for bar in market.bars(market.minutes(1)[0]).values()]
    assert 15 < min(opens) < 60
    assert 200 < max(opens) < 650


def test_a_few_bars_are_missing(two_sessions) -> None:
    market, minutes, history = two_sessions
    missing = sum(len(market.universe) - len(bars) for bars in history)
    cells = len(minutes) * len(market.universe)
    assert 0 < missing < 0.01 * cells  # about 0.2%: 19 expected here


def test_names() -> None:
    assert SyntheticMarket(3).universe == list(TICKERS[:3])
    names = SyntheticMarket(len(TICKERS) + 2).universe
    assert names[-2:] == [f"SYN{len(TICKERS):04d}", f"SYN{len(TICKERS) + 1:04d}"]
    assert len(set(names)) == len(names)
    assert SyntheticMarket(["X", "Y"]).universe == ["X", "Y"]
    for bad in (0, ["X", "X"], [], ["X", ""]):
        with pytest.raises(ValueError, match="symbol"):
            SyntheticMarket(bad)
