"""Dividends and splits as replay inputs carry them: columns beside the bars.

Accepted column names (matched case-insensitively, a space read as `_`):

- a cash dividend per share: `dividends`, `dividend`, `dividend_amount`, `cash_dividend`
  (0 or empty: none that day);
- a split as new shares per old share (4 for a 4-for-1, 0.1 for a 1-for-10):
  `stock_splits` (yfinance's "Stock Splits"), `stock_split`, `splits`, `split`,
  `split_ratio`, `split_coefficient` (Alpha Vantage's), `split_factor` (0, 1 or empty:
  none that day).

A non-zero value on any bar marks its New York date as the ex-date; a value repeated on
every bar of the day is one action; two different values on one day are an error (a wrong
action silently applied would move money). The records are plain data for the engine's
corporate actions to consume; the loader applies nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd

from app.market.replay_problems import ReplayDataError

DIVIDEND_COLUMNS = ("dividends", "dividend", "dividend_amount", "cash_dividend")
SPLIT_COLUMNS = (
    "stock_splits",
    "stock_split",
    "splits",
    "split",
    "split_ratio",
    "split_coefficient",
    "split_factor",
)
_NONE = {"dividend": (0.0,), "split": (0.0, 1.0)}  # values that mean "no action that day"


@dataclass(frozen=True, slots=True)
class InputCorporateAction:
    """One action read from a replay input. `amount` is the cash per share of a dividend,
    or the new shares per old share of a split."""

    symbol: str
    ex_date: date  # New York date
    kind: str  # "dividend" or "split"
    amount: Decimal


def corporate_columns(columns: Iterable[str]) -> dict[str, str]:
    """{column name as in the file (lower-cased): "dividend" | "split"}."""
    found = {}
    for name in columns:
        key = name.replace(" ", "_")
        if key in DIVIDEND_COLUMNS:
            found[name] = "dividend"
        elif key in SPLIT_COLUMNS:
            found[name] = "split"
    return found


def read_actions(
    label: str,
    columns: Mapping[str, str],
    cells: Mapping[str, tuple[pd.Series, np.ndarray]],
    symbols: np.ndarray,
    days: np.ndarray,
    lines: np.ndarray,
) -> list[InputCorporateAction]:
    """Every action in the good rows: `cells` holds each corporate column's raw cells and
    parsed values, `days` each row's New York date; conflicting values are an error."""
    seen: dict[tuple[str, date, str], tuple[Decimal, int]] = {}
    for column, kind in columns.items():
        raw, values = cells[column]
        marked = ~np.isnan(values) & ~np.isin(values, _NONE[kind])
        for i in np.flatnonzero(marked).tolist():
            amount = _decimal(raw.iloc[i], values[i])
            key = (str(symbols[i]), days[i], kind)
            earlier = seen.setdefault(key, (amount, int(lines[i])))
            if earlier[0] != amount:
                raise ReplayDataError(
                    f"{label}: two {kind} amounts for {key[0]} on {key[1]} "
                    f"({earlier[0]} at line {earlier[1]}, {amount} at line {lines[i]})"
                )
    actions = [InputCorporateAction(s, d, k, a) for (s, d, k), (a, _) in seen.items()]
    return sorted(actions, key=lambda a: (a.ex_date, a.symbol, a.kind))


def _decimal(cell: object, value: float) -> Decimal:
    """The amount as written (text), or a float's shortest form (Parquet)."""
    if isinstance(cell, str):
        return Decimal(cell.strip())
    return Decimal(repr(float(value)))
