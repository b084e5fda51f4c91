"""Replay recorded minute bars from CSV or Parquet files.

Two layouts are accepted:

- a directory with one file per symbol, `SYMBOL.csv` or `SYMBOL.parquet` (the symbol is the
  file's stem; a `symbol` column, if any, is ignored);
- one long `.csv` or `.parquet` file with a `symbol` column.

Columns: `timestamp, open, high, low, close, volume` and optionally `trade_count, vwap`
(header names are matched case-insensitively; other columns are ignored). `timestamp` is
the bar's start. Timestamps carrying a zone or offset are converted to UTC; naive
timestamps are taken as UTC. `start`/`end` select sessions by their New York date, both
inclusive.

Bad rows never stop a load: each is reported as a `BarProblem` with its file and line
(CSV: the header is line 1; Parquet: data row k, counted from 1, is line k + 1, so a CSV
and its Parquet twin report the same lines) and skipped. Only a missing required column,
an unreadable file or a requested symbol that no file holds raise `ReplayDataError`.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from app.domain.models import Bar
from app.domain.timefmt import to_rfc3339
from app.market.calendar import SessionCalendar

_SESSIONS = SessionCalendar()  # the session close rule (decision 0023)

PRICES = ("open", "high", "low", "close")
REQUIRED = ("timestamp", *PRICES, "volume")
OPTIONAL = ("trade_count", "vwap")
NUMERIC = (*PRICES, "volume", *OPTIONAL)
SUFFIXES = (".csv", ".parquet")
_NEW_YORK = ZoneInfo("America/New_York")
_NAT = np.iinfo(np.int64).min
_US_PER_MINUTE = 60_000_000

# A vectorised row check: which rows fail, and how to word the failure for row i.
Check = tuple[np.ndarray, Callable[[int], str]]


class ReplayDataError(Exception):
    """The replay source cannot be used at all (missing column, unreadable file, ...)."""


@dataclass(frozen=True, slots=True)
class BarProblem:
    """A row that was skipped, and why."""

    file: str
    line: int
    message: str


class ReplayData:
    """Loaded bars, indexed by minute; only minutes where some symbol has a bar are ticks."""

    def __init__(self, frame: pd.DataFrame, problems: list[BarProblem]) -> None:
        """`frame` holds clean rows: symbol, ts (epoch seconds), prices, volume, extras."""
        frame = frame.sort_values(["ts", "symbol"], kind="stable", ignore_index=True)
        self.universe: list[str] = sorted(frame["symbol"].unique().tolist())
        self.problems: list[BarProblem] = problems
        seconds, starts = np.unique(frame["ts"].to_numpy(np.int64), return_index=True)
        self.minutes: list[datetime] = [datetime.fromtimestamp(s, UTC) for s in seconds.tolist()]
        ends = [*starts[1:].tolist(), len(frame)] if len(starts) else []
        self._slices = dict(zip(self.minutes, zip(starts.tolist(), ends, strict=True), strict=True))
        self._symbols = frame["symbol"].to_numpy(object)
        self._columns = {c: frame[c].to_numpy(np.float64) for c in NUMERIC}

    def bars_at(self, minute: datetime) -> dict[str, Bar]:
        """The bars that really exist at `minute` (naive = UTC); {} if none."""
        if minute.tzinfo is None:
            minute = minute.replace(tzinfo=UTC)
        span = self._slices.get(minute)
        if span is None:
            return {}
        lo, hi = span
        stamp = minute.astimezone(UTC)
        cols = {name: values[lo:hi].tolist() for name, values in self._columns.items()}
        bars: dict[str, Bar] = {}
        for i, symbol in enumerate(self._symbols[lo:hi].tolist()):
            count, vwap = cols["trade_count"][i], cols["vwap"][i]
            bars[symbol] = Bar(
                symbol=symbol,
                timestamp=stamp,
                open=cols["open"][i],
                high=cols["high"][i],
                low=cols["low"][i],
                close=cols["close"][i],
                volume=cols["volume"][i],
                trade_count=None if count != count else count,  # NaN marks "absent"
                vwap=None if vwap != vwap else vwap,
            )
        return bars

    def bar_counts(self) -> dict[str, int]:
        """Number of bars per symbol (fewer than `len(minutes)` means gaps)."""
        symbols, counts = np.unique(self._symbols.astype(str), return_counts=True)
        return dict(zip(symbols.tolist(), counts.tolist(), strict=True))


class ReplayMarket:
    """The engine's MarketData port over replayed bars."""

    def __init__(self, data: ReplayData) -> None:
        self._data = data
        self.universe: list[str] = list(data.universe)

    @classmethod
    def load(
        cls,
        path: Path,
        symbols: Iterable[str] | None = None,
        start: date | None = None,
        end: date | None = None,
    ) -> ReplayMarket:
        return cls(load_replay(path, symbols, start, end))

    @property
    def problems(self) -> list[BarProblem]:
        return list(self._data.problems)

    def minutes(self) -> list[datetime]:
        return list(self._data.minutes)

    def is_session_close(self, minute: datetime) -> bool:
        """The session's last minute: its signals expire (decision 0023)."""
        return _SESSIONS.is_session_close(minute)

    def bars(self, minute: datetime) -> dict[str, Bar]:
        return self._data.bars_at(minute)


