"""Folding portfolio day files into Parquet, and reading the merged history back."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app.domain.timefmt import parse_rfc3339
from app.ledger.fold import MONEY_TYPE, FoldError, fold_all, fold_portfolio_day, read_portfolio
from app.ledger.jsonl import LedgerCorruptError, encode_line
from app.ledger.writer import ACCOUNT, LedgerWriter

DAY = date(2026, 3, 12)
NEXT_DAY = date(2026, 3, 13)
Snap = Callable[..., dict]


def write_day(data_dir: Path, owner: str | None, day: date, minutes: range, make: Snap) -> list:
    records = [make(minute, day) for minute in minutes]
    with LedgerWriter(data_dir, durability="close") as writer:
        for record in records:
            writer.portfolio(owner, day, record)
    return records


def as_json(record: dict) -> dict:
    """What a record looks like once written: Decimals as strings, datetimes as text."""
    return orjson.loads(encode_line(record))


def test_round_trip_is_exact(data_dir: Path, make_snapshot: Snap) -> None:
    records = write_day(data_dir, "alpha", DAY, range(5), make_snapshot)
    records[0]["cash"] = Decimal("-98765432109876543210.1234567890")
    records[1]["cash"] = Decimal("0.0000000001")
    day_file = data_dir / "team/alpha/portfolio/2026-03-12.jsonl"
    day_file.write_bytes(b"".join(encode_line(r) for r in records))
    owner = data_dir / "team/alpha"

    target = fold_portfolio_day(owner, DAY)
    assert target == owner / "portfolio.parquet"
    schema = pq.read_schema(target)
    assert schema.field("timestamp").type == pa.timestamp("us", tz="UTC")
    for money in ("cash", "equity", "market_value"):
        assert schema.field(money).type == MONEY_TYPE
    assert schema.field("positions").type == pa.string()
    assert schema.field("trades").type == pa.int64()
    assert schema.field("drawdown").type == pa.float64()
    assert schema.field("active").type == pa.bool_()

    frame = read_portfolio(owner)
    assert len(frame) == len(records)
    for row, record in zip(frame.to_dict("records"), records, strict=True):
        assert row["timestamp"].to_pydatetime() == record["timestamp"]
        for money in ("cash", "equity", "market_value"):
            assert isinstance(row[money], Decimal)
            assert row[money] == record[money]
        assert row["positions"] == as_json(record)["positions"]
        assert row["trades"] == record["trades"]
        assert row["drawdown"] == record["drawdown"]
        assert row["active"] == record["active"]


def test_second_fold_gives_the_same_bytes(data_dir: Path, make_snapshot: Snap) -> None:
    write_day(data_dir, "alpha", DAY, range(30), make_snapshot)
    owner = data_dir / "team/alpha"
    first = fold_portfolio_day(owner, DAY).read_bytes()
    second = fold_portfolio_day(owner, DAY).read_bytes()
    assert first == second
    assert sorted(p.name for p in owner.iterdir()) == ["portfolio", "portfolio.parquet"]


def test_refold_replaces_the_days_rows(data_dir: Path, make_snapshot: Snap) -> None:
    owner = data_dir / "team/alpha"
    earlier = write_day(data_dir, "alpha", DAY, range(3), make_snapshot)
    fold_portfolio_day(owner, DAY)
    later = write_day(data_dir, "alpha", NEXT_DAY, range(4), make_snapshot)
    fold_portfolio_day(owner, NEXT_DAY)
    more = write_day(data_dir, "alpha", DAY, range(3, 6), make_snapshot)  # the day file grew
    fold_portfolio_day(owner, DAY)

    table = pq.read_table(owner / "portfolio.parquet")
    stamps = table["timestamp"].to_pylist()
    assert stamps == [r["timestamp"] for r in earlier + more + later]
    assert table["day"].to_pylist() == [DAY] * 6 + [NEXT_DAY] * 4


def test_refold_drops_rows_no_longer_in_the_day_file(data_dir: Path, make_snapshot: Snap) -> None:
    owner = data_dir / "team/alpha"
    write_day(data_dir, "alpha", DAY, range(3), make_snapshot)
    fold_portfolio_day(owner, DAY)
    # The day was replayed from scratch and recorded other minutes.
    (owner / "portfolio/2026-03-12.jsonl").unlink()
    again = write_day(data_dir, "alpha", DAY, range(5, 7), make_snapshot)
    fold_portfolio_day(owner, DAY)
    stamps = pq.read_table(owner / "portfolio.parquet")["timestamp"].to_pylist()
    assert stamps == [r["timestamp"] for r in again]


def test_read_portfolio_merges_folded_and_unfolded_days(
    data_dir: Path, make_snapshot: Snap
) -> None:
    owner = data_dir / "account"
    first = write_day(data_dir, ACCOUNT, DAY, range(3), make_snapshot)
    fold_portfolio_day(owner, DAY)
    second = write_day(data_dir, ACCOUNT, NEXT_DAY, range(2), make_snapshot)

    frame = read_portfolio(owner)
    assert [t.to_pydatetime() for t in frame["timestamp"]] == [
        r["timestamp"] for r in first + second
    ]
    assert frame["timestamp"].is_unique
    assert list(frame["cash"]) == [r["cash"] for r in first + second]
    assert list(frame["positions"]) == [as_json(r)["positions"] for r in first + second]


def test_a_folded_day_is_read_from_parquet(data_dir: Path, make_snapshot: Snap) -> None:
    owner = data_dir / "team/alpha"
    write_day(data_dir, "alpha", DAY, range(3), make_snapshot)
    fold_portfolio_day(owner, DAY)
    # Drop the day file's content: the folded copy must be what is read.
    (owner / "portfolio/2026-03-12.jsonl").write_bytes(b"")
    assert len(read_portfolio(owner)) == 3


def test_empty_history(data_dir: Path) -> None:
    frame = read_portfolio(data_dir / "team/nobody")
    assert frame.empty
    assert "timestamp" in frame.columns


def test_last_snapshot_of_a_minute_wins(data_dir: Path, make_snapshot: Snap) -> None:
    records = [make_snapshot(0), make_snapshot(1), make_snapshot(0, cash="5.0000")]
    with LedgerWriter(data_dir) as writer:
        for record in records:
            writer.portfolio("alpha", DAY, record)
    owner = data_dir / "team/alpha"
    assert list(read_portfolio(owner)["cash"]) == [Decimal("5.0000"), records[1]["cash"]]
    fold_portfolio_day(owner, DAY)
    assert list(read_portfolio(owner)["cash"]) == [Decimal("5.0000"), records[1]["cash"]]


def test_corrupt_line_stops_the_fold(data_dir: Path, make_snapshot: Snap) -> None:
    write_day(data_dir, "alpha", DAY, range(3), make_snapshot)
    owner = data_dir / "team/alpha"
    with (owner / "portfolio/2026-03-12.jsonl").open("ab") as handle:
        handle.write(b"{oops}\n")
    with pytest.raises(LedgerCorruptError) as caught:
        fold_portfolio_day(owner, DAY)
    assert caught.value.line_no == 4
    assert not (owner / "portfolio.parquet").exists()


def test_torn_tail_is_reported_and_left_out(
    data_dir: Path, make_snapshot: Snap, caplog: pytest.LogCaptureFixture
) -> None:
    write_day(data_dir, "alpha", DAY, range(3), make_snapshot)
    owner = data_dir / "team/alpha"
    with (owner / "portfolio/2026-03-12.jsonl").open("ab") as handle:
        handle.write(encode_line(make_snapshot(3))[:-9])
    with caplog.at_level(logging.WARNING):
        fold_portfolio_day(owner, DAY)
    assert "torn" in caplog.text
    assert pq.read_table(owner / "portfolio.parquet").num_rows == 3


def test_inexact_money_is_refused(data_dir: Path, make_snapshot: Snap) -> None:
    record = make_snapshot(0)
    # 16 decimals are more than any amount the books make (0024): refused, never rounded.
    record["cash"] = Decimal("1.0000000000000001")
    with LedgerWriter(data_dir) as writer:
        writer.portfolio("alpha", DAY, record)
    with pytest.raises(pa.ArrowInvalid, match="data loss"):
        fold_portfolio_day(data_dir / "team/alpha", DAY)


@pytest.mark.parametrize("cash", ["lots", "NaN", "-Infinity", True, [1]])
def test_non_decimal_money_is_refused(data_dir: Path, make_snapshot: Snap, cash: object) -> None:
    record = make_snapshot(0)
    record["cash"] = cash
    with LedgerWriter(data_dir) as writer:
        writer.portfolio("alpha", DAY, record)
    with pytest.raises(ValueError, match="cash"):
        fold_portfolio_day(data_dir / "team/alpha", DAY)


def test_declared_money_fields(data_dir: Path, make_snapshot: Snap) -> None:
    record = make_snapshot(0)
    record["margin"] = Decimal("12.5")
    with LedgerWriter(data_dir) as writer:
        writer.portfolio("alpha", DAY, record)
    owner = data_dir / "team/alpha"
    target = fold_portfolio_day(owner, DAY, money_fields={"cash", "margin"})
    schema = pq.read_schema(target)
    assert schema.field("margin").type == MONEY_TYPE
    assert schema.field("equity").type == pa.string()  # not declared: stays text


def test_columns_that_appear_later(data_dir: Path, make_snapshot: Snap) -> None:
    owner = data_dir / "team/alpha"
    first = make_snapshot(0)
    first["note"] = None
    with LedgerWriter(data_dir) as writer:
        writer.portfolio("alpha", DAY, first)
        later = make_snapshot(0, NEXT_DAY)
        later["note"] = "rebalanced"
        later["leverage"] = 1.5
        writer.portfolio("alpha", NEXT_DAY, later)
    fold_portfolio_day(owner, DAY)
    fold_portfolio_day(owner, NEXT_DAY)
    frame = read_portfolio(owner)
    assert pd.isna(frame["note"].iloc[0])
    assert frame["note"].iloc[1] == "rebalanced"
    assert pd.isna(frame["leverage"].iloc[0])
    assert frame["leverage"].iloc[1] == 1.5


def test_no_day_file_means_nothing_to_fold(data_dir: Path) -> None:
    assert fold_portfolio_day(data_dir / "team/alpha", DAY) is None


def test_fold_all(data_dir: Path, make_snapshot: Snap) -> None:
    for owner in ("beta", "alpha", ACCOUNT):
        write_day(data_dir, owner, DAY, range(2), make_snapshot)
    (data_dir / "team/Not_A_Team").mkdir()
    (data_dir / "team/gamma").mkdir()  # a team without a portfolio yet
    assert fold_all(data_dir, DAY) == [
        data_dir / "team/alpha/portfolio.parquet",
        data_dir / "team/beta/portfolio.parquet",
        data_dir / "account/portfolio.parquet",
    ]


def test_fold_all_folds_the_others_before_failing(data_dir: Path, make_snapshot: Snap) -> None:
    for owner in ("alpha", "beta"):
        write_day(data_dir, owner, DAY, range(2), make_snapshot)
    with (data_dir / "team/alpha/portfolio/2026-03-12.jsonl").open("ab") as handle:
        handle.write(b"garbage\n")
    with pytest.raises(FoldError) as caught:
        fold_all(data_dir, DAY)
    assert list(caught.value.failures) == [data_dir / "team/alpha"]
    assert (data_dir / "team/beta/portfolio.parquet").exists()


def test_timestamps_are_utc_microseconds(data_dir: Path, make_snapshot: Snap) -> None:
    record = make_snapshot(0)
    record["timestamp"] = "2026-03-12T13:30:00.123456Z"
    with LedgerWriter(data_dir) as writer:
        writer.portfolio("alpha", DAY, record)
    frame = read_portfolio(data_dir / "team/alpha")
    assert str(frame["timestamp"].dtype) == "datetime64[us, UTC]"
    assert frame["timestamp"].iloc[0].to_pydatetime() == parse_rfc3339(record["timestamp"])


def test_a_day_folded_at_the_earlier_scale_is_widened_when_the_next_day_is_folded(
    data_dir: Path, make_snapshot: Snap
) -> None:
    """Files folded before decision 0024 hold money at 10 decimals; they merge losslessly."""
    import app.ledger.fold as fold

    owner = data_dir / "team/alpha"
    with LedgerWriter(data_dir) as writer:
        writer.portfolio("alpha", DAY, make_snapshot(0))
    narrow = pa.decimal128(38, 10)
    original = fold.MONEY_TYPE
    fold.MONEY_TYPE = narrow
    try:
        fold_portfolio_day(owner, DAY)
    finally:
        fold.MONEY_TYPE = original
    assert pq.read_schema(owner / "portfolio.parquet").field("cash").type == narrow
    later = make_snapshot(1)
    later["cash"] = Decimal("2.000000000000001")  # 15 decimals: today's scale holds it
    next_day = DAY + timedelta(days=1)
    with LedgerWriter(data_dir) as writer:
        writer.portfolio("alpha", next_day, later)
    fold_portfolio_day(owner, next_day)
    table = pq.read_table(owner / "portfolio.parquet")
    assert table.schema.field("cash").type == MONEY_TYPE
    assert table.column("cash").to_pylist()[-1] == Decimal("2.000000000000001")
