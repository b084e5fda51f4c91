"""LedgerWriter: layout, owner validation, durability, the LRU of open files, repairs."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.ledger.jsonl import encode_line, read_jsonl
from app.ledger.writer import (
    ACCOUNT,
    MAX_TEAM_LINE_BYTES,
    TEAM_BYTES_PER_MINUTE,
    TEAM_EVENT_BYTES_PER_MINUTE,
    LedgerWriter,
)

DAY = date(2026, 3, 12)
NEXT_DAY = date(2026, 3, 13)


def write_everything(writer: LedgerWriter, make_snapshot: Callable[..., dict]) -> None:
    for owner in ("alpha", ACCOUNT):
        writer.trade(owner, {"trade_id": f"{owner}-1", "quantity": Decimal("3")})
        writer.portfolio(owner, DAY, make_snapshot(0))
        writer.metrics(owner, {"sharpe": 1.5})
        writer.event(owner, {"reason": "symbol not in universe"})
    writer.journal({"event": "submit", "client_order_id": "t1-AAPL-o"})
    writer.end_tick()


def test_layout(data_dir: Path, make_snapshot: Callable[..., dict]) -> None:
    with LedgerWriter(data_dir) as writer:
        write_everything(writer, make_snapshot)
    files = sorted(str(p.relative_to(data_dir)) for p in data_dir.rglob("*") if p.is_file())
    assert files == [
        "account/events.jsonl",
        "account/metrics.jsonl",
        "account/portfolio/2026-03-12.jsonl",
        "account/trades.jsonl",
        "orders/journal.jsonl",
        "team/alpha/events.jsonl",
        "team/alpha/metrics.jsonl",
        "team/alpha/portfolio/2026-03-12.jsonl",
        "team/alpha/trades.jsonl",
    ]
    assert list(read_jsonl(data_dir / "team/alpha/trades.jsonl")) == [
        {"trade_id": "alpha-1", "quantity": "3"}
    ]


def test_same_records_same_bytes(tmp_path: Path, make_snapshot: Callable[..., dict]) -> None:
    for name in ("one", "two"):
        with LedgerWriter(tmp_path / name) as writer:
            write_everything(writer, make_snapshot)
    for path in (tmp_path / "one").rglob("*.jsonl"):
        twin = tmp_path / "two" / path.relative_to(tmp_path / "one")
        assert path.read_bytes() == twin.read_bytes()


@pytest.mark.parametrize(
    "owner",
    ["", "Alpha", "../alpha", "a/b", "-alpha", "a" * 33, "alpha\n", "al pha", "ål", ".", 7],
)
def test_invalid_owner_ids_are_refused(data_dir: Path, owner: Any) -> None:
    with LedgerWriter(data_dir) as writer:
        for write in (writer.trade, writer.metrics, writer.event):
            with pytest.raises(ValueError, match="invalid team id"):
                write(owner, {"x": 1})
        with pytest.raises(ValueError, match="invalid team id"):
            writer.portfolio(owner, DAY, {"x": 1})
    assert not data_dir.exists()


@pytest.mark.parametrize("owner", ["a" * 32, "0-a", "team-7", "9"])
def test_valid_owner_ids(data_dir: Path, owner: str) -> None:
    with LedgerWriter(data_dir) as writer:
        writer.trade(owner, {"x": 1})
    assert (data_dir / "team" / owner / "trades.jsonl").is_file()


def test_lru_cap_loses_nothing(data_dir: Path, fake_fsync: Any) -> None:
    owners = [f"team-{i:02d}" for i in range(50)]
    writer = LedgerWriter(data_dir, max_open=8)
    for tick in range(4):
        for owner in owners:
            writer.trade(owner, {"tick": tick, "owner": owner})
            writer.metrics(owner, {"tick": tick})
            writer.portfolio(owner, DAY, {"tick": tick})
            assert writer.open_files <= 8
        writer.end_tick()
    # Every eviction made its file durable before closing it.
    assert len(fake_fsync.files) >= 4 * 150 - 8
    writer.close()
    for owner in owners:
        folder = data_dir / "team" / owner
        assert [r["tick"] for r in read_jsonl(folder / "trades.jsonl")] == [0, 1, 2, 3]
        assert [r["tick"] for r in read_jsonl(folder / "metrics.jsonl")] == [0, 1, 2, 3]
        assert len(list(read_jsonl(folder / "portfolio/2026-03-12.jsonl"))) == 4
    assert writer.repairs == []


def test_journal_is_on_disk_when_the_call_returns(data_dir: Path, fsync_spy: Any) -> None:
    journal = (data_dir / "orders/journal.jsonl").resolve(strict=False)
    writer = LedgerWriter(data_dir, durability="close")
    try:
        writer.journal({"event": "submit", "client_order_id": "a1"})
        assert fsync_spy.files == [journal]
        writer.journal({"event": "outcome", "client_order_id": "a1", "status": "filled"})
        assert fsync_spy.files == [journal, journal]
        # A separate reader sees both lines without any flush, end_tick or close.
        lines = journal.read_bytes().splitlines()
        assert [orjson.loads(line)["event"] for line in lines] == ["submit", "outcome"]
    finally:
        writer.close()


def test_tick_durability_fsyncs_each_written_file(data_dir: Path, fsync_spy: Any) -> None:
    team = data_dir.resolve() / "team/alpha"
    with LedgerWriter(data_dir, durability="tick") as writer:
        writer.trade("alpha", {"n": 1})
        writer.metrics("alpha", {"n": 1})
        writer.metrics("alpha", {"n": 2})
        writer.end_tick()
        assert sorted(fsync_spy.files) == [team / "metrics.jsonl", team / "trades.jsonl"]
        writer.end_tick()  # nothing written since: nothing to sync
        assert len(fsync_spy.files) == 2


def test_close_durability_fsyncs_only_at_close(data_dir: Path, fsync_spy: Any) -> None:
    with LedgerWriter(data_dir, durability="close") as writer:
        writer.trade("alpha", {"n": 1})
        writer.trade(ACCOUNT, {"n": 1})
        writer.end_tick()
        assert fsync_spy.files == []
    root = data_dir.resolve()
    assert sorted(fsync_spy.files) == [
        root / "account/trades.jsonl",
        root / "team/alpha/trades.jsonl",
    ]


def test_portfolio_day_change_closes_the_old_day(data_dir: Path) -> None:
    writer = LedgerWriter(data_dir)
    writer.portfolio("alpha", DAY, {"n": 1})
    writer.portfolio(ACCOUNT, DAY, {"n": 1})
    assert writer.open_files == 2
    writer.portfolio("alpha", NEXT_DAY, {"n": 2})
    assert writer.open_files == 2
    writer.portfolio(ACCOUNT, NEXT_DAY, {"n": 2})
    assert writer.open_files == 2
    writer.close()
    assert writer.open_files == 0
    assert list(read_jsonl(data_dir / "team/alpha/portfolio/2026-03-13.jsonl")) == [{"n": 2}]


def test_repairs_are_collected_and_appends_continue(data_dir: Path) -> None:
    trades = data_dir / "team/alpha/trades.jsonl"
    journal = data_dir / "orders/journal.jsonl"
    for path in (trades, journal):
        path.parent.mkdir(parents=True)
        path.write_bytes(b'{"n": 1}\n{"n": 2, "tor')
    with LedgerWriter(data_dir) as writer:
        writer.trade("alpha", {"n": 2})
        writer.journal({"n": 2})
    assert sorted(r.path for r in writer.repairs) == sorted([journal, trades])
    for path in (trades, journal):
        assert [r["n"] for r in read_jsonl(path)] == [1, 2]


def test_closed_writer_refuses_writes(data_dir: Path) -> None:
    writer = LedgerWriter(data_dir)
    writer.close()
    writer.close()  # closing twice is harmless
    with pytest.raises(RuntimeError):
        writer.trade("alpha", {"n": 1})
    with pytest.raises(RuntimeError):
        writer.journal({"n": 1})


def test_bad_settings(data_dir: Path) -> None:
    with pytest.raises(ValueError, match="durability"):
        LedgerWriter(data_dir, durability="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_open"):
        LedgerWriter(data_dir, max_open=0)


def test_unencodable_record_writes_nothing(data_dir: Path) -> None:
    with LedgerWriter(data_dir) as writer:
        writer.trade("alpha", {"n": 1})
        with pytest.raises(TypeError):
            writer.trade("alpha", {"n": object()})
        writer.trade("alpha", {"n": 2})
    assert [r["n"] for r in read_jsonl(data_dir / "team/alpha/trades.jsonl")] == [1, 2]


def test_descriptors_are_not_inherited(data_dir: Path) -> None:
    with LedgerWriter(data_dir) as writer:
        writer.trade("alpha", {"n": 1})
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
        targets = {}
        for fd in fds:
            try:
                targets[fd] = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
        wanted = str((data_dir / "team/alpha/trades.jsonl").resolve())
        [fd] = [fd for fd, target in targets.items() if target == wanted]
        assert not os.get_inheritable(fd)


# -- bounded team lines: a per-line cap and a per-minute quota on error lines -----------------

MOMENT = datetime(2026, 3, 12, 14, 1, tzinfo=UTC)


def fault(n: int, size: int, kind: str = "exception") -> dict[str, Any]:
    """An error line the way the engine writes one, with `size` characters of team text."""
    return {
        "timestamp": MOMENT,
        "team_id": "alpha",
        "kind": kind,
        "message": f"{n}:" + "m" * size,
        "printed": "",
        "strategy_version": "0123456789ab",
    }


def trade(n: int) -> dict[str, Any]:
    """A trade line of the size the engine writes (about 480 bytes)."""
    return {
        "timestamp": MOMENT,
        "tick": MOMENT,
        "team_id": "alpha",
        "trade_id": f"alpha_202603121401_AAPL_o{n}",
        "parent_client_order_id": "t1-202603121401-AAPL-o",
        "symbol": "AAPL",
        "side": "buy",
        "quantity": Decimal("12.345678901"),
        "price": Decimal("187.123456"),
        "notional": Decimal("2310.072864123456"),
        "fee": Decimal("0.01"),
        "crossed": False,
        "realized_pnl": Decimal("-123.456789"),
        "position_after": Decimal("1234.567890123"),
        "cash_after": Decimal("98765.432109876543"),
        "strategy_version": "0123456789ab",
    }


def snapshot(symbols: int) -> dict[str, Any]:
    """A portfolio line holding `symbols` positions."""
    figure = Decimal("12345.678901")
    return {
        "timestamp": MOMENT,
        "owner": "alpha",
        "cash": figure,
        "market_value": figure,
        "equity": figure,
        "realized_pnl": figure,
        "unrealized_pnl": figure,
        "fees": figure,
        "positions": {
            f"SYM{i:02d}": dict.fromkeys(
                ("quantity", "avg_cost", "price", "market_value", "unrealized_pnl"), figure
            )
            for i in range(symbols)
        },
    }


def file_lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_a_team_line_over_the_cap_is_replaced_by_a_short_line_saying_so(data_dir: Path) -> None:
    with LedgerWriter(data_dir) as writer:
        writer.event("alpha", fault(1, 100))
        writer.event("alpha", fault(2, MAX_TEAM_LINE_BYTES))
        writer.event("alpha", fault(3, 100))
    lines = file_lines(data_dir / "team/alpha/events.jsonl")
    assert max(len(line) for line in lines) <= MAX_TEAM_LINE_BYTES
    first, stub, third = (orjson.loads(line) for line in lines)
    assert first["message"].startswith("1:")
    assert third["message"].startswith("3:")
    assert stub["timestamp"] == "2026-03-12T14:01:00Z"
    assert (stub["team_id"], stub["kind"]) == ("alpha", "exception")
    size = len(encode_line(fault(2, MAX_TEAM_LINE_BYTES)))
    assert stub["line_bytes"] == size
    assert f"not written: this line was {size:,} bytes" in stub["message"]


def test_a_minute_over_the_quota_drops_the_rest_and_one_line_says_how_much(
    data_dir: Path,
) -> None:
    with LedgerWriter(data_dir) as writer:
        for n in range(100):
            writer.event("alpha", fault(n, 1000))
        writer.event("beta", fault(0, 1000))  # another team's quota is its own
        writer.end_tick()
    lines = file_lines(data_dir / "team/alpha/events.jsonl")
    *kept, note = lines
    kept_bytes = sum(len(line) for line in kept)
    assert kept_bytes <= TEAM_EVENT_BYTES_PER_MINUTE
    assert kept_bytes + len(kept[0]) > TEAM_EVENT_BYTES_PER_MINUTE  # as many as fit
    assert [orjson.loads(line)["message"].split(":")[0] for line in kept] == [
        str(n) for n in range(len(kept))
    ]
    record = orjson.loads(note)
    dropped = 100 - len(kept)
    assert record["kind"] == "ledger_limit"
    assert record["timestamp"] == "2026-03-12T14:01:00Z"
    assert record["dropped_lines"] == dropped
    assert record["dropped_bytes"] == sum(
        len(encode_line(fault(n, 1000))) for n in range(len(kept), 100)
    )
    assert f"{dropped} line(s)" in record["message"]
    assert len(note) < 400
    assert len(list(read_jsonl(data_dir / "team/beta/events.jsonl"))) == 1


def test_book_lines_are_never_dropped(data_dir: Path) -> None:
    with LedgerWriter(data_dir) as writer:
        for n in range(200):
            writer.event("alpha", fault(n, 1000))
            writer.trade("alpha", trade(n))
        writer.portfolio("alpha", DAY, snapshot(400))  # far over any quota on its own
        writer.metrics("alpha", {"timestamp": MOMENT, "owner": "alpha", "rank": 1})
        writer.end_tick()
    folder = data_dir / "team/alpha"
    assert [r["trade_id"] for r in read_jsonl(folder / "trades.jsonl")] == [
        trade(n)["trade_id"] for n in range(200)
    ]
    assert len(next(read_jsonl(folder / "portfolio/2026-03-12.jsonl"))["positions"]) == 400
    assert len(list(read_jsonl(folder / "metrics.jsonl"))) == 1


def test_the_quota_starts_afresh_every_minute(data_dir: Path) -> None:
    with LedgerWriter(data_dir) as writer:
        for _minute in range(3):
            for n in range(100):
                writer.event("alpha", fault(n, 1000))
            writer.end_tick()
    records = list(read_jsonl(data_dir / "team/alpha/events.jsonl"))
    notes = [i for i, r in enumerate(records) if r["kind"] == "ledger_limit"]
    per_minute = notes[0]
    assert per_minute > 0
    assert notes == [per_minute, 2 * per_minute + 1, 3 * per_minute + 2]
    assert records[per_minute + 1]["message"].startswith("0:")


def test_the_account_is_host_data_and_has_no_quota(data_dir: Path) -> None:
    with LedgerWriter(data_dir) as writer:
        for n in range(100):
            writer.event(ACCOUNT, {"timestamp": MOMENT, "kind": "broker", "message": "b" * 1000})
            writer.event(ACCOUNT, {"timestamp": MOMENT, "kind": "broker", "n": n})
        writer.end_tick()
    assert len(list(read_jsonl(data_dir / "account/events.jsonl"))) == 200


def test_a_flooding_team_writes_at_most_64_kib_a_minute_across_its_files(data_dir: Path) -> None:
    folder = data_dir / "team/alpha"
    sizes = []
    with LedgerWriter(data_dir) as writer:
        for minute in range(5):
            # A team's worst realistic minute: 20 signals each filled in two parts, a
            # snapshot over a 41-symbol universe, its metrics; and a flood of team text.
            for n in range(40):
                writer.trade("alpha", trade(n))
            writer.portfolio("alpha", DAY, snapshot(41))
            writer.metrics("alpha", {"timestamp": MOMENT, "owner": "alpha", "rank": minute})
            for n in range(50):
                writer.event("alpha", fault(n, 20_000 if n % 5 == 0 else 3000))
            writer.event("alpha", fault(99, 200_000))
            writer.end_tick()
            sizes.append(sum(p.stat().st_size for p in folder.rglob("*.jsonl")))
    growth = [b - a for a, b in zip([0, *sizes], sizes, strict=False)]
    assert max(growth) <= TEAM_BYTES_PER_MINUTE
    assert min(growth) > 40_000  # the flood did fill the quota
    for path in folder.rglob("*.jsonl"):
        assert max(len(line) for line in file_lines(path)) <= MAX_TEAM_LINE_BYTES