def load_replay(
    path: Path,
    symbols: Iterable[str] | None = None,
    start: date | None = None,
    end: date | None = None,
) -> ReplayData:
    """Load a directory of per-symbol files or one long file; see the module docstring.

    `symbols` limits the load to those symbols (each must be present in the source).
    """
    path = Path(path)
    if symbols is not None:
        symbols = {symbols} if isinstance(symbols, str) else set(symbols)
    bounds = _bounds(start, end)
    if path.is_dir():
        sources = _directory_sources(path, symbols)
    elif path.is_file():
        if path.suffix.lower() not in SUFFIXES:
            raise ReplayDataError(f"{path}: unsupported file type (expected .csv or .parquet)")
        sources = [(path, None)]
    else:
        raise ReplayDataError(f"{path}: no such file or directory")
    frames: list[pd.DataFrame] = []
    problems: list[BarProblem] = []
    seen: set[str] = set()
    for file, symbol in sources:
        raw, lines, read_problems = _read(file)
        frame, row_problems, file_symbols = _clean(raw, lines, str(file), symbol, symbols, bounds)
        frames.append(frame)
        problems += read_problems + row_problems
        seen |= file_symbols
    if symbols is not None and (missing := set(symbols) - seen):
        raise ReplayDataError(f"{path}: no data for symbol(s) {', '.join(sorted(missing))}")
    problems.sort(key=lambda p: (p.file, p.line))
    return ReplayData(pd.concat(frames, ignore_index=True), problems)


def _bounds(start: date | None, end: date | None) -> tuple[int | None, int | None]:
    """[start, end] New York dates as epoch seconds [lo, hi)."""

    def midnight(day: date) -> int:
        return int(datetime.combine(day, time(0), _NEW_YORK).timestamp())

    lo = None if start is None else midnight(start)
    hi = None if end is None else midnight(end + timedelta(days=1))
    return lo, hi


def _directory_sources(path: Path, symbols: set[str] | None) -> list[tuple[Path, str]]:
    files = sorted(
        p
        for p in path.iterdir()
        if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith(".")
    )
    if not files:
        raise ReplayDataError(f"{path}: no .csv or .parquet files")
    by_symbol: dict[str, Path] = {}
    for file in files:
        symbol = file.stem.strip()
        if symbol in by_symbol:
            raise ReplayDataError(
                f"{path}: two files for {symbol}: {by_symbol[symbol].name}, {file.name}"
            )
        by_symbol[symbol] = file
    if symbols is not None and (missing := set(symbols) - by_symbol.keys()):
        raise ReplayDataError(f"{path}: no file for symbol(s) {', '.join(sorted(missing))}")
    wanted = by_symbol if symbols is None else {s: by_symbol[s] for s in symbols}
    return [(file, symbol) for symbol, file in sorted(wanted.items())]


