"""Replay recorded minute bars from CSV or Parquet files.

Two layouts are accepted:

- a directory with one file per symbol, `SYMBOL.csv` or `SYMBOL.parquet` (the symbol is the
  file's stem, a suffix on every stem such as `_1m` stripped; a `symbol` column, if any,
  is ignored);
- one long `.csv` or `.parquet` file with a `symbol` column.

Columns: `timestamp` (or `datetime`, `date`, `time`), `open, high, low, close, volume` and
optionally `trade_count, vwap` and dividend/split columns (`app/market/corporate_input.py`);
header names are matched case-insensitively, any other column is named in a warning.
Timestamps carrying a zone or offset are converted to UTC; naive timestamps are read in
`ReplayOptions.tz` (UTC unless said). Each labels its bar's start unless `labels="end"`.
Only the regular session is replayed unless `hours="extended"`; a reading the exchange
calendar contradicts while another fits is refused, naming the flags, and one the bars do
not settle is named in a warning (`app/market/replay_fit.py`). `start`/`end` select
sessions by their New York date, both inclusive. What the load understood is `ReplayData.reading`.

Bad rows never stop a load: each is reported as a `BarProblem` with its file and line
and skipped (`app/market/replay_rows.py`). A missing required column, a column read named
twice, an unreadable file or dividend/split cell, a requested symbol that no file holds
or a misfitting reading raise `ReplayDataError`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from app.domain.models import Bar
from app.market.calendar import SessionCalendar
from app.market.corporate_input import InputCorporateAction
from app.market.replay_checks import select_hours
from app.market.replay_files import SUFFIXES, Naming, directory_sources, read_raw
from app.market.replay_fit import check_fit
from app.market.replay_problems import BarProblem, ReplayDataError
from app.market.replay_reading import ReplayOptions, ReplayReading
from app.market.replay_rows import (
    NEW_YORK,
    NUMERIC,
    OPTIONAL,
    REQUIRED,
    FileRows,
    RowRules,
    reads_column,
)
from app.market.replay_rows import clean_file as _clean_file

__all__ = [
    "NUMERIC",
    "OPTIONAL",
    "REQUIRED",
    "SUFFIXES",
    "BarProblem",
    "ReplayData",
    "ReplayDataError",
    "ReplayMarket",
    "ReplayOptions",
    "ReplayReading",
    "load_replay",
]

_SESSIONS = SessionCalendar()  # the session close rule (decision 0023)
SHOWN_FILES = 3


class ReplayData:
    """Loaded bars, indexed by minute; only minutes where some symbol has a bar are ticks."""

    def __init__(
        self,
        frame: pd.DataFrame,
        problems: list[BarProblem],
        reading: ReplayReading | None = None,
        corporate_actions: list[InputCorporateAction] | None = None,
    ) -> None:
        """`frame` holds clean rows: symbol, ts (epoch seconds), prices, volume, extras."""
        frame = frame.sort_values(["ts", "symbol"], kind="stable", ignore_index=True)
        self.universe: list[str] = sorted(frame["symbol"].unique().tolist())
        self.problems: list[BarProblem] = problems
        self.corporate_actions: list[InputCorporateAction] = list(corporate_actions or [])
        seconds, starts = np.unique(frame["ts"].to_numpy(np.int64), return_index=True)
        self.minutes: list[datetime] = [datetime.fromtimestamp(s, UTC) for s in seconds.tolist()]
        ends = [*starts[1:].tolist(), len(frame)] if len(starts) else []
        self._slices = dict(zip(self.minutes, zip(starts.tolist(), ends, strict=True), strict=True))
        self._symbols = frame["symbol"].to_numpy(object)
        self._columns = {c: frame[c].to_numpy(np.float64) for c in NUMERIC}
        self.reading: ReplayReading = reading or ReplayReading(
            "(bars)", tuple(self.universe), (), len(self.minutes), len(frame)
        )

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

    def __init__(self, data: ReplayData, universe: Iterable[str] | None = None) -> None:
        """`universe`: the symbols of the competition, if more than the bars hold (a
        continued replay keeps the symbols of its earlier part)."""
        self._data = data
        self.universe: list[str] = sorted({*data.universe, *(universe or ())})

    @classmethod
    def load(
        cls,
        path: Path,
        symbols: Iterable[str] | None = None,
        start: date | None = None,
        end: date | None = None,
        options: ReplayOptions | None = None,
    ) -> ReplayMarket:
        return cls(load_replay(path, symbols, start, end, options))

    @property
    def problems(self) -> list[BarProblem]:
        return list(self._data.problems)

    @property
    def reading(self) -> ReplayReading:
        return self._data.reading

    @property
    def corporate_actions(self) -> list[InputCorporateAction]:
        return list(self._data.corporate_actions)

    def minutes(self) -> list[datetime]:
        return list(self._data.minutes)

    def is_session_close(self, minute: datetime) -> bool:
        """The session's last minute, and every minute outside the regular session (with
        extended hours): its signals expire (decision 0023)."""
        return _SESSIONS.is_session_close(minute)

    def bars(self, minute: datetime) -> dict[str, Bar]:
        return self._data.bars_at(minute)


def load_replay(
    path: Path,
    symbols: Iterable[str] | None = None,
    start: date | None = None,
    end: date | None = None,
    options: ReplayOptions | None = None,
) -> ReplayData:
    """Load a directory of per-symbol files or one long file; see the module docstring.

    `symbols` limits the load to those symbols (each must be present in the source).
    """
    path, options = Path(path), options or ReplayOptions()
    wanted = None if symbols is None else ({symbols} if isinstance(symbols, str) else set(symbols))
    rules = RowRules(options, options.zone(), wanted, _bounds(start, end))
    sources, naming = _sources(path, wanted, options)
    files, problems = _read_files(sources, rules)
    seen = set().union(*(rows.held for rows in files))
    if wanted is not None and (missing := wanted - seen):
        raise ReplayDataError(f"{path}: no data for symbol(s) {', '.join(sorted(missing))}")
    frame = pd.concat([rows.frame for rows in files], ignore_index=True)
    doubt = check_fit(
        str(path), frame["ts"].to_numpy(np.int64), frame["naive"].to_numpy(bool), options
    )
    kept, dropped = select_hours(frame, options.hours)
    naming = naming or files[0].naming
    actions = sorted(
        (a for rows in files for a in rows.actions), key=lambda a: (a.ex_date, a.symbol, a.kind)
    )
    reading = ReplayReading(
        source=str(path),
        symbols=tuple(sorted(kept["symbol"].unique().tolist())),
        sessions=tuple(sorted({_new_york_day(s) for s in np.unique(kept["ts"]).tolist()})),
        minutes_used=int(kept["ts"].nunique()),
        bars_used=len(kept),
        dropped=dropped,
        skipped_rows=len(problems),
        hours=options.hours,
        zone=rules.zone.key,
        zoned=_zoned(frame["naive"].to_numpy(bool)),
        labels=options.labels or "start",
        symbol_suffix=naming.suffix,
        corporate_actions=len(actions),
        warnings=(*([doubt] if doubt else []), *_warnings(sources, files, naming)),
    )
    return ReplayData(kept, problems, reading, actions)


def _read_files(
    sources: list[tuple[Path, str | None]], rules: RowRules
) -> tuple[list[FileRows], list[BarProblem]]:
    """Each file's clean rows, and every row skipped (by file and line)."""
    files: list[FileRows] = []
    problems: list[BarProblem] = []
    for file, symbol in sources:
        raw, lines, read_problems = read_raw(file, reads_column)
        rows = _clean_file(raw, lines, str(file), symbol, rules)
        files.append(rows)
        problems += read_problems + rows.problems
    return files, sorted(problems, key=lambda p: (p.file, p.line))


