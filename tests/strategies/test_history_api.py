"""The strategies' history API: the contract's methods, no look-ahead, clear refusals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from app.domain.models import Bar
from app.market.store import FIELDS, BarStore
from app.market.synthetic import SyntheticMarket
from app.strategies.history_api import MAX_N, HistoryAPI

CONTRACT = {
    "getLastN", "getDay", "getRange", "getLastNMulti", "getDayMulti", "getRangeMulti", "features",
}  # fmt: skip


@pytest.fixture(scope="module")
def market_minutes() -> tuple[SyntheticMarket, list[datetime], list[dict[str, Bar]]]:
    """Two sessions of a small synthetic market, and what it produced each minute."""
    market = SyntheticMarket(symbols=3, seed=2, start=date(2026, 3, 12))
    minutes = market.minutes(2)
    return market, minutes, [market.bars(m) for m in minutes]


@pytest.fixture(scope="module")
def api(market_minutes) -> HistoryAPI:
    _, _, history = market_minutes
    store = BarStore()
    for bars in history:
        store.append_minute(bars)
    return HistoryAPI(store)


def closes_of(history: list[dict[str, Bar]], symbol: str, day: date | None = None) -> list[float]:
    return [
        bars[symbol].close
        for bars in history
        if symbol in bars and (day is None or bars[symbol].timestamp.date() == day)
    ]


def test_only_the_contract_is_public(api: HistoryAPI) -> None:
    public = {name for name in dir(api) if not name.startswith("_")}
    assert public == CONTRACT
    assert not hasattr(api, "__dict__")
    with pytest.raises(AttributeError):
        api.store = None  # type: ignore[attr-defined]


def test_get_last_n(api: HistoryAPI, market_minutes) -> None:
    market, _, history = market_minutes
    symbol = market.universe[0]
    answer = api.getLastN(symbol, 5)
    assert set(answer) == set(FIELDS)
    assert answer["close"].tolist() == closes_of(history, symbol)[-5:]
    stamps = answer["timestamp"].tolist()
    assert stamps == sorted(stamps)
    assert all(not a.flags.writeable for a in answer.values())
    assert answer["close"].tolist() == api.getLastN(symbol, MAX_N)["close"][-5:].tolist()
    assert len(api.getLastN(symbol, MAX_N)["close"]) == len(closes_of(history, symbol))
    assert len(api.getLastN("NOPE", 3)["close"]) == 0


def test_get_day_accepts_dates_and_strings(api: HistoryAPI, market_minutes) -> None:
    market, _, history = market_minutes
    symbol = market.universe[1]
    by_date = api.getDay(symbol, date(2026, 3, 13))
    by_text = api.getDay(symbol, "2026-03-13")
    assert by_date["close"].tolist() == closes_of(history, symbol, date(2026, 3, 13))
    assert np.array_equal(by_date["close"], by_text["close"])
    assert {t.date() for t in by_date["timestamp"].tolist()} == {date(2026, 3, 13)}
    assert len(api.getDay(symbol, "2026-03-14")["close"]) == 0  # Saturday


def test_get_range_is_inclusive_and_takes_strings(api: HistoryAPI, market_minutes) -> None:
    market, minutes, history = market_minutes
    symbol = market.universe[2]
    start, end = minutes[10], minutes[19]
    by_text = api.getRange(symbol, "2026-03-12T13:40:00Z", "2026-03-12T13:49:00Z")
    by_time = api.getRange(symbol, start, end)
    assert np.array_equal(by_text["close"], by_time["close"])
    assert by_time["close"].tolist() == closes_of(history[10:20], symbol)  # both ends in


def test_multi_variants(api: HistoryAPI, market_minutes) -> None:
    market, minutes, _ = market_minutes
    symbols = [*market.universe, "NOPE", market.universe[0]]
    last = api.getLastNMulti(symbols, 4)
    assert list(last) == [*market.universe, "NOPE"]  # order kept, duplicates dropped
    assert len(last["NOPE"]["close"]) == 0
    for symbol in market.universe:
        assert np.array_equal(last[symbol]["close"], api.getLastN(symbol, 4)["close"])
    day = api.getDayMulti(market.universe, "2026-03-12")
    assert set(day) == set(market.universe)
    span = api.getRangeMulti(market.universe, minutes[0], minutes[2])
    assert all(len(v["close"]) <= 3 for v in span.values())


def test_no_look_ahead() -> None:
    market = SyntheticMarket(symbols=2, seed=9, start=date(2026, 3, 12))
    minutes = market.minutes(1)[:50]
    store = BarStore()
    api = HistoryAPI(store)
    future = datetime(2030, 1, 1, tzinfo=UTC)
    for minute in minutes:
        store.append_minute(market.bars(minute))
        now = np.datetime64(minute.replace(tzinfo=None), "s")
        for symbol in market.universe:
            for answer in (
                api.getRange(symbol, minutes[0], future),
                api.getDay(symbol, "2026-03-12"),
                api.getLastN(symbol, MAX_N),
            ):
                assert len(answer["timestamp"]) == 0 or answer["timestamp"].max() <= now


@pytest.mark.parametrize("n", [0, -1, MAX_N + 1, 2.0, True, "5", None])
def test_bad_n(api: HistoryAPI, n: object) -> None:
    with pytest.raises(ValueError, match=f"n must be an integer from 1 to {MAX_N}"):
        api.getLastN("ACMX", n)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n must be"):
        api.getLastNMulti(["ACMX"], n)  # type: ignore[arg-type]


@pytest.mark.parametrize("day", ["2026-13-01", "12/03/2026", "20260312", 20260312, None])
def test_bad_day(api: HistoryAPI, day: object) -> None:
    with pytest.raises(ValueError, match="day must be a date"):
        api.getDay("ACMX", day)  # type: ignore[arg-type]


def test_a_datetime_is_not_a_day(api: HistoryAPI) -> None:
    with pytest.raises(ValueError, match="not a datetime"):
        api.getDay("ACMX", datetime(2026, 3, 12, 15, 0, tzinfo=UTC))


def test_bad_range(api: HistoryAPI) -> None:
    start = datetime(2026, 3, 12, 14, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="is after end"):
        api.getRange("ACMX", start, start - timedelta(minutes=1))
    with pytest.raises(ValueError, match="start must be a datetime or an RFC 3339"):
        api.getRange("ACMX", "yesterday", start)
    with pytest.raises(ValueError, match="end must be"):
        api.getRangeMulti(["ACMX"], start, 12)  # type: ignore[arg-type]


@pytest.mark.parametrize("symbol", ["", "  ", None, 42, b"ACMX"])
def test_bad_symbol(api: HistoryAPI, symbol: object) -> None:
    with pytest.raises(ValueError, match="symbol must be a non-empty string"):
        api.getLastN(symbol, 5)  # type: ignore[arg-type]


@pytest.mark.parametrize("symbols", ["ACMX", None, 5, ["ACMX", 5], [f"S{i}" for i in range(501)]])
def test_bad_symbols(api: HistoryAPI, symbols: object) -> None:
    with pytest.raises(ValueError, match="symbol"):
        api.getLastNMulti(symbols, 5)  # type: ignore[arg-type]


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1899-12-31", "2101-01-01"])
def test_days_outside_the_years_the_host_computes_with_are_refused(api: HistoryAPI, day: str):
    with pytest.raises(ValueError, match="day must be between 1900 and 2100"):
        api.getDay("ACMX", day)
    with pytest.raises(ValueError, match="day must be between"):
        api.getDayMulti(["ACMX"], day)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("0001-01-01T00:00:00+01:00", "2026-01-01T00:00:00Z"),
        ("2026-01-01T00:00:00Z", "9999-12-31T23:59:59-01:00"),
        (datetime(1, 1, 2, tzinfo=UTC), "2026-01-01T00:00:00Z"),
    ],
)
def test_moments_outside_those_years_are_refused_before_any_zone_arithmetic(
    api: HistoryAPI, start: object, end: object
) -> None:
    with pytest.raises(ValueError, match="must be between 1900 and 2100"):
        api.getRange("ACMX", start, end)  # type: ignore[arg-type]


def test_a_symbol_longer_than_any_exchange_uses_is_refused_and_not_quoted_in_full(api) -> None:
    with pytest.raises(ValueError, match="longer than 32 characters") as refused:
        api.getLastN("A" * 900, 5)
    assert len(str(refused.value)) < 120
    with pytest.raises(ValueError, match="longer than 32"):
        api.getLastNMulti(["ACMX", "B" * 33], 5)
