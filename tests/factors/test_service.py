"""features(): Qlib's expression engine over the host's bars, checked against the same
computations written in pandas on the real data (with its gaps); sharing, staleness,
limits, budgets and errors."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from app.factors import qlib_ops
from app.factors.service import MAX_EXPRESSIONS, FactorService, FeatureError
from app.market.store import BarStore
from app.strategies.history_api import history_api
from tests.factors.conftest import as_array, gappy_symbols, reference_frame

pytest.importorskip("qlib", reason="the qlib extra is not installed (make qlib)")

WINDOW = 1200
MINUTES = 1700  # into the fifth session: the window spans sessions and overnight jumps
N = 300


def _rank(s: pd.Series, n: int) -> pd.Series:
    return s.rolling(n, min_periods=1).rank(pct=True)


REFERENCE: dict[str, Callable[[pd.DataFrame], pd.Series | np.ndarray]] = {
    "$close": lambda f: f["close"],
    "Mean($close, 20)": lambda f: f["close"].rolling(20, min_periods=1).mean(),
    "Std($close, 30)": lambda f: f["close"].rolling(30, min_periods=1).std(),
    "Sum($volume, 10)": lambda f: f["volume"].rolling(10, min_periods=1).sum(),
    "Max($high, 15) - Min($low, 15)": lambda f: (
        f["high"].rolling(15, min_periods=1).max() - f["low"].rolling(15, min_periods=1).min()
    ),
    "Ref($close, 5)": lambda f: f["close"].shift(5),
    "$close / Ref($close, 1) - 1": lambda f: f["close"] / f["close"].shift(1) - 1,
    "Delta($close, 3)": lambda f: f["close"] - f["close"].shift(3),
    "EMA($close, 12)": lambda f: f["close"].ewm(span=12, min_periods=1).mean(),
    "Log($volume + 1)": lambda f: np.log(f["volume"] + 1),
    "If($close > $open, $volume, 0)": lambda f: np.where(f["close"] > f["open"], f["volume"], 0),
    "Rank($close, 20)": lambda f: _rank(f["close"], 20),
    "Corr($close, $volume, 10)": lambda f: _corr(f["close"], f["volume"], 10),
    "Mean($close, 5) / Mean($close, 60)": lambda f: (
        f["close"].rolling(5, min_periods=1).mean() / f["close"].rolling(60, min_periods=1).mean()
    ),
}


def _corr(left: pd.Series, right: pd.Series, n: int) -> pd.Series:
    """Qlib's Corr: rolling correlation, no value where either side is (nearly) constant."""
    corr = left.rolling(n, min_periods=1).corr(right)
    flat = np.isclose(left.rolling(n, min_periods=1).std(), 0, atol=2e-5) | np.isclose(
        right.rolling(n, min_periods=1).std(), 0, atol=2e-5
    )
    return corr.mask(flat)


@pytest.fixture
def service(store_until) -> FactorService:
    return FactorService(store_until(MINUTES), window_bars=WINDOW)


def test_expressions_agree_with_pandas_on_the_real_data_with_its_gaps(service, real_market):
    calendar, per_symbol = reference_frame(real_market, MINUTES, WINDOW)
    symbols = gappy_symbols(per_symbol, N)
    answer = service.features(symbols, list(REFERENCE), n=N)
    for symbol in symbols:
        got = answer[symbol]
        expected_times = calendar[-N:].tz_localize(None).to_numpy().astype("datetime64[s]")
        assert (got["timestamp"] == expected_times).all()
        gaps = per_symbol[symbol]["close"].isna().to_numpy()[-N:]
        assert np.isnan(got["$close"][gaps]).all()  # a gap is NaN in its place
        for text, reference in REFERENCE.items():
            expected = as_array(reference(per_symbol[symbol]))[-N:]
            np.testing.assert_allclose(
                got[text], expected, rtol=1e-9, atol=1e-12, equal_nan=True,
                err_msg=f"{text} on {symbol}",
            )  # fmt: skip


def test_each_expression_and_symbol_is_computed_once_per_tick_and_shared(service):
    first = service.features(["AAPL", "MSFT"], ["Mean($close, 5)", "Std($close, 10)"], n=3)
    assert service.computed == 4
    # Another team, other spacing, one of the same symbols, more values: nothing recomputed.
    second = service.features(["MSFT"], ["Mean( $close ,5 )"], n=10)
    assert service.computed == 4
    np.testing.assert_array_equal(second["MSFT"]["Mean( $close ,5 )"][-3:],
                                  first["MSFT"]["Mean($close, 5)"])  # fmt: skip