def _sources(
    path: Path, wanted: set[str] | None, options: ReplayOptions
) -> tuple[list[tuple[Path, str | None]], Naming | None]:
    """The files to read with their symbols (None: a long file's column says), and the
    naming of a directory's stems (a long file decides its own)."""
    if path.is_dir():
        found, naming = directory_sources(path, wanted, options.symbol_suffix)
        return list(found), naming
    if path.is_file():
        if path.suffix.lower() not in SUFFIXES:
            raise ReplayDataError(f"{path}: unsupported file type (expected .csv or .parquet)")
        return [(path, None)], None
    raise ReplayDataError(f"{path}: no such file or directory")


def _bounds(start: date | None, end: date | None) -> tuple[int | None, int | None]:
    """[start, end] New York dates as epoch seconds [lo, hi)."""

    def midnight(day: date) -> int:
        return int(datetime.combine(day, time(0), NEW_YORK).timestamp())

    lo = None if start is None else midnight(start)
    hi = None if end is None else midnight(end + timedelta(days=1))
    return lo, hi


def _new_york_day(seconds: int) -> date:
    return datetime.fromtimestamp(seconds, UTC).astimezone(NEW_YORK).date()


def _zoned(naive: np.ndarray) -> str:
    if not naive.any():
        return "all"
    return "none" if naive.all() else "some"


def _warnings(
    sources: list[tuple[Path, str | None]], files: list[FileRows], naming: Naming
) -> list[str]:
    """Extra columns (named once per set of columns), newest-first files, a found suffix."""
    warnings = []
    by_extras: dict[tuple[str, ...], list[str]] = {}
    for (file, _symbol), rows in zip(sources, files, strict=True):
        if rows.extras:
            by_extras.setdefault(rows.extras, []).append(file.name)
    for extras, names in by_extras.items():
        warnings.append(
            f"column(s) not used: {', '.join(extras)} (in {_listed(names)}); "
            "a replay reads timestamp, open, high, low, close, volume, trade_count, vwap "
            "and dividend/split columns"
        )
    newest = [
        file.name for (file, _), rows in zip(sources, files, strict=True) if rows.newest_first
    ]
    if newest:
        warnings.append(
            f"rows run newest first in {_listed(newest)}: they are replayed oldest first; "
            "such files (Alpha Vantage's) often stamp bars with their end in New York time: "
            "check the summary's zone and labels (--tz, --labels)"
        )
    stems = [file.stem for file, symbol in sources if symbol is not None]
    found = naming.warning(stems or [s + naming.suffix for rows in files for s in rows.held])
    return [*warnings, *([found] if found else [])]


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN_FILES])
    more = len(names) - SHOWN_FILES
    return f"{shown} and {more} more" if more > 0 else shown
