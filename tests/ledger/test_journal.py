"""The write-ahead order journal: its lines' shape, and which orders it leaves open."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from app.domain.models import Leg, Order, OrderStatus, Side
from app.engine.adopted import FINAL, open_orders
from app.engine.lines import OutcomeLine, SubmitLine, parse_journal
from app.ledger.jsonl import LedgerCorruptError, encode_line
from app.ledger.reader import read_journal
from app.ledger.writer import LedgerWriter

TICK = datetime(2026, 3, 12, 14, 5, tzinfo=UTC)
MOMENT = datetime(2026, 3, 12, 14, 6, tzinfo=UTC)


def submit_line(order_id: str, symbol: str = "AAPL") -> SubmitLine:
    order = Order(order_id, symbol, Side.BUY, Decimal("10"), submitted_at=MOMENT)
    waiting = {"alpha": Decimal("6"), "beta": Decimal("4")}
    return SubmitLine.before(MOMENT, order, TICK, Leg.OPEN, waiting)


def outcome_line(order_id: str, status: OrderStatus) -> OutcomeLine:
    filled = status is OrderStatus.FILLED
    return OutcomeLine(
        timestamp=MOMENT,
        client_order_id=order_id,
        status=status,
        filled_qty=Decimal("10") if filled else Decimal(0),
        avg_price=Decimal("187.12") if filled else None,
    )


def unresolved(path: Path) -> list[str]:
    return [h.submit.client_order_id for h in open_orders(read_journal(path))]


def test_final_statuses() -> None:
    assert {"filled", "canceled", "expired", "rejected"} == FINAL


def test_submit_line_shape(data_dir: Path) -> None:
    with LedgerWriter(data_dir) as writer:
        writer.write(submit_line("t1405-AAPL-o"), sync=True)
    [line] = (data_dir / "orders/journal.jsonl").read_bytes().splitlines(keepends=True)
    assert line == (
        b'{"timestamp":"2026-03-12T14:06:00Z","event":"submit","client_order_id":"t1405-AAPL-o",'
        b'"tick":"2026-03-12T14:05:00Z","symbol":"AAPL","leg":"o","side":"buy","quantity":"10",'
        b'"order_type":"market","limit_price":null,"allocations":{"alpha":"6","beta":"4"}}\n'
    )
    assert parse_journal(orjson.loads(line)) == submit_line("t1405-AAPL-o")


def test_unresolved(data_dir: Path) -> None:
    with LedgerWriter(data_dir) as writer:
        for order_id in "abcd":
            writer.write(submit_line(order_id))
        writer.write(outcome_line("a", OrderStatus.FILLED))
        writer.write(outcome_line("b", OrderStatus.PARTIALLY_FILLED))
        writer.write(outcome_line("c", OrderStatus.REJECTED))
        writer.write(submit_line("b", symbol="MSFT"))  # a retry journals the same id again
    pending = open_orders(read_journal(data_dir / "orders/journal.jsonl"))
    assert [h.submit.client_order_id for h in pending] == ["b", "d"]
    assert pending[0].submit.symbol == "AAPL"  # the first submit stands for the order
    assert pending[0].submit.allocations == {"alpha": Decimal("6"), "beta": Decimal("4")}


@pytest.mark.parametrize("status", [OrderStatus.CANCELED, OrderStatus.EXPIRED])
def test_other_final_statuses_resolve(data_dir: Path, status: OrderStatus) -> None:
    with LedgerWriter(data_dir) as writer:
        writer.write(submit_line("a"))
        writer.write(outcome_line("a", status))
    assert unresolved(data_dir / "orders/journal.jsonl") == []


def test_missing_journal_has_nothing_unresolved(data_dir: Path) -> None:
    assert unresolved(data_dir / "orders/journal.jsonl") == []


def test_torn_submit_was_never_sent(data_dir: Path) -> None:
    with LedgerWriter(data_dir) as writer:
        writer.write(submit_line("a"), sync=True)
    path = data_dir / "orders/journal.jsonl"
    torn = encode_line(submit_line("b").to_json())[:-20]
    with path.open("ab") as handle:
        handle.write(torn)
    assert unresolved(path) == ["a"]


def test_corrupt_journal_is_an_error(data_dir: Path) -> None:
    path = data_dir / "orders/journal.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(encode_line(submit_line("a").to_json()) + b"{bad}\n")
    with pytest.raises(LedgerCorruptError):
        read_journal(path)


def test_submit_without_id_is_an_error(data_dir: Path) -> None:
    path = data_dir / "orders/journal.jsonl"
    path.parent.mkdir(parents=True)
    record = submit_line("a").to_json()
    del record["client_order_id"]
    path.write_bytes(encode_line(record))
    with pytest.raises(ValueError, match="client_order_id"):
        read_journal(path)


def test_an_event_this_version_does_not_know_is_left_out(data_dir: Path) -> None:
    path = data_dir / "orders/journal.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(
        encode_line({"event": "note", "text": "x"}) + encode_line(submit_line("a").to_json())
    )
    assert unresolved(path) == ["a"]
