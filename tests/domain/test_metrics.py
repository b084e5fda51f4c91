"""Performance metrics: hand-worked values, undefined cases, batch and pandas agreement."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.metrics import (
    MINUTES_PER_YEAR,
    PerformanceMetrics,
    PerformanceTracker,
    max_drawdown_pct,
    sharpe_ratio,
    simple_returns,
    sortino_ratio,
)

N = MINUTES_PER_YEAR  # 252 · 390 = 98 280

# The worked example: initial 100, then minutes 110 → 99 → 104.5.
#   r1 = 110/100 − 1  =  0.10
#   r2 =  99/110 − 1  = −0.10
#   r3 = 104.5/99 − 1 =  5.5/99 = 1/18 = 0.0555…
#   mean = (0.10 − 0.10 + 1/18) / 3 = 1/54 = 0.0185185…
#   deviations from the mean, in 54ths: 0.10 = 5.4/54 → 4.4/54; −0.10 → −6.4/54; 3/54 → 2/54
#   Σ dev² = (4.4² + 6.4² + 2²) / 54² = (19.36 + 40.96 + 4) / 2916 = 64.32 / 2916
#   sample var (ddof=1) = 64.32 / 2916 / 2 = 32.16 / 2916  →  std = √32.16 / 54 ≈ 0.105018
#   downside: min(r, 0)² = 0, 0.01, 0 → mean over all 3 = 0.01/3 → DD = 0.1/√3 ≈ 0.057735
#   drawdown: peak 110, trough 99 → 11/110 = 10 %
WORKED_INITIAL = Decimal(100)
WORKED_EQUITY = [Decimal(110), Decimal(99), Decimal("104.5")]
WORKED_RETURNS = [0.10, -0.10, 1 / 18]
WORKED_MEAN = 1 / 54
WORKED_STD = math.sqrt(32.16) / 54
WORKED_DOWNSIDE = 0.1 / math.sqrt(3)


def _worked_tracker() -> PerformanceTracker:
    tracker = PerformanceTracker(WORKED_INITIAL)
    for equity in WORKED_EQUITY:
        tracker.record_minute(equity)
    # Trades: open for 50 (no P&L), close 30 at +2 (a win), close 20 at −1 (a loss).
    tracker.record_trade(Decimal(50), None)
    tracker.record_trade(Decimal(-30), Decimal(2))
    tracker.record_trade(Decimal(-20), Decimal(-1))
    return tracker


def test_worked_example_returns() -> None:
    returns = simple_returns([100.0, 110.0, 99.0, 104.5])
    assert returns == pytest.approx(WORKED_RETURNS, rel=1e-12)


def test_worked_example_batch_sharpe_with_small_periods() -> None:
    # periods = 4 → √4 = 2: Sharpe = (1/54) / (√32.16/54) · 2 = 2/√32.16 ≈ 0.352673
    assert sharpe_ratio(WORKED_RETURNS, periods=4) == pytest.approx(2 / math.sqrt(32.16))
    assert 2 / math.sqrt(32.16) == pytest.approx(0.352673, abs=1e-6)


def test_worked_example_batch_sortino_with_small_periods() -> None:
    # periods = 4: Sortino = (1/54) / (0.1/√3) · 2 = 2·√3 / 5.4 ≈ 0.641500
    expected = 2 * math.sqrt(3) / 5.4
    assert sortino_ratio(WORKED_RETURNS, periods=4) == pytest.approx(expected)
    assert expected == pytest.approx(0.641500, abs=1e-6)


def test_worked_example_batch_drawdown() -> None:
    # peak 110 → trough 99: 11/110 = 10 %
    assert max_drawdown_pct([100.0, 110.0, 99.0, 104.5]) == pytest.approx(10.0)


def test_worked_example_tracker() -> None:
    m = _worked_tracker().snapshot()
    assert m.equity == Decimal("104.5")
    # (104.5 / 100 − 1) · 100 = 4.5 %
    assert m.total_return_pct == pytest.approx(4.5)
    # mean · N = 98 280 / 54 = 1 820
    assert m.annualized_return == pytest.approx(1820.0)
    # std · √N = √32.16/54 · √98 280 ≈ 0.105018 · 313.496 ≈ 32.92
    assert m.volatility == pytest.approx(WORKED_STD * math.sqrt(N))
    assert m.volatility == pytest.approx(32.923, abs=1e-3)
    # Sharpe = mean/std · √N = (1/√32.16) · √98 280 = √(98 280/32.16) ≈ 55.28
    assert m.sharpe == pytest.approx(math.sqrt(N / 32.16))
    assert m.sharpe == pytest.approx(55.281, abs=1e-3)
    # Sortino = (1/54) / (0.1/√3) · √N = √3/5.4 · √98 280 ≈ 100.55
    assert m.sortino == pytest.approx(math.sqrt(3) / 5.4 * math.sqrt(N))
    assert m.sortino == pytest.approx(WORKED_MEAN / WORKED_DOWNSIDE * math.sqrt(N))
    assert m.max_drawdown_pct == pytest.approx(10.0)
    # Calmar = 1 820 / 0.10 = 18 200
    assert m.calmar == pytest.approx(18200.0)
    assert (m.trades, m.closing_trades) == (3, 2)
    # 1 win (+2) out of 2 closing trades (+2, −1)
    assert m.win_rate == pytest.approx(0.5)
    # traded |50| + |−30| + |−20| = 100; mean equity (110 + 99 + 104.5)/3 = 104.5
    # turnover = 100 / 104.5 ≈ 0.956938
    assert m.turnover == pytest.approx(100 / 104.5)
    assert m.minutes == 3


def test_fresh_tracker_has_no_undefined_figures() -> None:
    m = PerformanceTracker(Decimal(1000)).snapshot()
    assert m == PerformanceMetrics(
        equity=Decimal(1000),
        total_return_pct=0.0,
        annualized_return=0.0,
        volatility=None,
        sharpe=None,
        sortino=None,
        max_drawdown_pct=0.0,
        calmar=None,
        trades=0,
        closing_trades=0,
        win_rate=None,
        turnover=0.0,
        minutes=0,
    )


def test_trades_before_any_minute_have_zero_turnover() -> None:
    tracker = PerformanceTracker(Decimal(1000))
    tracker.record_trade(Decimal(500), None)
    m = tracker.snapshot()
    assert (m.trades, m.closing_trades, m.win_rate, m.turnover) == (1, 0, None, 0.0)


def test_one_return_leaves_ratios_undefined() -> None:
    tracker = PerformanceTracker(Decimal(100))
    tracker.record_minute(Decimal(90))  # r = −0.1, drawdown 10 %
    m = tracker.snapshot()
    assert m.annualized_return == pytest.approx(-0.1 * N)
    assert m.max_drawdown_pct == pytest.approx(10.0)
    assert (m.volatility, m.sharpe, m.sortino, m.calmar) == (None, None, None, None)
    assert sharpe_ratio([-0.1]) is None
    assert sortino_ratio([-0.1]) is None
    assert sharpe_ratio([]) is None


def test_flat_equity_is_all_undefined_ratios() -> None:
    tracker = PerformanceTracker(Decimal(100))
    for _ in range(10):
        tracker.record_minute(Decimal(100))
    m = tracker.snapshot()
    assert m.annualized_return == 0.0
    assert m.max_drawdown_pct == 0.0
    assert (m.volatility, m.sharpe, m.sortino, m.calmar) == (None, None, None, None)
    assert sharpe_ratio([0.0] * 10) is None
    assert sortino_ratio([0.0] * 10) is None


def test_constant_growth_has_zero_std_despite_float_noise() -> None:
    # 1 % every minute: the float returns differ only in the last bits; std is noise.
    tracker = PerformanceTracker(Decimal(100))
    equity = Decimal(100)
    for _ in range(50):
        equity *= Decimal("1.01")
        tracker.record_minute(equity)
    m = tracker.snapshot()
    assert m.sharpe is None
    assert m.volatility is None
    assert m.sortino is None  # no losing minute
    assert m.calmar is None  # no drawdown
    assert m.annualized_return == pytest.approx(0.01 * N)
    assert sharpe_ratio([0.01] * 5) is None


def test_rising_with_varying_returns_has_sharpe_but_no_sortino() -> None:
    tracker = PerformanceTracker(Decimal(100))
    for equity in (101, 103, 104):
        tracker.record_minute(Decimal(equity))
    m = tracker.snapshot()
    assert m.sharpe is not None
    assert m.sharpe > 0
    assert m.sortino is None
    assert m.calmar is None
    assert max_drawdown_pct([100.0, 101.0, 103.0, 104.0]) == 0.0
    assert max_drawdown_pct([]) == 0.0


def test_drawdown_peak_includes_initial_equity() -> None:
    # Falls from the initial 100 straight away: 100 → 80 → 90: (100 − 80)/100 = 20 %
    tracker = PerformanceTracker(Decimal(100))
    tracker.record_minute(Decimal(80))
    tracker.record_minute(Decimal(90))
    assert tracker.snapshot().max_drawdown_pct == pytest.approx(20.0)


def test_drawdown_takes_the_largest_of_several() -> None:
    # 100 → 120 → 108 (10 %) → 150 → 105 (30 %) → 140: max 30 %
    assert max_drawdown_pct([100, 120, 108, 150, 105, 140]) == pytest.approx(30.0)


def test_break_even_close_is_a_closing_trade_but_not_a_win() -> None:
    tracker = PerformanceTracker(Decimal(100))
    tracker.record_trade(Decimal(10), Decimal(0))
    tracker.record_trade(Decimal(10), Decimal("0.01"))
    m = tracker.snapshot()
    assert (m.trades, m.closing_trades, m.win_rate) == (2, 2, 0.5)


def test_non_positive_initial_equity_is_rejected() -> None:
    with pytest.raises(ValueError, match="positive"):
        PerformanceTracker(Decimal(0))
    with pytest.raises(ValueError, match="finite"):
        PerformanceTracker(Decimal(1)).record_minute(Decimal("NaN"))


def test_minute_after_non_positive_equity_yields_no_return() -> None:
    # 100 → 0 (r = −1) → 50 (from 0: undefined, skipped) → 60 (r = 0.2)
    tracker = PerformanceTracker(Decimal(100))
    for equity in (0, 50, 60):
        tracker.record_minute(Decimal(equity))
    m = tracker.snapshot()
    assert m.minutes == 3
    assert m.annualized_return == pytest.approx((-1 + 0.2) / 2 * N)
    assert m.max_drawdown_pct == pytest.approx(100.0)
    assert simple_returns([100, 0, 50, 60]) == pytest.approx([-1.0, 0.2])
    for value in (m.volatility, m.sharpe, m.sortino, m.calmar, m.turnover):
        assert value is None or math.isfinite(value)


def test_to_record_rounds_floats_and_keeps_decimal_equity() -> None:
    record = _worked_tracker().snapshot().to_record()
    assert record["equity"] == Decimal("104.5")
    assert isinstance(record["equity"], Decimal)
    assert record["turnover"] == 0.956937799  # 100/104.5 = 0.95693779904… to 10 digits
    assert record["minutes"] == 3
    assert record["trades"] == 3
    none_record = PerformanceTracker(Decimal(1)).snapshot().to_record()
    assert none_record["sharpe"] is None
    assert set(record) == set(PerformanceMetrics.__dataclass_fields__)


# --- agreement with the batch functions and with pandas/numpy ---------------------------


def _random_equity(seed: int, n: int) -> list[Decimal]:
    rng = np.random.default_rng(seed)
    log_returns = rng.normal(0.0001, 0.002, size=n)
    curve = 100_000 * np.exp(np.cumsum(log_returns))
    return [Decimal(str(round(float(x), 2))) for x in curve]


def _track(initial: Decimal, equity: list[Decimal]) -> PerformanceMetrics:
    tracker = PerformanceTracker(initial)
    for value in equity:
        tracker.record_minute(value)
    return tracker.snapshot()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tracker_equals_pandas_on_random_series(seed: int) -> None:
    initial = Decimal(100_000)
    equity = _random_equity(seed, 5000)
    m = _track(initial, equity)

    series = pd.Series([float(initial)] + [float(x) for x in equity])
    r = series.pct_change().dropna()
    mean, std = r.mean(), r.std(ddof=1)
    downside = np.sqrt(np.mean(np.minimum(r.to_numpy(), 0.0) ** 2))
    drawdown = float(((series.cummax() - series) / series.cummax()).max())

    rel = 1e-9
    assert m.annualized_return == pytest.approx(mean * N, rel=rel)
    assert m.volatility == pytest.approx(std * math.sqrt(N), rel=rel)
    assert m.sharpe == pytest.approx(mean / std * math.sqrt(N), rel=rel)
    assert m.sortino == pytest.approx(mean / downside * math.sqrt(N), rel=rel)
    assert m.max_drawdown_pct == pytest.approx(drawdown * 100, rel=rel)
    assert m.calmar == pytest.approx(mean * N / drawdown, rel=rel)
    assert m.total_return_pct == pytest.approx((series.iloc[-1] / series.iloc[0] - 1) * 100)

    returns = simple_returns(series.tolist())
    assert m.sharpe == pytest.approx(sharpe_ratio(returns), rel=rel)
    assert m.sortino == pytest.approx(sortino_ratio(returns), rel=rel)
    assert m.max_drawdown_pct == pytest.approx(max_drawdown_pct(series.tolist()), rel=rel)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=10_000), min_size=0, max_size=1200))
def test_tracker_equals_batch_functions(values: list[int]) -> None:
    initial = Decimal(5000)
    equity = [Decimal(c) for c in values]
    m = _track(initial, equity)
    curve = [float(initial)] + [float(x) for x in equity]
    returns = simple_returns(curve)

    def close(a: float | None, b: float | None) -> bool:
        if a is None or b is None:
            return a is b
        return a == pytest.approx(b, rel=1e-9, abs=1e-9)

    assert close(m.sharpe, sharpe_ratio(returns))
    assert close(m.sortino, sortino_ratio(returns))
    assert close(m.max_drawdown_pct, max_drawdown_pct(curve))
    assert m.minutes == len(values)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=10_000), min_size=1, max_size=200),
    st.data(),
)
def test_state_round_trip_continues_identically(values: list[int], data: st.DataObject) -> None:
    split = data.draw(st.integers(min_value=0, max_value=len(values)))
    trades = [(Decimal(c), Decimal(c % 7 - 3) if c % 2 else None) for c in values]
    original = PerformanceTracker(Decimal(5000))
    for c, trade in zip(values[:split], trades[:split], strict=True):
        original.record_minute(Decimal(c))
        original.record_trade(*trade)

    state = json.loads(json.dumps(original.state_dict()))
    resumed = PerformanceTracker.from_state(state)
    assert resumed.snapshot() == original.snapshot()
    for c, trade in zip(values[split:], trades[split:], strict=True):
        for tracker in (original, resumed):
            tracker.record_minute(Decimal(c))
            tracker.record_trade(*trade)
    assert resumed.snapshot() == original.snapshot()
    assert resumed.state_dict() == original.state_dict()


def test_state_is_constant_size() -> None:
    tracker = PerformanceTracker(Decimal(100))
    for value in _random_equity(3, 2000):
        tracker.record_minute(value)
    state = tracker.state_dict()
    assert all(isinstance(v, int | float | str) for v in state.values())
    assert len(json.dumps(state)) < 1000


def test_from_state_rejects_unknown_version() -> None:
    state = PerformanceTracker(Decimal(100)).state_dict() | {"version": 99}
    with pytest.raises(ValueError, match="version"):
        PerformanceTracker.from_state(state)