def _read(file: Path) -> tuple[pd.DataFrame, np.ndarray, list[BarProblem]]:
    """Raw columns (header names lower-cased), each row's line number, and malformed rows."""
    try:
        if file.suffix.lower() == ".parquet":
            raw = pq.read_table(file).to_pandas()
            raw.columns = [str(c).strip().lower() for c in raw.columns]
            return raw, np.arange(2, len(raw) + 2), []
        return _read_csv(file)
    except (OSError, UnicodeDecodeError, csv.Error, pa.ArrowException) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ReplayDataError(f"{file}: cannot read: {reason}") from exc


def _read_csv(file: Path) -> tuple[pd.DataFrame, np.ndarray, list[BarProblem]]:
    rows: list[list[str]] = []
    lines: list[int] = []
    problems: list[BarProblem] = []
    with file.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header:
            raise ReplayDataError(f"{file}: empty file, no header line")
        names = [h.strip().lower() for h in header]
        last = reader.line_num
        for row in reader:
            # A quoted field may span lines: a row starts right after the previous one ended.
            line, last = last + 1, reader.line_num
            if len(row) == len(names):
                rows.append(row)
                lines.append(line)
            elif row:  # blank lines are not rows
                message = f"expected {len(names)} fields, got {len(row)}"
                problems.append(BarProblem(str(file), line, message))
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    raw = pd.DataFrame(dict(zip(names, columns, strict=True)), dtype=str)
    return raw, np.asarray(lines, dtype=np.int64), problems


def _clean(
    raw: pd.DataFrame,
    lines: np.ndarray,
    label: str,
    symbol: str | None,
    wanted: set[str] | None,
    bounds: tuple[int | None, int | None],
) -> tuple[pd.DataFrame, list[BarProblem], set[str]]:
    """Validate one file's rows: clean rows, problems, and every symbol the file holds."""
    required = REQUIRED if symbol is not None else ("symbol", *REQUIRED)
    if missing := [c for c in required if c not in raw.columns]:
        raise ReplayDataError(f"{label}: missing required column(s) {', '.join(missing)}")
    if symbol is None:
        symbols = raw["symbol"].astype(str).fillna("").str.strip().to_numpy(object)
    else:
        symbols = np.full(len(raw), symbol, dtype=object)
    held = set(symbols.tolist())
    stamps = _timestamps(raw["timestamp"])
    # Rows of other symbols or outside the dates are dropped before validation: a bad row
    # on a day nobody asked for is not this load's problem. Unparsable times always count.
    keep = np.ones(len(raw), dtype=bool) if wanted is None else np.isin(symbols, list(wanted))
    lo, hi = bounds
    known = stamps != _NAT
    if lo is not None:
        keep &= ~known | (stamps >= lo * 1_000_000)
    if hi is not None:
        keep &= ~known | (stamps < hi * 1_000_000)
    raw, lines, symbols, stamps = raw[keep], lines[keep], symbols[keep], stamps[keep]
    numbers = {c: _numbers(raw[c], c in OPTIONAL) for c in NUMERIC if c in raw.columns}
    reasons = _row_reasons(raw, symbols, stamps, numbers)
    _mark_duplicates(reasons, symbols, stamps, lines)
    problems = [BarProblem(label, int(lines[i]), "; ".join(r)) for i, r in sorted(reasons.items())]
    good = np.ones(len(raw), dtype=bool)
    good[list(reasons)] = False
    absent = np.full(len(raw), np.nan)
    columns = {c: numbers[c][0] if c in numbers else absent for c in NUMERIC}
    frame = pd.DataFrame(
        {
            "symbol": symbols[good],
            "ts": stamps[good] // 1_000_000,
            **{c: values[good] for c, values in columns.items()},
        }
    )
    return frame, problems, held


