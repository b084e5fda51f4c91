"""The bars factor expressions are evaluated over: one calendar for every symbol, each
symbol's fields lined up on it, NaN where the symbol had no bar (a gap)."""

from __future__ import annotations

import numpy as np

from app.market.store import BarStore

FIELDS = ("open", "high", "low", "close", "volume")  # what the bar store keeps


class FeatureWindow:
    """The last `size` minutes the host saw (any symbol's bar makes a minute), built once
    per tick; a symbol's columns are lined up on first use."""

    def __init__(self, store: BarStore, size: int) -> None:
        self._views = store.window(size)
        stamps = [view["timestamp"] for view in self._views.values()]
        merged = np.unique(np.concatenate(stamps)) if stamps else np.array([], "datetime64[s]")
        self.calendar: np.ndarray = merged[-size:]
        self._columns: dict[tuple[str, str], np.ndarray] = {}
        self._positions: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.calendar)

    def has(self, symbol: str) -> bool:
        return symbol in self._views

    def column(self, symbol: str, field: str) -> np.ndarray:
        """`field` of `symbol` at every calendar position (read-only float64, NaN = gap)."""
        key = (symbol, field)
        found = self._columns.get(key)
        if found is None:
            found = np.full(len(self.calendar), np.nan)
            view = self._views.get(symbol)
            if view is not None and field in FIELDS and len(self.calendar):
                where, inside = self._placed(symbol, view["timestamp"])
                found[where] = view[field][inside]
            found.flags.writeable = False
            self._columns[key] = found
        return found

    def _placed(self, symbol: str, stamps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Calendar positions of the symbol's bars that fall inside the calendar."""
        placed = self._positions.get(symbol)
        if placed is None:
            # A symbol's last `size` bars can reach back before the calendar's first minute.
            inside = stamps >= self.calendar[0]
            where = np.searchsorted(self.calendar, stamps[inside])
            placed = self._positions[symbol] = (where, inside)
        return placed
