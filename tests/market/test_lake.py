"""The bar lake: layout, round trip, idempotent and atomic flushes, reads across parts."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app.domain.models import Bar
from app.engine.stop import LedgerWriteError
from app.market import lake as lake_module
from app.market.lake import SCHEMA, BarLake
from app.market.synthetic import SyntheticMarket


@pytest.fixture(scope="module")
def synthetic_bars() -> list[Bar]:
    """An hour of 4 symbols on each of two sessions (with the odd missing bar)."""
    market = SyntheticMarket(symbols=4, seed=5, start=date(2026, 3, 12))
    minutes = market.minutes(2)
    chosen = minutes[:60] + minutes[390:450]
    return [b for m in chosen for b in market.bars(m).values()]


def digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def one(symbol: str, moment: datetime, close: float = 10.0) -> Bar:
    return Bar(symbol, moment, close, close, close, close, 1.0, trade_count=None, vwap=None)


def test_layout_and_schema(tmp_path: Path, synthetic_bars: list[Bar]) -> None:
    lake = BarLake(tmp_path)
    lake.add(synthetic_bars)
    written = lake.flush()
    names = sorted(str(p.relative_to(tmp_path)) for p in written)
    assert names == [
        "bars/date=2026-03-12/part-0930.parquet",
        "bars/date=2026-03-13/part-0930.parquet",
    ]
    assert sorted(digests(tmp_path)) == names  # no temporary files left behind
    assert lake.days() == [date(2026, 3, 12), date(2026, 3, 13)]
    table = pq.read_table(written[0])
    assert table.column_names == SCHEMA.names
    frame = table.to_pandas()
    assert frame.equals(frame.sort_values(["symbol", "timestamp"], ignore_index=True))


def test_round_trip(tmp_path: Path, synthetic_bars: list[Bar]) -> None:
    lake = BarLake(tmp_path)
    lake.add(synthetic_bars)
    assert lake.read().empty  # nothing flushed yet
    lake.flush()
    frame = lake.read()
    assert str(frame["timestamp"].dtype) == "datetime64[s, UTC]"
    assert len(frame) == len(synthetic_bars)
    expected = sorted(synthetic_bars, key=lambda b: (b.symbol, b.timestamp))
    for row, bar in zip(frame.itertuples(index=False), expected, strict=True):
        assert row.symbol == bar.symbol
        assert row.timestamp.to_pydatetime() == bar.timestamp
        assert (row.open, row.high, row.low, row.close, row.volume) == (
            bar.open,
            bar.high,
            bar.low,
            bar.close,
            bar.volume,
        )
        assert (row.trade_count, row.vwap) == (bar.trade_count, bar.vwap)


def test_flushing_the_same_bars_twice_changes_no_byte(tmp_path: Path, synthetic_bars) -> None:
    lake = BarLake(tmp_path)
    lake.add(synthetic_bars)
    lake.flush()
    before = digests(tmp_path)
    lake.add(reversed(synthetic_bars))  # order of arrival does not matter
    lake.flush()
    assert digests(tmp_path) == before
    fresh = BarLake(tmp_path)  # nor does a restart
    fresh.add(synthetic_bars)
    fresh.flush()
    assert digests(tmp_path) == before
    assert lake.flush() == []  # nothing buffered


def test_same_first_minute_twice_merges(tmp_path: Path) -> None:
    minute = datetime(2026, 3, 12, 13, 30, tzinfo=UTC)
    lake = BarLake(tmp_path)
    lake.add([one("AAA", minute)])
    first = lake.flush()
    lake.add([one("BBB", minute), one("AAA", minute, close=11.0)])
    assert lake.flush() == first
    frame = lake.read()
    assert frame["symbol"].tolist() == ["AAA", "BBB"]
    assert frame["close"].tolist() == [11.0, 10.0]  # the newer AAA wins


def test_read_keeps_the_last_copy_across_parts(tmp_path: Path) -> None:
    minute = datetime(2026, 3, 12, 13, 30, tzinfo=UTC)
    lake = BarLake(tmp_path)
    lake.add([one("AAA", minute), one("AAA", minute + timedelta(minutes=1))])
    lake.flush()
    lake.add([one("AAA", minute + timedelta(minutes=1), close=12.0)])
    lake.flush()  # part-0931 sorts after part-0930
    frame = lake.read()
    assert frame["close"].tolist() == [10.0, 12.0]


def test_read_filters(tmp_path: Path, synthetic_bars: list[Bar]) -> None:
    lake = BarLake(tmp_path)
    lake.add(synthetic_bars)
    lake.flush()
    symbol = synthetic_bars[0].symbol
    only = lake.read(start=date(2026, 3, 13), symbols=[symbol])
    assert set(only["symbol"]) == {symbol}
    assert {t.date() for t in only["timestamp"]} == {date(2026, 3, 13)}
    assert len(lake.read(end=date(2026, 3, 12))) + len(lake.read(start=date(2026, 3, 13))) == len(
        synthetic_bars
    )
    assert lake.read(start=date(2026, 3, 14)).empty
    assert list(lake.read(symbols=["NOPE"]).columns) == SCHEMA.names


def test_partition_is_the_new_york_date(tmp_path: Path) -> None:
    evening = datetime(2026, 3, 13, 0, 30, tzinfo=UTC)  # 20:30 ET on the 12th
    lake = BarLake(tmp_path)
    lake.add([one("AAA", evening)])
    (part,) = lake.flush()
    assert part.relative_to(tmp_path).as_posix() == "bars/date=2026-03-12/part-2030.parquet"


def test_days_ignores_foreign_folders(tmp_path: Path) -> None:
    (tmp_path / "bars" / "date=garbage").mkdir(parents=True)
    (tmp_path / "bars" / "date=2026-03-11").mkdir()  # empty: no parts
    assert BarLake(tmp_path).days() == []
    assert BarLake(tmp_path / "elsewhere").days() == []


def test_a_failed_write_leaves_the_old_part_and_keeps_the_buffer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    minute = datetime(2026, 3, 12, 13, 30, tzinfo=UTC)
    lake = BarLake(tmp_path)
    lake.add([one("AAA", minute)])
    lake.flush()
    before = digests(tmp_path)

    def half_write(table: pa.Table, where: object, **_: object) -> None:
        where.write(b"PAR1 torn")  # type: ignore[attr-defined]
        raise OSError("disk full")

    monkeypatch.setattr(lake_module.pq, "write_table", half_write)
    lake.add([one("BBB", minute)])
    with pytest.raises(LedgerWriteError, match="disk full"):
        lake.flush()
    assert digests(tmp_path) == before  # old part intact, no temporary file left
    monkeypatch.undo()
    lake.flush()  # the buffered bar was kept
    assert lake.read()["symbol"].tolist() == ["AAA", "BBB"]


def test_read_of_an_empty_lake(tmp_path: Path) -> None:
    frame = BarLake(tmp_path).read()
    assert isinstance(frame, pd.DataFrame)
    assert frame.empty
    assert list(frame.columns) == SCHEMA.names
