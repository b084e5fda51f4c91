"""Fixtures for the factor tests: a bar store holding the real data up to a chosen minute."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.market.replay import ReplayMarket
from app.market.store import BarStore


@pytest.fixture(scope="session")
def real_market(real_bars: Path) -> ReplayMarket:
    return ReplayMarket.load(real_bars)


@pytest.fixture
def store_until(real_market: ReplayMarket) -> Callable[[int], BarStore]:
    """A store with the first `count` minutes of the real data (every symbol, gaps kept)."""

    def fill(count: int) -> BarStore:
        store = BarStore()
        for minute in real_market.minutes()[:count]:
            store.append_minute(real_market.bars(minute))
        return store

    return fill


def reference_frame(
    market: ReplayMarket, count: int, window: int
) -> tuple[pd.DatetimeIndex, dict[str, pd.DataFrame]]:
    """Written independently of the host: the calendar is every minute of the last `window`
    that had any bar, and each symbol's bars reindexed onto it (NaN = gap)."""
    minutes = market.minutes()[:count]
    rows = [
        {"symbol": s, "timestamp": m, "open": b.open, "high": b.high, "low": b.low,
         "close": b.close, "volume": b.volume}
        for m in minutes for s, b in market.bars(m).items()
    ]  # fmt: skip
    frame = pd.DataFrame(rows)
    calendar = pd.DatetimeIndex(sorted(frame["timestamp"].unique()))[-window:]
    per_symbol = {
        str(s): rows.set_index("timestamp").drop(columns="symbol").reindex(calendar)
        for s, rows in frame.groupby("symbol")
    }
    return calendar, per_symbol


def gappy_symbols(per_symbol: dict[str, pd.DataFrame], tail: int, count: int = 4) -> list[str]:
    """The symbols with the most gaps in the last `tail` minutes (the interesting ones)."""
    gaps = {s: int(f["close"].tail(tail).isna().sum()) for s, f in per_symbol.items()}
    chosen = sorted(gaps, key=lambda s: -gaps[s])[:count]
    assert gaps[chosen[0]] > 0, "the real data was expected to have gaps"
    return chosen


def as_array(series: pd.Series | np.ndarray) -> np.ndarray:
    """A writable float64 copy, inf as NaN (the host's convention for "no value")."""
    values = np.array(series, dtype=np.float64)
    values[~np.isfinite(values)] = np.nan
    return values