def _timestamps(column: pd.Series) -> np.ndarray:
    """Epoch microseconds (UTC) per row, `_NAT` where unparsable; naive means UTC."""
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        parsed = column.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(column.dtype):
        parsed = column.dt.tz_localize("UTC")
    else:
        text = column.astype(str).str.strip()
        parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    return parsed.dt.tz_localize(None).to_numpy("datetime64[us]").view(np.int64)


def _numbers(column: pd.Series, optional: bool) -> tuple[np.ndarray, np.ndarray]:
    """Parsed floats, and a mask of cells that hold something that is not a number."""
    values = pd.to_numeric(column, errors="coerce").to_numpy(np.float64, na_value=np.nan)
    unparsable = np.zeros(len(values), dtype=bool)
    if pd.api.types.is_numeric_dtype(column.dtype):
        return values, unparsable
    # A literal "nan" is a number (caught later as not finite); an optional column may
    # also be left empty, which means "not reported".
    blank = ("nan", "", "none") if optional else ("nan",)
    for i in np.flatnonzero(np.isnan(values)).tolist():
        text = column.iloc[i]
        unparsable[i] = isinstance(text, str) and text.strip().lower() not in blank
    return values, unparsable


def _row_reasons(
    raw: pd.DataFrame,
    symbols: np.ndarray,
    stamps: np.ndarray,
    numbers: dict[str, tuple[np.ndarray, np.ndarray]],
) -> dict[int, list[str]]:
    """Every reason to reject each row, keyed by row position."""

    def text(col: str) -> Callable[[int], str]:
        return lambda i: str(raw[col].iloc[i])

    value = {c: v for c, (v, _) in numbers.items()}
    when = text("timestamp")
    nat = stamps == _NAT
    checks: list[Check] = [
        (symbols == "", lambda i: "empty symbol"),
        (nat, lambda i: f"unparsable timestamp {when(i)!r}"),
        (~nat & (stamps % _US_PER_MINUTE != 0), lambda i: f"{when(i)} is not a whole minute"),
    ]
    for col, (values, unparsable) in numbers.items():
        cell = text(col)
        checks.append((unparsable, lambda i, c=col, t=cell: f"unparsable {c} {t(i)!r}"))
        if col not in OPTIONAL:
            bad = ~unparsable & ~np.isfinite(values)
            checks.append((bad, lambda i, c=col: f"{c} is not finite ({value[c][i]})"))
    for col in PRICES:
        checks.append((value[col] <= 0, lambda i, c=col: f"non-positive {c} {value[c][i]}"))
    for col in ("volume", "trade_count"):
        if col in value:
            checks.append((value[col] < 0, lambda i, c=col: f"negative {c} {value[c][i]}"))
    low, high = value["low"], value["high"]
    checks.append((high < low, lambda i: f"high {high[i]} < low {low[i]}"))
    for col in ("open", "close"):
        outside = ((value[col] < low) | (value[col] > high)) & (high >= low)
        checks.append(
            (outside, lambda i, c=col: f"{c} {value[c][i]} outside [{low[i]}, {high[i]}]")
        )
    reasons: dict[int, list[str]] = {}
    for mask, message in checks:
        for i in np.flatnonzero(mask).tolist():
            reasons.setdefault(i, []).append(message(i))
    return reasons


def _mark_duplicates(
    reasons: dict[int, list[str]], symbols: np.ndarray, stamps: np.ndarray, lines: np.ndarray
) -> None:
    """Among otherwise good rows, a repeated (symbol, timestamp) keeps only the first."""
    good = np.ones(len(stamps), dtype=bool)
    good[list(reasons)] = False
    keys = pd.DataFrame({"symbol": symbols, "ts": stamps})[good]
    first_line: dict[tuple[str, int], int] = {}
    for i in keys.index[keys.duplicated(keep=False)].tolist():
        key = (symbols[i], int(stamps[i]))
        if key not in first_line:
            first_line[key] = int(lines[i])
            continue
        moment = to_rfc3339(datetime.fromtimestamp(key[1] // 1_000_000, UTC))
        reasons[i] = [f"duplicate bar for {key[0]} at {moment} (first at line {first_line[key]})"]
