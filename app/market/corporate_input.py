"""Dividends and splits as replay inputs carry them: columns beside the bars.

Accepted column names (matched case-insensitively, a space read as `_`):

- a cash dividend per share: `dividends`, `dividend`, `dividend_amount`, `cash_dividend`
  (0 or empty: none that day);
- a split as new shares per old share (4 for a 4-for-1, 0.1 for a 1-for-10, or the ratio
  `new:old` or `new/old`, such as 2:1 or 1/10): `stock_splits` (yfinance's "Stock
  Splits"), `stock_split`, `splits`, `split`, `split_ratio`, `split_coefficient` (Alpha
  Vantage's), `split_factor` (0, 1 or empty: none that day).

A non-zero value on any row marks its New York date as the ex-date, whether or not the
row's bar is good; a value repeated on every bar of the day is one action. A cell that
cannot be read (`0.24 USD`, a negative amount), an action on a row without a time or a
symbol, and two different values on one day are errors naming the file and line: a wrong
or lost action moves money. The records are plain data for the engine's corporate
actions to consume; the loader applies nothing.
"""

from __future__ import annotations

import re
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
_BLANK = ("", "nan", "none")
_RATIO = re.compile(r"(\d+(?:\.\d+)?)\s*[:/]\s*(\d+(?:\.\d+)?)")
_FORMS = {
    "dividend": "a dividend is the cash per share, e.g. 0.24",
    "split": "a split is new shares per old one, e.g. 2, 0.5, 2:1 or 1/10",
}


@dataclass(frozen=True, slots=True)
class InputCorporateAction:
    """One action read from a replay input. `amount` is the cash per share of a dividend,
    or a split's new shares for `old_rate` old ones (2:1 is amount 2, old_rate 1; a
    decimal such as 0.1 keeps old_rate 1)."""

    symbol: str
    ex_date: date  # New York date
    kind: str  # "dividend" or "split"
    amount: Decimal
    old_rate: Decimal = Decimal(1)

    def same(self, other: InputCorporateAction) -> bool:
        """The same amount, a split's ratio compared as a ratio (2:1 is 2)."""
        return self.amount * other.old_rate == other.amount * self.old_rate


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
    cells: Mapping[str, pd.Series],
    symbols: np.ndarray,
    days: np.ndarray,
    lines: np.ndarray,
) -> list[InputCorporateAction]:
    """Every action in the rows: `cells` holds each corporate column's cells, `days` each
    row's New York date (None where its time cannot be read). A cell that cannot be read,
    an action without a date or symbol, or two different values on one day are errors."""
    seen: dict[tuple[str, date, str], tuple[InputCorporateAction, int]] = {}
    for column, kind in columns.items():
        for i, (new, old) in _marked(label, column, kind, cells[column], lines):
            where = f"{label}:{lines[i]}"
            if days[i] is None or not symbols[i]:
                what, need = ("timestamp", "ex-date") if days[i] is None else ("symbol", "symbol")
                raise ReplayDataError(
                    f"{where}: a {kind} ({column} {cells[column].iloc[i]!r}) on a row whose "
                    f"{what} cannot be read: the action would have no {need}"
                )
            action = InputCorporateAction(str(symbols[i]), days[i], kind, new, old)
            earlier, line = seen.setdefault((action.symbol, action.ex_date, kind), (action, i))
            if not earlier.same(action):
                raise ReplayDataError(
                    f"{label}: two {kind} amounts for {action.symbol} on {action.ex_date} "
                    f"({_amount(earlier)} at line {lines[line]}, {_amount(action)} at line "
                    f"{lines[i]})"
                )
    actions = [action for action, _ in seen.values()]
    return sorted(actions, key=lambda a: (a.ex_date, a.symbol, a.kind))


def _marked(
    label: str, column: str, kind: str, cells: pd.Series, lines: np.ndarray
) -> list[tuple[int, tuple[Decimal, Decimal]]]:
    """(row, (amount, old_rate)) of each cell that holds an action; an unreadable cell
    is an error naming its line."""
    values = pd.to_numeric(cells, errors="coerce").to_numpy(np.float64, na_value=np.nan)
    empty = np.isnan(values)
    if empty.any() and not pd.api.types.is_numeric_dtype(cells.dtype):
        text = cells[empty].astype(str).str.strip().str.lower()
        empty[empty] = text.isin(_BLANK).to_numpy(bool)  # a NaN that is not text is empty
    found = []
    for i in np.flatnonzero(~np.isin(values, _NONE[kind]) & ~empty).tolist():
        cell = cells.iloc[i]
        rates = _rates(cell.strip() if isinstance(cell, str) else None, float(values[i]), kind)
        if rates is None:
            raise ReplayDataError(
                f"{label}:{lines[i]}: cannot read the {column} cell {cell!r}: {_FORMS[kind]}"
            )
        new, old = rates
        if new != 0 and not (kind == "split" and new == old):  # empty, or a 1:1 split
            found.append((i, rates))
    return found


def _rates(text: str | None, value: float, kind: str) -> tuple[Decimal, Decimal] | None:
    """(amount, old_rate) of a cell; (0, 1) for an empty one; None if it cannot be read."""
    if value != value:  # NaN: empty, or not a number
        if text is None or text.lower() in _BLANK:
            return Decimal(0), Decimal(1)
        ratio = _RATIO.fullmatch(text) if kind == "split" else None
        if ratio is None:
            return None
        new, old = Decimal(ratio[1]), Decimal(ratio[2])
        return (new, old) if new > 0 and old > 0 else None
    if not np.isfinite(value) or value < 0:
        return None
    return Decimal(text) if text is not None else Decimal(repr(value)), Decimal(1)


def _amount(action: InputCorporateAction) -> str:
    if action.old_rate == 1:
        return str(action.amount)
    return f"{action.amount}:{action.old_rate}"
