"""One replay file's rows: timestamps read in the input's zone and labelling, every row
checked, bad rows reported with file and line and skipped, dividend and split columns
read beside the bars, extra columns named.

Lines: CSV counts the header as line 1; Parquet data row k is line k + 1, so a CSV and its
Parquet twin report the same lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from app.domain.timefmt import to_rfc3339
from app.market.corporate_input import InputCorporateAction, corporate_columns, read_actions
from app.market.replay_files import TIMESTAMP_ALIASES, Naming, decide_naming
from app.market.replay_problems import BarProblem, ReplayDataError
from app.market.replay_reading import ReplayOptions

PRICES = ("open", "high", "low", "close")
REQUIRED = ("timestamp", *PRICES, "volume")
OPTIONAL = ("trade_count", "vwap")
NUMERIC = (*PRICES, "volume", *OPTIONAL)
NAT = np.iinfo(np.int64).min
US_PER_MINUTE = 60_000_000
NEW_YORK = ZoneInfo("America/New_York")
_ZONED = r"(?:[zZ]|[+-]\d\d:?\d\d)$"  # an ISO 8601 time that names its offset
_EPOCH = re.compile(r"\d{9,}(\.\d+)?")

# A vectorised row check: which rows fail, and how to word the failure for row i.
Check = tuple[np.ndarray, Callable[[int], str]]


@dataclass(frozen=True, slots=True)
class RowRules:
    """What every file of one load keeps: symbols, dates, and how its times are read."""

    options: ReplayOptions
    zone: ZoneInfo
    wanted: set[str] | None
    bounds: tuple[int | None, int | None]  # epoch seconds [lo, hi)

    def keep(self, symbols: np.ndarray, stamps: np.ndarray) -> np.ndarray:
        """Rows of the wanted symbols and dates; unparsable times are always kept (and
        reported): a bad row on a day nobody asked for is not this load's problem."""
        keep = np.ones(len(symbols), dtype=bool)
        if self.wanted is not None:
            keep &= np.isin(symbols, list(self.wanted))
        lo, hi = self.bounds
        known = stamps != NAT
        if lo is not None:
            keep &= ~known | (stamps >= lo * 1_000_000)
        if hi is not None:
            keep &= ~known | (stamps < hi * 1_000_000)
        return keep


@dataclass(slots=True)
class FileRows:
    """One file's clean rows and what else was learnt reading it."""

    frame: pd.DataFrame  # symbol, ts (epoch s, the bar's start), naive, prices, extras
    problems: list[BarProblem]
    held: set[str]  # every symbol the file holds, whether wanted or not
    naming: Naming
    extras: tuple[str, ...]  # columns nobody reads
    newest_first: bool
    actions: list[InputCorporateAction]


def reads_column(name: str) -> bool:
    """Is `name` (a lower-cased header) a column a replay reads, or an alias of one?"""
    known = (*REQUIRED, *OPTIONAL, "symbol", *TIMESTAMP_ALIASES)
    return name in known or bool(corporate_columns([name]))


def clean_file(
    raw: pd.DataFrame, lines: np.ndarray, label: str, symbol: str | None, rules: RowRules
) -> FileRows:
    """Validate one file's rows (`symbol`: the file's, or None for a long file)."""
    _require_columns(raw, label, long=symbol is None)
    symbols, naming = _symbols(raw, symbol, rules.options, label)
    held = set(symbols.tolist())
    stamps, naive = parse_timestamps(raw["timestamp"], rules.zone, rules.options.end_labels)
    keep = rules.keep(symbols, stamps)
    raw, lines, symbols, stamps, naive = (
        raw[keep],
        lines[keep],
        symbols[keep],
        stamps[keep],
        naive[keep],
    )
    numbers = {c: _numbers(raw[c], optional=c not in REQUIRED) for c in NUMERIC if c in raw}
    reasons = _row_reasons(raw, symbols, stamps, numbers)
    _mark_duplicates(reasons, symbols, stamps, lines)
    problems = [BarProblem(label, int(lines[i]), "; ".join(r)) for i, r in sorted(reasons.items())]
    good = np.ones(len(raw), dtype=bool)
    good[list(reasons)] = False
    absent = np.full(len(raw), np.nan)
    frame = pd.DataFrame(
        {
            "symbol": symbols[good],
            "ts": stamps[good] // 1_000_000,
            "naive": naive[good],
            **{c: (numbers[c][0] if c in numbers else absent)[good] for c in NUMERIC},
        }
    )
    corporate = corporate_columns(raw.columns)
    cells = {c: raw[c] for c in corporate}
    actions = read_actions(label, corporate, cells, symbols, _new_york_days(stamps), lines)
    known = {*REQUIRED, *OPTIONAL, "symbol", *corporate}
    extras = tuple(c for c in raw.columns if c not in known)
    newest = _newest_first(symbols[good], stamps[good])
    return FileRows(frame, problems, held, naming, extras, newest, actions)


