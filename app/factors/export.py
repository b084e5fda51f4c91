"""The bar lake in Qlib's binary layout, for a team's offline research on the same data.

    calendars/<freq>.txt                one timestamp per line: New York time, naive
                                        (`YYYY-MM-DD HH:MM:SS` for 1min, `YYYY-MM-DD` for day)
    instruments/all.txt                 `SYMBOL<TAB>first<TAB>last`, no header
    features/<symbol>/<field>.<freq>.bin  little-endian float32: the index of the symbol's
                                        first calendar position, then one value per position

The calendar holds every session minute (or session) of the days in the lake, not just the
minutes that happened to have bars, so a gap is NaN at its own position and the files of
all symbols line up. A field no bar carried (vwap, in some sources) gets no file. 1min
bars are labelled by their start (09:30 is the first bar); a day's bar is built from its
minutes (first open, highest high, lowest low, last close, summed volume, volume-weighted
vwap).

Exporting days after the ones already exported appends to each file and rewrites only the
calendar and the instrument list (last, atomically); anything else rewrites the export.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from app.ledger.small_files import write_bytes_atomic
from app.market.calendar import SessionCalendar
from app.market.lake import BarLake

FIELDS = ("open", "high", "low", "close", "volume", "vwap")
FREQUENCIES = ("1min", "day")
_NEW_YORK = ZoneInfo("America/New_York")
_FLOAT = np.dtype("<f4")


class ExportError(ValueError):
    """The export cannot be made (nothing in the lake, a bad range); the message says why."""


@dataclass(frozen=True, slots=True)
class ExportReport:
    out: Path
    freq: str
    positions: int  # calendar length after the export
    symbols: int
    appended: bool  # True: only new positions were written to existing files
    new_positions: int


def export_qlib(
    data_dir: Path,
    out: Path,
    freq: str = "1min",
    start: date | None = None,
    end: date | None = None,
    calendar: SessionCalendar | None = None,
) -> ExportReport:
    """Write (or extend) a Qlib data directory from the bar lake under `data_dir`."""
    if freq not in FREQUENCIES:
        raise ExportError(f"--freq must be one of {', '.join(FREQUENCIES)}, got {freq!r}")
    lake = BarLake(data_dir)
    days = [d for d in lake.days() if (start is None or d >= start) and (end is None or d <= end)]
    if not days:
        raise ExportError(f"no bars in {data_dir / 'bars'} between {start or '…'} and {end or '…'}")
    calendar = calendar or SessionCalendar()
    sessions = [d for d in days if calendar.is_session(d)]  # the days the arena ran
    frame = lake.read(days[0], days[-1])
    positions = _positions(sessions, freq, calendar)
    table = _aligned(frame, positions, freq)
    previous = _read_calendar(out, freq)
    labels = _labels(positions, freq)
    appending = len(labels) > len(previous) > 0 and labels[: len(previous)] == previous
    if not appending and (out / "features").exists():
        _remove_frequency(out, freq)
    first_new = len(previous) if appending else 0
    for symbol, columns in table.items():
        _write_symbol(out, symbol, columns, freq, first_new)
    others = [f for f in FREQUENCIES if f != freq and _read_calendar(out, f)]
    _write_instruments(out, table, labels, merge=appending or bool(others))
    calendar_text = "".join(f"{label}\n" for label in labels)
    write_bytes_atomic(out / "calendars" / f"{freq}.txt", calendar_text.encode())
    return ExportReport(out, freq, len(labels), len(table), appending, len(labels) - first_new)


def _positions(sessions: list[date], freq: str, calendar: SessionCalendar) -> pd.DatetimeIndex:
    if freq == "day":
        return pd.DatetimeIndex([pd.Timestamp(d) for d in sessions])
    minutes = [m for d in sessions for m in calendar.session_minutes(d)]
    return pd.DatetimeIndex(minutes).tz_convert(_NEW_YORK).tz_localize(None)


def _labels(positions: pd.DatetimeIndex, freq: str) -> list[str]:
    pattern = "%Y-%m-%d" if freq == "day" else "%Y-%m-%d %H:%M:%S"
    return [str(x) for x in positions.strftime(pattern)]


def _aligned(frame: pd.DataFrame, positions: pd.DatetimeIndex, freq: str) -> dict[str, np.ndarray]:
    """symbol -> float32 array (positions × fields), NaN where the symbol had no bar."""
    if frame.empty:
        return {}
    frame = frame.assign(when=frame["timestamp"].dt.tz_convert(_NEW_YORK).dt.tz_localize(None))
    if freq == "day":
        frame = _daily(frame)
    table: dict[str, np.ndarray] = {}
    for symbol, rows in frame.groupby("symbol", sort=True):
        values = rows.set_index("when")[list(FIELDS)].reindex(positions)
        table[str(symbol)] = values.to_numpy(dtype=_FLOAT)
    return table


def _daily(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.assign(when=frame["when"].dt.normalize(), traded=frame["vwap"] * frame["volume"])
    days = frame.sort_values("when", kind="stable").groupby(["symbol", "when"], sort=True)
    daily = days.agg(
        open=("open", "first"), high=("high", "max"), low=("low", "min"),
        close=("close", "last"), volume=("volume", "sum"), traded=("traded", "sum"),
    )  # fmt: skip
    daily["vwap"] = (daily["traded"] / daily["volume"]).where(daily["volume"] > 0)
    return daily.reset_index()


def _span(columns: np.ndarray) -> tuple[int, int] | None:
    """First and last position with any value."""
    present = np.flatnonzero(~np.isnan(columns).all(axis=1))
    return None if present.size == 0 else (int(present[0]), int(present[-1]))


def _write_symbol(out: Path, symbol: str, columns: np.ndarray, freq: str, first_new: int) -> None:
    folder = out / "features" / symbol.lower()
    folder.mkdir(parents=True, exist_ok=True)
    span = _span(columns)
    for i, field in enumerate(FIELDS):
        path = folder / f"{field}.{freq}.bin"
        values = columns[:, i]
        start = _stored_start(path) if first_new else None
        if start is not None:  # extend: keep what is there up to the old calendar's end
            _append(path, values, start, first_new)
        elif span is not None and not np.isnan(values).all():  # no file for a field never seen
            start = span[0]
            data = np.concatenate([np.array([start], _FLOAT), values[start:]])
            write_bytes_atomic(path, data.astype(_FLOAT).tobytes())


def _stored_start(path: Path) -> int | None:
    if not path.exists() or path.stat().st_size < _FLOAT.itemsize:
        return None
    return int(np.fromfile(path, dtype=_FLOAT, count=1)[0])


def _append(path: Path, values: np.ndarray, start: int, first_new: int) -> None:
    """Cut the file back to the old calendar (an interrupted export may have left more),
    then add the new positions."""
    keep = (1 + first_new - start) * _FLOAT.itemsize
    with path.open("r+b") as handle:
        handle.truncate(keep)
        handle.seek(keep)
        handle.write(values[first_new:].astype(_FLOAT).tobytes())
        handle.flush()
        os.fsync(handle.fileno())


def _write_instruments(
    out: Path, table: dict[str, np.ndarray], labels: list[str], merge: bool
) -> None:
    """Each symbol's first day and last position with a bar, merged with earlier exports.

    One list serves both frequencies, as in Qlib's own data: a span from the first day's
    midnight to the last bar's time covers that symbol's minutes and its days alike.
    """
    path = out / "instruments" / "all.txt"
    spans: dict[str, tuple[str, str]] = {}
    if merge and path.exists():
        for line in path.read_text().splitlines():
            parts = line.split("\t")
            if len(parts) == 3:
                spans[parts[0]] = (parts[1], parts[2])
    for symbol, columns in table.items():
        span = _span(columns)
        if span is None:
            continue
        first, last = labels[span[0]][:10], labels[span[1]]
        if symbol in spans:
            first, last = min(first, spans[symbol][0]), max(last, spans[symbol][1])
        spans[symbol] = (first, last)
    lines = "".join(f"{s}\t{a}\t{b}\n" for s, (a, b) in sorted(spans.items()))
    write_bytes_atomic(path, lines.encode())


def _read_calendar(out: Path, freq: str) -> list[str]:
    path = out / "calendars" / f"{freq}.txt"
    return path.read_text().splitlines() if path.exists() else []


def _remove_frequency(out: Path, freq: str) -> None:
    """A rewrite starts clean: this frequency's files go, other frequencies stay."""
    for path in (out / "features").glob(f"*/*.{freq}.bin"):
        path.unlink()
    for folder in (out / "features").iterdir():
        if folder.is_dir() and not any(folder.iterdir()):
            shutil.rmtree(folder)
