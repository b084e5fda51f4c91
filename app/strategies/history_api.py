"""The read-only history API strategies get as `team["api"]`.

Method names follow the strategy contract (camelCase on purpose). Every answer is
`{"timestamp", "open", "high", "low", "close", "volume"}` of read-only numpy arrays, oldest
first; the `*Multi` variants return `{symbol: answer}`. The store only holds bars up to the
current tick, so no answer can reach into the future. An unknown symbol gets empty arrays;
a malformed argument raises ValueError saying what was expected.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import UTC, date, datetime

import numpy as np

from app.domain.timefmt import parse_rfc3339
from app.factors import qlib_ops
from app.factors.service import FactorService, FeatureError
from app.market.store import BarStore

MAX_N = 10_000  # bars per symbol and call: about 25 sessions
MAX_SYMBOLS = 500  # per *Multi call
MAX_SYMBOL_CHARS = 32  # no exchange's symbol comes near; a longer one is junk
# Dates the host can compute with: converting year 1 or 9999 between zones, or taking the
# next day, overflows Python's datetime. Market data of this arena lies well inside.
FIRST_YEAR, LAST_YEAR = 1900, 2100

Columns = dict[str, np.ndarray]


class HistoryAPI:
    """Read-only history for strategies; the store stays out of reach."""

    __slots__ = ("_factors", "_store")

    def __init__(self, store: BarStore, factors: FactorService | None = None) -> None:
        self._store = store
        self._factors = factors

    def getLastN(self, symbol: str, n: int) -> Columns:  # noqa: N802 - the contract's name
        """The last `n` bars of `symbol` (1 <= n <= MAX_N)."""
        return self._store.last_n(_symbol(symbol), _count(n))

    def getDay(self, symbol: str, day: date | str) -> Columns:  # noqa: N802
        """The bars of `symbol` on New York date `day` (a date or "YYYY-MM-DD")."""
        return self._store.day(_symbol(symbol), _day(day))

    def getRange(self, symbol: str, start: datetime | str, end: datetime | str) -> Columns:  # noqa: N802
        """The bars of `symbol` with start <= timestamp <= end (datetimes or RFC 3339)."""
        lo, hi = _span(start, end)
        return self._store.range(_symbol(symbol), lo, hi)

    def getLastNMulti(self, symbols: Iterable[str], n: int) -> dict[str, Columns]:  # noqa: N802
        count = _count(n)
        return {s: self._store.last_n(s, count) for s in _symbols(symbols)}

    def getDayMulti(self, symbols: Iterable[str], day: date | str) -> dict[str, Columns]:  # noqa: N802
        when = _day(day)
        return {s: self._store.day(s, when) for s in _symbols(symbols)}

    def getRangeMulti(  # noqa: N802
        self, symbols: Iterable[str], start: datetime | str, end: datetime | str
    ) -> dict[str, Columns]:
        lo, hi = _span(start, end)
        return {s: self._store.range(s, lo, hi) for s in _symbols(symbols)}

    def features(
        self, symbols: Iterable[str], expressions: Iterable[str], n: int = 1, **budget: float
    ) -> dict[str, Columns]:
        """Qlib factor expressions per symbol: {symbol: {"timestamp", expression: values}}."""
        if self._factors is None:
            raise FeatureError(qlib_ops.ENABLE_HINT)
        return self._factors.features(symbols, expressions, n, **budget)

    def __repr__(self) -> str:
        return (
            "HistoryAPI(getLastN, getDay, getRange, getLastNMulti, getDayMulti, getRangeMulti, "
            "features)"
        )


def history_api(store: BarStore) -> HistoryAPI:
    """`team["api"]` over `store`, with factor expressions where Qlib is installed."""
    return HistoryAPI(store, FactorService(store) if qlib_ops.available() else None)


def _symbol(symbol: object) -> str:
    if type(symbol) is not str or not symbol.strip():
        raise ValueError(f"symbol must be a non-empty string, got {_quoted(symbol)}")
    if len(symbol) > MAX_SYMBOL_CHARS:
        raise ValueError(f"symbol {_quoted(symbol)} is longer than {MAX_SYMBOL_CHARS} characters")
    return symbol


def _quoted(value: object) -> str:
    """A value of the team's in a message: its repr, at most 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _in_years(moment: date, what: str) -> None:
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise ValueError(f"{what} must be between {FIRST_YEAR} and {LAST_YEAR}, got {moment}")


def _symbols(symbols: object) -> list[str]:
    if isinstance(symbols, str) or not isinstance(symbols, Iterable):
        raise ValueError(f"symbols must be a list of strings, got {_quoted(symbols)}")
    chosen = list(dict.fromkeys(_symbol(s) for s in symbols))  # dedupe, keep order
    if len(chosen) > MAX_SYMBOLS:
        raise ValueError(f"at most {MAX_SYMBOLS} symbols per call, got {len(chosen)}")
    return chosen


def _count(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 1 <= n <= MAX_N:
        raise ValueError(f"n must be an integer from 1 to {MAX_N}, got {_quoted(n)}")
    return int(n)


def _day(day: object) -> date:
    if isinstance(day, datetime):  # a datetime is a date too, but which day is ambiguous
        raise ValueError(f"day must be a date or 'YYYY-MM-DD', not a datetime: {day!r}")
    parsed: date | None = day if isinstance(day, date) else None
    if type(day) is str and len(day) <= 40:
        with contextlib.suppress(ValueError):
            parsed = datetime.strptime(day.strip(), "%Y-%m-%d").date()
    if parsed is None:
        raise ValueError(f"day must be a date or 'YYYY-MM-DD', got {_quoted(day)}")
    _in_years(parsed, "day")
    return parsed


def _moment(value: object, name: str) -> datetime:
    if isinstance(value, datetime):
        _in_years(value, name)
        return value
    local: datetime | None = None
    if type(value) is str and len(value) <= 40:
        with contextlib.suppress(ValueError):  # as written: before zone arithmetic (overflow)
            local = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if local is None:
        raise ValueError(f"{name} must be a datetime or an RFC 3339 string, got {_quoted(value)}")
    _in_years(local, name)
    return parse_rfc3339(value.strip())  # type: ignore[union-attr]


def _span(start: object, end: object) -> tuple[datetime, datetime]:
    lo, hi = _moment(start, "start"), _moment(end, "end")
    if _aware(lo) > _aware(hi):
        raise ValueError(f"start {lo.isoformat()} is after end {hi.isoformat()}")
    return lo, hi


def _aware(moment: datetime) -> datetime:
    """Naive means UTC, as everywhere in the arena."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
