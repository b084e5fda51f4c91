"""Fold a day's portfolio snapshots (JSONL) into an owner's `portfolio.parquet`.

Columns: `timestamp` (timestamp[us, UTC]), `day` (date32: the day file a row came from,
so a re-fold replaces exactly that file's rows), money fields as decimal128(38, 15) (every
amount the books can hold: decision 0024; files folded at scale 10 are widened on merge),
nested values (e.g. `positions`) as JSON text marked with field metadata, other
scalars as Arrow infers them. The last snapshot of a timestamp wins.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from app.domain.timefmt import parse_rfc3339
from app.engine.stop import LedgerWriteError
from app.ledger import paths
from app.ledger.jsonl import fsync_dir, read_jsonl
from app.ledger.paths import ACCOUNT, PORTFOLIO_PARQUET, portfolio_day_path, portfolio_days

DEFAULT_MONEY_FIELDS = frozenset(
    {"cash", "equity", "market_value", "realized_pnl", "unrealized_pnl", "fees"}
)
MONEY_TYPE = pa.decimal128(38, 15)  # 23 integer digits, 15 decimals: 6 (price) + 9 (qty)
TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")
TIMESTAMP = "timestamp"
DAY = "day"
JSON_METADATA = {b"arena.encoding": b"json"}


class FoldError(RuntimeError):
    """Some owners' days could not be folded; the others were."""

    def __init__(self, failures: dict[Path, Exception]) -> None:
        listing = "; ".join(f"{path}: {exc}" for path, exc in failures.items())
        super().__init__(f"{len(failures)} portfolio fold(s) failed: {listing}")
        self.failures = failures


def _to_decimal(name: str, value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"money field {name!r} holds {value!r}, not a decimal string")
    try:
        # A float (which a well-behaved engine never writes) goes via its shortest repr.
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"money field {name!r} holds {value!r}, not a decimal") from exc
    if not amount.is_finite():
        raise ValueError(f"money field {name!r} holds {value!r}, not a finite amount")
    return amount


def _column(
    name: str, values: list[Any], money_fields: frozenset[str]
) -> tuple[pa.Field, pa.Array]:
    """One Arrow column of `values`, typed by the column's role."""
    if name == TIMESTAMP:
        if any(not isinstance(v, str) for v in values):
            raise ValueError("every portfolio snapshot needs a string 'timestamp'")
        return pa.field(name, TIMESTAMP_TYPE), pa.array(
            [parse_rfc3339(v) for v in values], TIMESTAMP_TYPE
        )
    if name in money_fields:
        return pa.field(name, MONEY_TYPE), pa.array(
            [_to_decimal(name, v) for v in values], MONEY_TYPE
        )
    if any(isinstance(v, dict | list) for v in values):
        text = [None if v is None else orjson.dumps(v).decode() for v in values]
        return pa.field(name, pa.string(), metadata=JSON_METADATA), pa.array(text, pa.string())
    try:
        array = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ValueError(f"portfolio field {name!r} mixes types: {exc}") from exc
    return pa.field(name, array.type), array


def rows_to_table(
    rows: list[dict[str, Any]], day: date, money_fields: Iterable[str] = DEFAULT_MONEY_FIELDS
) -> pa.Table:
    """Snapshots of one day file as a typed table (timestamp, day, then fields in order)."""
    money = frozenset(money_fields)
    names: dict[str, None] = {TIMESTAMP: None}  # an ordered set: first appearance wins
    for row in rows:
        names.update(dict.fromkeys(row))
    if DAY in names:
        raise ValueError(f"a portfolio snapshot may not carry a {DAY!r} field: it is the fold's")
    fields = []
    arrays = []
    for name in names:
        field, array = _column(name, [row.get(name) for row in rows], money)
        fields.append(field)
        arrays.append(array)
        if name == TIMESTAMP:
            fields.append(pa.field(DAY, pa.date32()))
            arrays.append(pa.array([day] * len(rows), pa.date32()))
    return _sorted_unique(pa.Table.from_arrays(arrays, schema=pa.schema(fields)))


def _sorted_unique(table: pa.Table) -> pa.Table:
    """Rows by timestamp; of rows sharing one, the last (latest day, latest line) is kept."""
    table = table.sort_by([(TIMESTAMP, "ascending"), (DAY, "ascending")])  # stable sort
    if table.num_rows < 2:
        return table
    stamps = table[TIMESTAMP].combine_chunks()
    changes = pc.not_equal(stamps[:-1], stamps[1:])
    keep = pa.concat_arrays([changes, pa.array([True])])
    return table.filter(keep)


def _merge(tables: list[pa.Table]) -> pa.Table:
    # "permissive" lets a column that was all-null (or int) on one day be double on another.
    merged = pa.concat_tables(tables, promote_options="permissive")
    return _sorted_unique(merged).combine_chunks()


