"""The leaderboard's risk figures agree with Qlib's risk_analysis on the same returns (with
the US minute scaler passed explicitly: Qlib's defaults assume China's sessions)."""

from __future__ import annotations

import warnings
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from app.domain.metrics import MINUTES_PER_YEAR, PerformanceTracker, simple_returns

risk_analysis = pytest.importorskip(
    "qlib.contrib.evaluate", reason="the qlib-research extra is not installed (make qlib)"
).risk_analysis


def equity_curves(real_market) -> dict[str, list[Decimal]]:
    """Equity of 100,000 held in one symbol (or a long/short pair), minute by minute."""
    closes = {}
    for minute in real_market.minutes():
        for symbol, bar in real_market.bars(minute).items():
            closes.setdefault(symbol, []).append(bar.close)
    spy, qqq = np.array(closes["SPY"]), np.array(closes["QQQ"][: len(closes["SPY"])])
    n = min(len(spy), len(qqq))
    pair = 100_000 + 300 * (spy[:n] - spy[0]) - 150 * (qqq[:n] - qqq[0])
    return {
        "SPY": [Decimal(str(round(100_000 * c / spy[0], 2))) for c in spy],
        "pair": [Decimal(str(round(v, 2))) for v in pair],
        "falls-first": [Decimal(100_000), Decimal(99_000),
                        *(Decimal(99_500 + i) for i in range(50))],
    }  # fmt: skip


def test_annualised_return_information_ratio_and_max_drawdown_agree_with_qlib(real_market):
    for name, curve in equity_curves(real_market).items():
        tracker = PerformanceTracker(curve[0])
        for equity in curve[1:]:
            tracker.record_minute(equity)
        ours = tracker.snapshot()
        returns = pd.Series(simple_returns([float(e) for e in curve]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            qlib = risk_analysis(returns, N=MINUTES_PER_YEAR)["risk"]
        assert ours.annualized_return == pytest.approx(qlib["annualized_return"], rel=1e-9), name
        assert ours.information_ratio == pytest.approx(qlib["information_ratio"], rel=1e-9), name
        assert ours.max_drawdown == pytest.approx(qlib["max_drawdown"], rel=1e-9, abs=1e-15), name
        if name == "falls-first":
            # Qlib's peak starts at the first return, so a fall in the first minute is not
            # a drawdown there; the leaderboard's percent-of-peak figure does count it.
            assert ours.max_drawdown == 0.0
            assert ours.max_drawdown_pct > 0.9
        else:
            assert ours.max_drawdown < 0, name


def test_qlibs_default_scaler_would_not_agree(real_market):
    """Why N is passed: Qlib's own minute scaler is China's 240 · 238."""
    curve = equity_curves(real_market)["SPY"]
    returns = pd.Series(simple_returns([float(e) for e in curve]))
    default = risk_analysis(returns, freq="1min")["risk"]["annualized_return"]
    assert default == pytest.approx(returns.mean() * 240 * 238)
    assert default != pytest.approx(returns.mean() * MINUTES_PER_YEAR)