def _require_columns(raw: pd.DataFrame, label: str, long: bool) -> None:
    required = ("symbol", *REQUIRED) if long else REQUIRED
    if missing := [c for c in required if c not in raw.columns]:
        looks_like_data = any(str(c)[:1].isdigit() for c in raw.columns)
        hint = (
            " (the first line looks like data: the file needs a header line naming its "
            "columns, e.g. timestamp,open,high,low,close,volume)"
            if looks_like_data
            else ""
        )
        raise ReplayDataError(f"{label}: missing required column(s) {', '.join(missing)}{hint}")


def _symbols(
    raw: pd.DataFrame, symbol: str | None, options: ReplayOptions, label: str
) -> tuple[np.ndarray, Naming]:
    """Each row's symbol: the file's, or the long file's column with its suffix stripped."""
    if symbol is not None:
        return np.full(len(raw), symbol, dtype=object), Naming()
    names = raw["symbol"].astype(str).fillna("").str.strip()
    naming = decide_naming(names.unique().tolist(), options.symbol_suffix, label)
    if naming.suffix:
        names = names.map(naming.strip)
    return names.to_numpy(object), naming


def parse_timestamps(
    column: pd.Series, zone: ZoneInfo, end_labels: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Epoch microseconds (UTC) of each bar's start, `NAT` where unparsable, and which
    rows were written without a zone (those are read in `zone`)."""
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        parsed = column.dt.tz_convert("UTC").dt.tz_localize(None)
        naive = np.zeros(len(column), dtype=bool)
    elif pd.api.types.is_datetime64_dtype(column.dtype):
        parsed, naive = column, np.ones(len(column), dtype=bool)
    else:
        text = column.astype(str).str.strip()
        parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
        parsed = parsed.dt.tz_localize(None)
        naive = ~text.str.contains(_ZONED, regex=True).to_numpy(bool)
    stamps = parsed.to_numpy("datetime64[us]").view(np.int64).copy()
    if zone.key != "UTC" and naive.any():
        stamps[naive] = _localize(stamps[naive], zone)
    if end_labels:
        stamps[stamps != NAT] -= US_PER_MINUTE
    return stamps, naive


def _localize(wall: np.ndarray, zone: ZoneInfo) -> np.ndarray:
    """Wall-clock microseconds in `zone` as UTC epoch microseconds. The hour a clock
    repeats reads as standard time, the hour it skips moves forward: both are night."""
    index = pd.DatetimeIndex(wall.view("datetime64[us]"))
    standard = np.zeros(len(index), dtype=bool)
    local = index.tz_localize(zone, ambiguous=standard, nonexistent="shift_forward")
    return local.tz_convert("UTC").tz_localize(None).as_unit("us").asi8


def _new_york_days(stamps: np.ndarray) -> np.ndarray:
    """Each bar's New York date (None where its time cannot be read)."""
    days = np.full(len(stamps), None, dtype=object)
    known = stamps != NAT
    moments = pd.to_datetime(stamps[known], unit="us", utc=True).tz_convert(NEW_YORK)
    days[known] = np.asarray(moments.date, dtype=object)
    return days


def _newest_first(symbols: np.ndarray, stamps: np.ndarray) -> bool:
    """Do a file's rows mostly step back in time (per symbol, in file order)?"""
    if len(symbols) and (symbols == symbols[0]).all():  # one symbol: the usual file
        values = np.diff(stamps)
    else:
        steps = pd.DataFrame({"s": symbols, "t": stamps}).groupby("s", sort=False)["t"].diff()
        values = steps.to_numpy(np.float64, na_value=np.nan)
    return int((values < 0).sum()) > int((values > 0).sum())


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


def _time_problem(text: str) -> str:
    if _EPOCH.fullmatch(text.strip()):
        return (
            f"unparsable timestamp {text!r} (a bare number: epoch times are not read; "
            "write ISO 8601, e.g. 2026-03-12T13:30:00Z)"
        )
    return f"unparsable timestamp {text!r}"


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
    nat = stamps == NAT
    checks: list[Check] = [
        (symbols == "", lambda i: "empty symbol"),
        (nat, lambda i: _time_problem(when(i))),
        (~nat & (stamps % US_PER_MINUTE != 0), lambda i: f"{when(i)} is not a whole minute"),
    ]
    for col, (values, unparsable) in numbers.items():
        cell = text(col)
        checks.append((unparsable, lambda i, c=col, t=cell: f"unparsable {c} {t(i)!r}"))
        bad = ~unparsable & (np.isinf(values) if col not in REQUIRED else ~np.isfinite(values))
        if col not in OPTIONAL:
            checks.append((bad, lambda i, c=col: f"{c} is not finite ({value[c][i]})"))
    checks += _value_checks(value)
    reasons: dict[int, list[str]] = {}
    for mask, message in checks:
        for i in np.flatnonzero(mask).tolist():
            reasons.setdefault(i, []).append(message(i))
    return reasons


def _value_checks(value: dict[str, np.ndarray]) -> list[Check]:
    checks: list[Check] = []
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
    return checks


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
