"""The write-ahead order journal: record shapes and what is still unresolved."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from app.domain.models import Leg, OrderStatus, Side
from app.ledger.journal import (
    FINAL_STATUSES,
    OrderJournal,
    outcome_record,
    submit_record,
    unresolved,
)
from app.ledger.jsonl import LedgerCorruptError, encode_line, read_jsonl
from app.ledger.writer import LedgerWriter

TICK = datetime(2026, 3, 12, 14, 5, tzinfo=UTC)


def submit(journal: OrderJournal, order_id: str, **extra: Any) -> dict:
    return journal.submit(
        client_order_id=order_id,
        tick=TICK,
        symbol="AAPL",
        leg=Leg.OPEN,
        side=Side.BUY,
        quantity=Decimal("10"),
        allocations={"alpha": Decimal("6"), "beta": Decimal("4")},
        **extra,
    )


def outcome(journal: OrderJournal, order_id: str, status: OrderStatus) -> dict:
    return journal.outcome(
        client_order_id=order_id,
        status=status,
        filled_qty=Decimal("10") if status is OrderStatus.FILLED else Decimal(0),
        avg_price=Decimal("187.12") if status is OrderStatus.FILLED else None,
    )


def test_final_statuses() -> None:
    assert {"filled", "canceled", "expired", "rejected"} == FINAL_STATUSES


def test_submit_line_shape(data_dir: Path) -> None:
    with LedgerWriter(data_dir) as writer:
        submit(OrderJournal(writer), "t1405-AAPL-o", reference_price=Decimal("187.10"))
    [line] = (data_dir / "orders/journal.jsonl").read_bytes().splitlines(keepends=True)
    assert line == (
        b'{"event":"submit","client_order_id":"t1405-AAPL-o","tick":"2026-03-12T14:05:00Z",'
        b'"symbol":"AAPL","leg":"o","side":"buy","quantity":"10",'
        b'"allocations":{"alpha":"6","beta":"4"},"reference_price":"187.10"}\n'
    )


def test_unresolved(data_dir: Path) -> None:
    with LedgerWriter(data_dir) as writer:
        journal = OrderJournal(writer)
        submit(journal, "a")
        submit(journal, "b")
        submit(journal, "c")
        submit(journal, "d")
        outcome(journal, "a", OrderStatus.FILLED)
        outcome(journal, "b", OrderStatus.PARTIALLY_FILLED)
        outcome(journal, "c", OrderStatus.REJECTED)
        submit(journal, "b")  # a retry journals the same id again
    pending = unresolved(data_dir / "orders/journal.jsonl")
    assert [r["client_order_id"] for r in pending] == ["b", "d"]
    assert pending[0]["allocations"] == {"alpha": "6", "beta": "4"}


@pytest.mark.parametrize("status", [OrderStatus.CANCELED, OrderStatus.EXPIRED])
def test_other_final_statuses_resolve(data_dir: Path, status: OrderStatus) -> None:
    with LedgerWriter(data_dir) as writer:
        journal = OrderJournal(writer)
        submit(journal, "a")
        outcome(journal, "a", status)
    assert unresolved(data_dir / "orders/journal.jsonl") == []


def test_missing_journal_has_nothing_unresolved(data_dir: Path) -> None:
    assert unresolved(data_dir / "orders/journal.jsonl") == []


def test_torn_submit_was_never_sent(data_dir: Path) -> None:
    with LedgerWriter(data_dir) as writer:
        submit(OrderJournal(writer), "a")
    path = data_dir / "orders/journal.jsonl"
    record = submit_record(
        client_order_id="b",
        tick=TICK,
        symbol="MSFT",
        leg="o",
        side="sell",
        quantity=Decimal(1),
        allocations={"beta": Decimal(1)},
    )
    torn = encode_line(record)[:-20]
    with path.open("ab") as handle:
        handle.write(torn)
    assert [r["client_order_id"] for r in unresolved(path)] == ["a"]


def test_corrupt_journal_is_an_error(data_dir: Path) -> None:
    path = data_dir / "orders/journal.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"event": "submit", "client_order_id": "a"}\n{bad}\n')
    with pytest.raises(LedgerCorruptError):
        unresolved(path)


def test_submit_without_id_is_an_error(data_dir: Path) -> None:
    path = data_dir / "orders/journal.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"event": "submit"}\n')
    with pytest.raises(ValueError, match="client_order_id"):
        unresolved(path)


def test_extras_cannot_replace_fields() -> None:
    with pytest.raises(ValueError, match="event"):
        outcome_record(
            client_order_id="a",
            status="filled",
            filled_qty=Decimal(1),
            avg_price=None,
            event="submit",
        )


def test_journal_lines_are_synced_in_the_call(data_dir: Path, fsync_spy: Any) -> None:
    path = (data_dir / "orders/journal.jsonl").resolve(strict=False)
    with LedgerWriter(data_dir, durability="close") as writer:
        journal = OrderJournal(writer)
        submit(journal, "a")
        outcome(journal, "a", OrderStatus.FILLED)
        assert fsync_spy.files == [path, path]
        assert [r["event"] for r in read_jsonl(path)] == ["submit", "outcome"]