def _write_atomic(table: pa.Table, target: Path) -> None:
    """Write Parquet to a temporary file beside `target`, fsync, then rename over it; a
    failure raises LedgerWriteError and leaves `target` as it was."""
    try:
        _write_parquet(table, target)
    except OSError as error:  # pyarrow's I/O errors are OSErrors too
        raise LedgerWriteError(target, error) from error


def _write_parquet(table: pa.Table, target: Path) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        pq.write_table(table, tmp, compression="zstd")
        tmp.chmod(0o644)  # mkstemp's 0600 would hide it from a web process of another user
        with tmp.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def fold_portfolio_day(
    owner_dir: Path, day: date, money_fields: Iterable[str] = DEFAULT_MONEY_FIELDS
) -> Path | None:
    """Merge `portfolio/<day>.jsonl` into `portfolio.parquet`, replacing that day's rows.

    Returns the Parquet path, or None when there is no day file. A corrupt line raises
    LedgerCorruptError; a torn last line is logged and left out. Folding the same day
    file twice leaves byte-identical Parquet.
    """
    owner_dir = Path(owner_dir)
    day_path = portfolio_day_path(owner_dir, day)
    if not day_path.is_file():
        return None
    rows = list(read_jsonl(day_path, allow_torn_tail=True))
    target = owner_dir / PORTFOLIO_PARQUET
    tables: list[pa.Table] = []
    if target.exists():
        old = _widened(pq.read_table(target))
        tables.append(old.filter(pc.not_equal(old[DAY], pa.scalar(day, pa.date32()))))
    if rows:
        tables.append(rows_to_table(rows, day, money_fields))
    if not tables:
        return None
    _write_atomic(_merge(tables), target)
    return target


def _widened(table: pa.Table) -> pa.Table:
    """Money columns of an earlier fold at today's scale (10 → 15 decimals: no loss)."""
    fields = [
        pa.field(f.name, MONEY_TYPE, f.nullable, f.metadata)
        if pa.types.is_decimal(f.type) and f.type != MONEY_TYPE
        else f
        for f in table.schema
    ]
    return table.cast(pa.schema(fields, table.schema.metadata))


def fold_all(
    data_dir: Path, day: date, money_fields: Iterable[str] = DEFAULT_MONEY_FIELDS
) -> list[Path]:
    """Fold `day` for every team and the account; one owner's failure does not stop the rest."""
    data_dir = Path(data_dir)
    owners = [paths.owner_dir(data_dir, team) for team in paths.team_ids(data_dir)]
    owners.append(paths.owner_dir(data_dir, ACCOUNT))
    folded: list[Path] = []
    failures: dict[Path, Exception] = {}
    for folder in owners:
        try:
            target = fold_portfolio_day(folder, day, money_fields)
        except (ValueError, OSError, pa.ArrowException, LedgerWriteError) as exc:
            failures[folder] = exc
            continue
        if target is not None:
            folded.append(target)
    if failures:
        raise FoldError(failures)
    return folded


def _to_frame(table: pa.Table) -> pd.DataFrame:
    """Arrow to pandas, with JSON-text columns decoded back to dicts and lists."""
    frame = table.to_pandas()
    for field in table.schema:
        if field.metadata == JSON_METADATA:
            texts = table[field.name].to_pylist()
            decoded = [None if text is None else orjson.loads(text) for text in texts]
            frame[field.name] = pd.Series(decoded, index=frame.index, dtype=object)
    return frame


def read_portfolio(
    owner_dir: Path, money_fields: Iterable[str] = DEFAULT_MONEY_FIELDS
) -> pd.DataFrame:
    """The whole snapshot history: folded days from Parquet, the other days from JSONL.

    Sorted by timestamp, one row per timestamp; money columns hold Decimals, nested
    columns dicts/lists, `timestamp` is datetime64[us, UTC].
    """
    owner_dir = Path(owner_dir)
    tables: list[pa.Table] = []
    folded: set[date] = set()
    target = owner_dir / PORTFOLIO_PARQUET
    if target.exists():
        table = pq.read_table(target)
        folded = set(table[DAY].to_pylist())
        tables.append(table)
    for day, path in portfolio_days(owner_dir):
        if day in folded:
            continue
        rows = list(read_jsonl(path, allow_torn_tail=True))
        if rows:
            tables.append(rows_to_table(rows, day, money_fields))
    if not tables:
        empty = pa.table({TIMESTAMP: pa.array([], TIMESTAMP_TYPE), DAY: pa.array([], pa.date32())})
        return empty.to_pandas()
    return _to_frame(_merge(tables))