def test_a_new_minute_is_never_served_from_the_last_ticks_values(store_until, real_market):
    store: BarStore = store_until(MINUTES)
    service = FactorService(store, window_bars=WINDOW)
    before = service.features(["SPY"], ["Mean($close, 3)", "$close"], n=2)["SPY"]
    store.append_minute(real_market.bars(real_market.minutes()[MINUTES]))
    after = service.features(["SPY"], ["Mean($close, 3)", "$close"], n=2)["SPY"]
    assert after["$close"][0] == before["$close"][1]  # the window moved by one minute
    assert after["timestamp"][-1] > before["timestamp"][-1]
    closes = store.last_n("SPY", 3)["close"]
    assert after["Mean($close, 3)"][-1] == pytest.approx(closes.mean(), rel=1e-12)


def test_the_values_do_not_depend_on_who_asked_first_or_for_how_many(store_until):
    store = store_until(MINUTES)
    one, other = FactorService(store, WINDOW), FactorService(store, WINDOW)
    a = one.features(["AAPL"], ["EMA($close, 30)"], n=1)["AAPL"]["EMA($close, 30)"]
    b = other.features(["AAPL"], ["EMA($close, 30)"], n=400)["AAPL"]["EMA($close, 30)"]
    assert a[-1] == b[-1]


def test_a_symbol_without_bars_gets_nan_and_the_answer_is_read_only(service):
    answer = service.features(["NOPE", "SPY"], ["Mean($close, 5)"], n=4)
    assert np.isnan(answer["NOPE"]["Mean($close, 5)"]).all()
    with pytest.raises(ValueError, match="read-only"):
        answer["SPY"]["Mean($close, 5)"][0] = 1.0


@pytest.mark.parametrize(
    ("symbols", "expressions", "n", "reason"),
    [
        (["SPY"], ["Mean($close, 5)", "Bogus($close)", "$vwap"],
         1, "unknown operator 'Bogus'.*unknown field \\$vwap"),
        (["SPY"], ["Mean($close, 5)"], 0, "n must be a whole number"),
        (["SPY"], ["Mean($close, 5)"], 10_000, "n must be a whole number"),
        (["SPY"], ["Mean($close, 5)"], True, "n must be a whole number"),
        ("SPY", 42, 1, "expressions must be a list"),
        ([], ["$close"], 1, "non-empty list"),
        (["SPY"], [f"Mean($close, {i + 1})" for i in range(MAX_EXPRESSIONS + 1)], 1, "at most 50"),
        ([f"S{i}" for i in range(100)], [f"Ref($close, {i + 1})" for i in range(21)],
         1, "more than 2000 series"),
    ],
)  # fmt: skip
def test_bad_requests_get_every_reason_at_once_and_compute_nothing(
    service, symbols, expressions, n, reason
):
    with pytest.raises(FeatureError, match=reason):
        service.features(symbols, expressions, n)
    assert service.computed == 0


def test_the_budget_stops_a_long_request(store_until):
    ticks = iter(range(100))
    service = FactorService(store_until(MINUTES), WINDOW, clock=lambda: float(next(ticks)))
    texts = [f"Mean($close, {i + 2})" for i in range(10)]
    with pytest.raises(FeatureError, match="the time budget ran out"):
        service.features(["SPY", "AAPL"], texts, deadline=5.0)
    assert 0 < service.computed <= 6


def test_without_qlib_the_answer_says_how_to_enable_it(service, monkeypatch):
    monkeypatch.setattr(qlib_ops, "available", lambda: False)
    with pytest.raises(FeatureError, match="make qlib"):
        service.features(["SPY"], ["$close"])


def test_a_host_without_qlib_runs_and_features_says_how_to_enable_it(store_until, monkeypatch):
    monkeypatch.setattr(qlib_ops, "available", lambda: False)
    api = history_api(store_until(10))  # what the composition root builds
    assert api.getLastN("SPY", 2)["close"].size == 2  # history works as ever
    with pytest.raises(FeatureError, match="pip install --no-deps pyqlib"):
        api.features(["SPY"], ["$close"])
