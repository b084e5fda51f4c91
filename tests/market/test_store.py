"""The bar store: read-only views that are not copies, ordering rules, lookups."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from app.domain.models import Bar
from app.market.store import FIELDS, BarStore

OPEN = datetime(2026, 3, 12, 13, 30, tzinfo=UTC)


def bar(symbol: str, minute: int, close: float | None = None, start: datetime = OPEN) -> Bar:
    price = 100.0 + minute if close is None else close
    stamp = start + timedelta(minutes=minute)
    return Bar(symbol, stamp, price, price + 1, price - 1, price, 1000.0 + minute)


def fill(store: BarStore, minutes: range, symbols: tuple[str, ...] = ("AAA", "BBB")) -> None:
    for m in minutes:
        store.append_minute({s: bar(s, m) for s in symbols})


def test_window_is_the_last_n_bars_oldest_first() -> None:
    store = BarStore()
    fill(store, range(10))
    store.append_minute({"AAA": bar("AAA", 10)})  # BBB has a gap now
    window = store.window(3)
    assert sorted(window) == ["AAA", "BBB"]
    assert window["AAA"]["close"].tolist() == [108.0, 109.0, 110.0]
    assert window["BBB"]["close"].tolist() == [107.0, 108.0, 109.0]
    assert window["AAA"]["timestamp"][-1] == np.datetime64("2026-03-12T13:40:00", "s")
    assert set(window["AAA"]) == set(FIELDS)
    assert window["AAA"]["timestamp"].dtype == np.dtype("datetime64[s]")
    assert all(window["AAA"][f].dtype == np.float64 for f in FIELDS[1:])
    assert len(store.window(1000)["AAA"]["close"]) == 11
    assert list(store.window(2, symbols=["BBB", "ZZZ"])) == ["BBB"]


def test_views_refuse_writes_for_good() -> None:
    store = BarStore()
    fill(store, range(5))
    view = store.window(5)["AAA"]["close"]
    assert not view.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        view[0] = 1.0
    with pytest.raises(ValueError, match="WRITEABLE"):
        view.flags.writeable = True
    with pytest.raises(ValueError, match="WRITEABLE"):
        view.view().flags.writeable = True
    with pytest.raises(ValueError, match="read-only"):
        np.add(view, 1, out=view)
    assert store.last_close("AAA") == 104.0


def test_views_are_not_copies() -> None:
    store = BarStore()
    fill(store, range(5))
    first = store.window(5)["AAA"]["close"]
    second = store.last_n("AAA", 2)["close"]
    assert np.shares_memory(first, second)
    assert first.base is not None  # a view into the store's buffer


def test_old_views_survive_growth() -> None:
    store = BarStore()
    fill(store, range(3))
    early = store.window(3)["AAA"]["close"]
    fill(store, range(3, 2000))  # several doublings
    assert early.tolist() == [100.0, 101.0, 102.0]
    assert store.window(3)["AAA"]["close"].tolist() == [2097.0, 2098.0, 2099.0]
    assert store.last_n("AAA", 2000)["close"][:3].tolist() == [100.0, 101.0, 102.0]


def test_timestamps_must_increase_and_a_refused_minute_changes_nothing() -> None:
    store = BarStore()
    fill(store, range(3))
    with pytest.raises(ValueError, match="not after"):
        store.append_minute({"AAA": bar("AAA", 2)})  # equal
    with pytest.raises(ValueError, match="not after"):
        store.append_minute({"AAA": bar("AAA", 1)})  # older
    with pytest.raises(ValueError, match="not after"):
        store.append_minute({"CCC": bar("CCC", 3), "BBB": bar("BBB", 0)})
    assert store.symbols == ["AAA", "BBB"]
    assert len(store.last_n("BBB", 10)["close"]) == 3
    with pytest.raises(ValueError, match="filed under"):
        store.append_minute({"AAA": bar("BBB", 5)})


def test_last_closes() -> None:
    store = BarStore()
    assert store.last_close("AAA") is None
    assert store.last_closes() == {}
    fill(store, range(4))
    store.append_minute({"BBB": bar("BBB", 4, close=7.5)})
    assert store.last_close("AAA") == 103.0
    assert store.last_closes() == {"AAA": 103.0, "BBB": 7.5}
    assert type(store.last_close("AAA")) is float


def test_unknown_symbol_gets_empty_read_only_arrays() -> None:
    store = BarStore()
    for columns in (
        store.last_n("NOPE", 5),
        store.day("NOPE", date(2026, 3, 12)),
        store.range("NOPE", OPEN, OPEN),
    ):
        assert set(columns) == set(FIELDS)
        assert all(len(a) == 0 and not a.flags.writeable for a in columns.values())
        assert columns["timestamp"].dtype == np.dtype("datetime64[s]")


def test_day_uses_the_new_york_date() -> None:
    store = BarStore()
    first_day = datetime(2026, 3, 12, 19, 58, tzinfo=UTC)  # 15:58 ET
    late = datetime(2026, 3, 13, 0, 30, tzinfo=UTC)  # 20:30 ET, still the 12th in New York
    next_day = datetime(2026, 3, 13, 13, 30, tzinfo=UTC)
    for moment in (first_day, late, next_day):
        store.append_minute({"AAA": Bar("AAA", moment, 1.0, 1.0, 1.0, 1.0, 1.0)})
    twelfth = store.day("AAA", date(2026, 3, 12))["timestamp"]
    assert twelfth.tolist() == [first_day.replace(tzinfo=None), late.replace(tzinfo=None)]
    assert len(store.day("AAA", date(2026, 3, 13))["timestamp"]) == 1
    assert len(store.day("AAA", date(2026, 3, 14))["timestamp"]) == 0


def test_range_is_inclusive_and_naive_means_utc() -> None:
    store = BarStore()
    fill(store, range(10))
    closes = store.range("AAA", OPEN + timedelta(minutes=2), OPEN + timedelta(minutes=4))["close"]
    assert closes.tolist() == [102.0, 103.0, 104.0]
    naive = store.range("AAA", datetime(2026, 3, 12, 13, 38), datetime(2026, 3, 12, 18, 0))
    assert naive["close"].tolist() == [108.0, 109.0]
    assert len(store.range("AAA", OPEN + timedelta(minutes=5), OPEN)["close"]) == 0


def test_bad_n() -> None:
    store = BarStore()
    fill(store, range(3))
    assert all(len(a) == 0 for a in store.window(0)["AAA"].values())
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(ValueError, match="n must be"):
            store.window(bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="n must be"):
            store.last_n("AAA", bad)  # type: ignore[arg-type]
