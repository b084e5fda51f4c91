"""Performance metrics of a team's (or the account's) equity curve, kept incrementally.

`PerformanceTracker` is fed one equity observation per minute and every allocated fill;
each update is O(1) (Welford's algorithm for mean and variance, running peak and
drawdown), so a snapshot never re-scans history. The batch functions at the bottom are
the plain reference definitions, used by tests and reports.

Conventions (risk-free rate 0, N = `MINUTES_PER_YEAR`):
- per-minute simple return r_t = E_t / E_{t-1} - 1, the first against the initial equity;
  a minute whose previous equity is not positive yields no return (it is undefined);
- annualised return = mean(r) · N (arithmetic, as Qlib's risk_analysis "sum" mode);
- volatility = std(r, ddof=1) · √N; Sharpe = mean(r) / std(r, ddof=1) · √N;
- Sortino = mean(r) / DD · √N with DD = sqrt(mean over all r of min(r, 0)²);
- max drawdown = largest (peak - trough) / peak, in percent, peak including initial equity;
- Calmar = annualised return / (max drawdown / 100).
Qlib's figures (`qlib.contrib.evaluate.risk_analysis(r, N=MINUTES_PER_YEAR)`, "sum" mode)
are kept too, so quant teams can check them against their own research: its annualised
return and information ratio are the ones above (risk-free and benchmark 0), and its max
drawdown is min over t of (Σr up to t − the highest such sum so far), a fraction ≤ 0.
A figure that is undefined (fewer than two returns, zero std, zero downside, zero
drawdown) is None, never NaN or inf.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from itertools import pairwise
from typing import Any

MINUTES_PER_YEAR = 252 * 390
"""Annualisation factor N for per-minute returns: 252 US sessions of 390 minutes."""

MIN_RETURNS = 2
"""Fewest returns for which volatility, Sharpe, Sortino and Calmar are defined."""

_ZERO_STD_RTOL = 1e-12
"""A std below this fraction of |mean| is rounding noise around a constant series."""

_STATE_VERSION = 2


def _is_zero_std(std: float, mean: float) -> bool:
    """True if `std` is zero, or so small against `mean` that it is only float noise."""
    return std <= _ZERO_STD_RTOL * abs(mean)


def _ratio(numerator: float, denominator: float, periods: int) -> float:
    """numerator / denominator · √periods."""
    return numerator / denominator * math.sqrt(periods)


def _round_sig(value: float, digits: int = 10) -> float:
    """`value` rounded to `digits` significant digits."""
    return float(f"{value:.{digits}g}")


@dataclass(frozen=True, slots=True)
class PerformanceMetrics:
    """A snapshot of a tracker; see the module docstring for the definitions."""

    equity: Decimal
    total_return_pct: float
    annualized_return: float
    volatility: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown_pct: float
    calmar: float | None
    trades: int
    closing_trades: int
    win_rate: float | None
    turnover: float
    minutes: int
    information_ratio: float | None = None  # Qlib's name for mean/std·√N: the Sharpe above
    max_drawdown: float = 0.0  # Qlib's "sum" mode: a fraction, 0 or negative

    def to_record(self) -> dict[str, Any]:
        """A ledger line: floats to 10 significant digits, equity kept as Decimal."""
        # Built by hand: dataclasses.asdict deep-copies and is the slowest part of a tick.
        record = {name: getattr(self, name) for name in _FIELD_NAMES}
        for key, value in record.items():
            if isinstance(value, float):
                record[key] = _round_sig(value)
        return record


_FIELD_NAMES = tuple(f.name for f in fields(PerformanceMetrics))


class PerformanceTracker:
    """Running performance of one equity curve, O(1) per minute and per trade."""

    def __init__(self, initial_equity: Decimal) -> None:
        initial_equity = Decimal(initial_equity)
        if not initial_equity.is_finite() or initial_equity <= 0:
            raise ValueError(f"initial equity must be positive, got {initial_equity}")
        self._initial = initial_equity
        self._equity = initial_equity
        self._peak = initial_equity
        self._max_drawdown = 0.0  # a fraction of the peak
        self._minutes = 0
        self._equity_sum = 0.0  # over observed minutes, for turnover
        # Welford over the per-minute returns.
        self._n = 0
        self._mean = 0.0
        self._m2 = 0.0
        self._downside_sq_sum = 0.0  # sum of min(r, 0)²
        # Qlib's drawdown of the summed returns: the running sum, its peak, the worst gap.
        self._return_sum = 0.0
        self._sum_peak: float | None = None
        self._sum_drawdown = 0.0
        self._trades = 0
        self._closing_trades = 0
        self._wins = 0
        self._traded_notional = Decimal(0)

    @property
    def initial_equity(self) -> Decimal:
        return self._initial

    def record_minute(self, equity: Decimal) -> None:
        """Append one minute's equity observation."""
        equity = Decimal(equity)
        if not equity.is_finite():
            raise ValueError(f"equity must be finite, got {equity}")
        previous = self._equity
        if previous > 0:
            self._add_return(float(equity) / float(previous) - 1.0)
        self._equity = equity
        self._minutes += 1
        self._equity_sum += float(equity)
        if equity > self._peak:
            self._peak = equity
        elif self._peak > 0:
            drawdown = float((self._peak - equity) / self._peak)
            self._max_drawdown = max(self._max_drawdown, drawdown)

    def _add_return(self, r: float) -> None:
        """Welford's update of mean and M2, plus the downside sum of squares."""
        self._n += 1
        delta = r - self._mean
        self._mean += delta / self._n
        self._m2 += delta * (r - self._mean)
        if r < 0:
            self._downside_sq_sum += r * r
        self._return_sum += r
        if self._sum_peak is None or self._return_sum > self._sum_peak:
            self._sum_peak = self._return_sum
        self._sum_drawdown = min(self._sum_drawdown, self._return_sum - self._sum_peak)

    def record_trade(self, notional: Decimal, realized_pnl: Decimal | None) -> None:
        """Count one allocated fill; `realized_pnl` is None unless it closed or reduced."""
        self._trades += 1
        self._traded_notional += abs(Decimal(notional))
        if realized_pnl is not None:
            self._closing_trades += 1
            if realized_pnl > 0:
                self._wins += 1

    def snapshot(self) -> PerformanceMetrics:
        """The metrics as of the last observation."""
        annualized = self._mean * MINUTES_PER_YEAR
        volatility = sharpe = sortino = calmar = None
        if self._n >= MIN_RETURNS:
            std = math.sqrt(self._m2 / (self._n - 1))
            if not _is_zero_std(std, self._mean):
                volatility = std * math.sqrt(MINUTES_PER_YEAR)
                sharpe = _ratio(self._mean, std, MINUTES_PER_YEAR)
            downside = math.sqrt(self._downside_sq_sum / self._n)
            if downside > 0:
                sortino = _ratio(self._mean, downside, MINUTES_PER_YEAR)
            if self._max_drawdown > 0:
                calmar = annualized / self._max_drawdown
        mean_equity = self._equity_sum / self._minutes if self._minutes else 0.0
        turnover = float(self._traded_notional) / mean_equity if mean_equity > 0 else 0.0
        return PerformanceMetrics(
            equity=self._equity,
            total_return_pct=float(self._equity / self._initial - 1) * 100.0,
            annualized_return=annualized,
            volatility=volatility,
            sharpe=sharpe,
            sortino=sortino,
            max_drawdown_pct=self._max_drawdown * 100.0,
            calmar=calmar,
            trades=self._trades,
            closing_trades=self._closing_trades,
            win_rate=self._wins / self._closing_trades if self._closing_trades else None,
            turnover=turnover,
            minutes=self._minutes,
            information_ratio=sharpe,
            max_drawdown=self._sum_drawdown,
        )

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly; JSON-able (Decimal as str, floats exact)."""
        return {
            "version": _STATE_VERSION,
            "initial_equity": str(self._initial),
            "equity": str(self._equity),
            "peak": str(self._peak),
            "max_drawdown": self._max_drawdown,
            "minutes": self._minutes,
            "equity_sum": self._equity_sum,
            "n_returns": self._n,
            "mean": self._mean,
            "m2": self._m2,
            "downside_sq_sum": self._downside_sq_sum,
            "return_sum": self._return_sum,
            "sum_peak": self._sum_peak,
            "sum_drawdown": self._sum_drawdown,
            "trades": self._trades,
            "closing_trades": self._closing_trades,
            "wins": self._wins,
            "traded_notional": str(self._traded_notional),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> PerformanceTracker:
        """Rebuild a tracker from `state_dict()` output."""
        if state.get("version") not in (1, _STATE_VERSION):
            raise ValueError(f"unsupported tracker state version: {state.get('version')!r}")
        tracker = cls(Decimal(state["initial_equity"]))
        tracker._equity = Decimal(state["equity"])
        tracker._peak = Decimal(state["peak"])
        tracker._max_drawdown = float(state["max_drawdown"])
        tracker._minutes = int(state["minutes"])
        tracker._equity_sum = float(state["equity_sum"])
        tracker._n = int(state["n_returns"])
        tracker._mean = float(state["mean"])
        tracker._m2 = float(state["m2"])
        tracker._downside_sq_sum = float(state["downside_sq_sum"])
        # Version 1 kept no return sums: Qlib's drawdown then counts from the resume on.
        tracker._return_sum = float(state.get("return_sum", tracker._n * tracker._mean))
        peak = state.get("sum_peak")
        tracker._sum_peak = float(peak) if peak is not None else None
        tracker._sum_drawdown = float(state.get("sum_drawdown", 0.0))
        tracker._trades = int(state["trades"])
        tracker._closing_trades = int(state["closing_trades"])
        tracker._wins = int(state["wins"])
        tracker._traded_notional = Decimal(state["traded_notional"])
        return tracker


# --- batch reference definitions ---------------------------------------------------------


def simple_returns(equity: Sequence[float]) -> list[float]:
    """Per-step simple returns of an equity curve (skipping steps from a non-positive value)."""
    return [float(b) / float(a) - 1.0 for a, b in pairwise(equity) if a > 0]


def _mean_std(returns: Sequence[float]) -> tuple[float, float]:
    """Two-pass mean and sample (ddof=1) standard deviation; needs two or more values."""
    n = len(returns)
    mean = math.fsum(returns) / n
    variance = math.fsum((r - mean) ** 2 for r in returns) / (n - 1)
    return mean, math.sqrt(variance)


def sharpe_ratio(returns: Sequence[float], periods: int = MINUTES_PER_YEAR) -> float | None:
    """mean / std(ddof=1) · √periods, risk-free 0; None if undefined."""
    if len(returns) < MIN_RETURNS:
        return None
    mean, std = _mean_std(returns)
    return None if _is_zero_std(std, mean) else _ratio(mean, std, periods)


def sortino_ratio(returns: Sequence[float], periods: int = MINUTES_PER_YEAR) -> float | None:
    """mean / sqrt(mean of min(r, 0)² over all r) · √periods; None if undefined."""
    if len(returns) < MIN_RETURNS:
        return None
    n = len(returns)
    downside = math.sqrt(math.fsum(min(r, 0.0) ** 2 for r in returns) / n)
    if downside == 0:
        return None
    return _ratio(math.fsum(returns) / n, downside, periods)


def summed_max_drawdown(returns: Sequence[float]) -> float:
    """Qlib's "sum" mode max drawdown: min(cumsum(r) − cummax(cumsum(r))), 0.0 if none."""
    total, peak, worst = 0.0, -math.inf, 0.0
    for r in returns:
        total += r
        peak = max(peak, total)
        worst = min(worst, total - peak)
    return worst


def max_drawdown_pct(equity: Sequence[float]) -> float:
    """Largest peak-to-trough fall, in percent of the peak; 0.0 if the curve never falls."""
    peak = -math.inf
    worst = 0.0
    for value in equity:
        value = float(value)
        if value > peak:
            peak = value
        elif peak > 0:
            worst = max(worst, (peak - value) / peak)
    return worst * 100.0
