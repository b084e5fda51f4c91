"""The bar lake: every bar the arena saw, as Parquet partitioned by day.

Layout: `<data_dir>/bars/date=YYYY-MM-DD/part-HHMM.parquet`. The date is the bar's New York
calendar date (the trading day) and HHMM the New York time of the first minute in the part,
so part names sort chronologically within a day. Bars are buffered in memory by `add` and
written by `flush`: each part goes to a temporary file in the same directory, is fsynced and
renamed over the target, so readers see either the old part or the new one, never half.

Flushing the same bars again rewrites the same part with the same bytes. If a part of that
name already exists (the same first minute flushed twice), the new bars are merged into it,
newest wins, so nothing written before is lost. `read` sees flushed bars only and keeps the
last copy of a (symbol, timestamp) across parts.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from app.domain.models import Bar
from app.engine.stop import LedgerWriteError

SCHEMA = pa.schema(
    [
        ("symbol", pa.string()),
        ("timestamp", pa.timestamp("s", tz="UTC")),
        ("open", pa.float64()),
        ("high", pa.float64()),
        ("low", pa.float64()),
        ("close", pa.float64()),
        ("volume", pa.float64()),
        ("trade_count", pa.float64()),
        ("vwap", pa.float64()),
    ]
)
_KEY = ["symbol", "timestamp"]
_NEW_YORK = ZoneInfo("America/New_York")
_PART_GLOB = "part-*.parquet"


class BarLake:
    """Buffered, atomic, idempotent writes of minute bars to day-partitioned Parquet."""

    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / "bars"
        # day -> (symbol, epoch seconds) -> bar; a re-added bar replaces the buffered one.
        self._buffer: dict[date, dict[tuple[str, int], Bar]] = {}

    def add(self, bars: Iterable[Bar]) -> None:
        """Buffer bars until the next `flush`."""
        days: dict[datetime, date] = {}  # a minute's bars share one timestamp
        for bar in bars:
            stamp = bar.timestamp if bar.timestamp.tzinfo else bar.timestamp.replace(tzinfo=UTC)
            day = days.get(stamp)
            if day is None:
                day = days[stamp] = stamp.astimezone(_NEW_YORK).date()
            self._buffer.setdefault(day, {})[(bar.symbol, int(stamp.timestamp()))] = bar

    def flush(self) -> list[Path]:
        """Write every buffered day as one part; returns the parts written. A part that
        cannot be written raises LedgerWriteError; its bars stay buffered."""
        written = []
        for day in sorted(self._buffer):
            written.append(self._write_part(day, _table(self._buffer[day].values())))
            del self._buffer[day]  # only once it is safely on disk
        return written

    def read(
        self,
        start: date | None = None,
        end: date | None = None,
        symbols: Iterable[str] | None = None,
    ) -> pd.DataFrame:
        """Flushed bars of days start..end (inclusive), sorted by (symbol, timestamp)."""
        wanted = None if symbols is None else sorted(set(symbols))
        tables = []
        for day in self.days():
            if (start is not None and day < start) or (end is not None and day > end):
                continue
            for part in sorted(self._day_dir(day).glob(_PART_GLOB)):
                table = pq.read_table(part, schema=SCHEMA)
                if wanted is not None:
                    table = table.filter(pc.is_in(table["symbol"], pa.array(wanted, pa.string())))
                tables.append(table)
        frame = pa.concat_tables(tables).to_pandas() if tables else SCHEMA.empty_table().to_pandas()
        frame = frame.drop_duplicates(_KEY, keep="last")
        return frame.sort_values(_KEY, kind="stable", ignore_index=True)

    def days(self) -> list[date]:
        """Days that have at least one part, in order."""
        if not self.root.is_dir():
            return []
        found = []
        for folder in self.root.glob("date=*"):
            try:
                day = date.fromisoformat(folder.name.removeprefix("date="))
            except ValueError:
                continue  # not one of ours
            if any(folder.glob(_PART_GLOB)):
                found.append(day)
        return sorted(found)

    def _day_dir(self, day: date) -> Path:
        return self.root / f"date={day.isoformat()}"

    def _write_part(self, day: date, table: pa.Table) -> Path:
        first = pc.min(table["timestamp"]).as_py().astimezone(_NEW_YORK)
        folder = self._day_dir(day)
        target = folder / f"part-{first:%H%M}.parquet"
        try:
            _replace_part(folder, target, table)
        except OSError as error:  # pyarrow's I/O errors are OSErrors too
            raise LedgerWriteError(target, error) from error
        return target


def _replace_part(folder: Path, target: Path, table: pa.Table) -> None:
    """Write `table` as `target` atomically (merged into an existing part)."""
    folder.mkdir(parents=True, exist_ok=True)
    if target.exists():  # same first minute flushed before: merge, never lose bars
        table = _sorted(pa.concat_tables([pq.read_table(target, schema=SCHEMA), table]))
    temporary = folder / f".{target.name}.{os.getpid()}.tmp"
    try:
        with temporary.open("wb") as handle:
            pq.write_table(table, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    _fsync_dir(folder)


def _table(bars: Iterable[Bar]) -> pa.Table:
    """Bars as a table in the lake's schema, sorted by (symbol, timestamp)."""
    bars = list(bars)
    columns = {
        "symbol": [b.symbol for b in bars],
        "timestamp": [b.timestamp for b in bars],
        **{name: [getattr(b, name) for b in bars] for name in SCHEMA.names[2:]},
    }
    return _sorted(pa.Table.from_pydict(columns, schema=SCHEMA))


def _sorted(table: pa.Table) -> pa.Table:
    """Sorted by (symbol, timestamp), the last row of a repeated key kept."""
    frame = table.to_pandas().drop_duplicates(_KEY, keep="last")
    frame = frame.sort_values(_KEY, kind="stable", ignore_index=True)
    table = pa.Table.from_pandas(frame, schema=SCHEMA, preserve_index=False)
    # No pandas metadata: the bytes should depend on the bars, not on the pandas version.
    return table.replace_schema_metadata(None)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (where the platform allows opening a directory)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
