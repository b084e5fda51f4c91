"""The in-memory history of every bar seen so far, per symbol, as numpy arrays.

Each symbol's bars live in growable column arrays (capacity doubles when full, so appends are
amortised O(1)): `timestamp` as datetime64[s] (UTC), `open, high, low, close, volume` as
float64. Readers get views, never copies, and those views are read-only for good: they are
cut from arrays over a read-only memoryview, so numpy refuses both writes and attempts to
flip `flags.writeable` back on. History is append-only, so a view handed out earlier keeps
showing exactly the bars it showed (growing moves new bars to a new buffer; old views keep
the old one alive).

Naive datetimes are taken as UTC; a "day" is a New York calendar date.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from app.domain.models import Bar

FIELDS = ("timestamp", "open", "high", "low", "close", "volume")
_DTYPES = {
    name: np.dtype("datetime64[s]") if name == "timestamp" else np.dtype(np.float64)
    for name in FIELDS
}
_NEW_YORK = ZoneInfo("America/New_York")
_INITIAL_CAPACITY = 512  # bars per symbol; a session has 390

Columns = dict[str, np.ndarray]


def _read_only(buffer: bytearray, dtype: np.dtype) -> np.ndarray:
    """A view of `buffer` that nobody can make writable again."""
    return np.frombuffer(memoryview(buffer).toreadonly(), dtype=dtype)


def _empty_columns() -> Columns:
    return {name: np.frombuffer(b"", dtype=dtype) for name, dtype in _DTYPES.items()}


def _epoch(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


class _Series:
    """One symbol's columns: writable arrays for us, read-only twins for readers."""

    __slots__ = ("_buffers", "_write", "last_epoch", "read", "size")

    def __init__(self, capacity: int = _INITIAL_CAPACITY) -> None:
        self.size = 0
        self.last_epoch: int | None = None  # a plain int: cheaper to compare than numpy's
        self._allocate(capacity)

    def _allocate(self, capacity: int) -> None:
        self._buffers = {name: bytearray(capacity * 8) for name in FIELDS}
        self._write = {n: np.frombuffer(b, dtype=_DTYPES[n]) for n, b in self._buffers.items()}
        self.read = {n: _read_only(b, _DTYPES[n]) for n, b in self._buffers.items()}

    def append(self, epoch: int, bar: Bar) -> None:
        if self.size == len(self._write["open"]):
            self._grow()
        i = self.size
        write = self._write
        write["timestamp"][i] = epoch
        write["open"][i] = bar.open
        write["high"][i] = bar.high
        write["low"][i] = bar.low
        write["close"][i] = bar.close
        write["volume"][i] = bar.volume
        self.size = i + 1
        self.last_epoch = epoch

    def _grow(self) -> None:
        old = self._write
        self._allocate(2 * len(old["open"]))
        for name, values in old.items():
            self._write[name][: self.size] = values[: self.size]

    def slice(self, lo: int, hi: int) -> Columns:
        return {name: values[lo:hi] for name, values in self.read.items()}

    def bounds(self, start: int, end: int, end_inclusive: bool) -> tuple[int, int]:
        """Positions of the bars with start <= timestamp < end (or <= end)."""
        stamps = self.read["timestamp"][: self.size].view(np.int64)
        lo = int(np.searchsorted(stamps, start, side="left"))
        hi = int(np.searchsorted(stamps, end, side="right" if end_inclusive else "left"))
        return lo, max(lo, hi)


class BarStore:
    """Every bar seen so far, per symbol; append one minute at a time, read views."""

    def __init__(self) -> None:
        self._series: dict[str, _Series] = {}
        self.version = 0  # minutes appended: anything derived from the bars is stale after

    @property
    def symbols(self) -> list[str]:
        """Symbols with at least one bar, sorted."""
        return sorted(self._series)

    def append_minute(self, bars: Mapping[str, Bar]) -> None:
        """Add one minute's bars; each symbol's timestamps must strictly increase.

        The whole minute is checked before anything is written, so a refused minute
        leaves the store as it was.
        """
        epochs: list[tuple[str, int, Bar]] = []
        for symbol, bar in bars.items():
            if bar.symbol != symbol:
                raise ValueError(f"bar for {bar.symbol} filed under {symbol!r}")
            epoch = _epoch(bar.timestamp)
            series = self._series.get(symbol)
            last = series.last_epoch if series is not None else None
            if last is not None and epoch <= last:
                raise ValueError(
                    f"{symbol}: bar at {bar.timestamp.isoformat()} is not after the last stored "
                    f"bar at {datetime.fromtimestamp(last, UTC).isoformat()}"
                )
            epochs.append((symbol, epoch, bar))
        for symbol, epoch, bar in epochs:
            series = self._series.get(symbol)
            if series is None:
                series = self._series[symbol] = _Series()
            series.append(epoch, bar)
        self.version += 1

    def window(self, n: int, symbols: Iterable[str] | None = None) -> dict[str, Columns]:
        """The last `n` bars of each symbol that has any, oldest first, as read-only views."""
        _check_n(n)
        chosen = self._series if symbols is None else symbols
        result: dict[str, Columns] = {}
        for symbol in chosen:
            series = self._series.get(symbol)
            if series is not None:
                result[symbol] = series.slice(max(0, series.size - n), series.size)
        return result

    def last_close(self, symbol: str) -> float | None:
        series = self._series.get(symbol)
        return None if series is None else float(series.read["close"][series.size - 1])

    def last_closes(self) -> dict[str, float]:
        return {
            s: float(series.read["close"][series.size - 1]) for s, series in self._series.items()
        }

    def last_n(self, symbol: str, n: int) -> Columns:
        """The last `n` bars of `symbol`, oldest first; empty arrays if unknown."""
        _check_n(n)
        series = self._series.get(symbol)
        if series is None:
            return _empty_columns()
        return series.slice(max(0, series.size - n), series.size)

    def day(self, symbol: str, day: date) -> Columns:
        """The bars of `symbol` on New York calendar date `day`."""
        start = datetime.combine(day, time(0), _NEW_YORK)
        end = datetime.combine(day + timedelta(days=1), time(0), _NEW_YORK)
        return self._between(symbol, _epoch(start), _epoch(end), end_inclusive=False)

    def range(self, symbol: str, start: datetime, end: datetime) -> Columns:
        """The bars of `symbol` with start <= timestamp <= end (both inclusive)."""
        return self._between(symbol, _epoch(start), _epoch(end), end_inclusive=True)

    def _between(self, symbol: str, start: int, end: int, end_inclusive: bool) -> Columns:
        series = self._series.get(symbol)
        if series is None:
            return _empty_columns()
        lo, hi = series.bounds(start, end, end_inclusive)
        return series.slice(lo, hi)


def _check_n(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
