"""The write-ahead order journal: a `submit` line before an order is sent, `outcome` after.

On start the engine reconciles every `unresolved` submit with the broker before trading.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from app.domain.models import OrderStatus
from app.ledger.jsonl import read_jsonl
from app.ledger.writer import LedgerWriter

SUBMIT = "submit"
OUTCOME = "outcome"
FINAL_STATUSES = frozenset(status.value for status in OrderStatus if status.is_final)


def _with_extra(record: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    clash = record.keys() & extra.keys()
    if clash:
        raise ValueError(f"journal extras may not replace {sorted(clash)}")
    record.update(extra)
    return record


def submit_record(
    *,
    client_order_id: str,
    tick: datetime,
    symbol: str,
    leg: str,
    side: str,
    quantity: Decimal,
    allocations: Mapping[str, Decimal],
    **extra: Any,
) -> dict[str, Any]:
    """The line written (and fsynced) before an order goes to the broker."""
    record: dict[str, Any] = {
        "event": SUBMIT,
        "client_order_id": client_order_id,
        "tick": tick,
        "symbol": symbol,
        "leg": leg,
        "side": side,
        "quantity": quantity,
        "allocations": dict(allocations),
    }
    return _with_extra(record, extra)


def outcome_record(
    *,
    client_order_id: str,
    status: str,
    filled_qty: Decimal,
    avg_price: Decimal | None,
    **extra: Any,
) -> dict[str, Any]:
    """The line written once the broker has answered (final or not)."""
    record: dict[str, Any] = {
        "event": OUTCOME,
        "client_order_id": client_order_id,
        "status": status,
        "filled_qty": filled_qty,
        "avg_price": avg_price,
    }
    return _with_extra(record, extra)


class OrderJournal:
    """Journal records through a LedgerWriter, which fsyncs each one before returning."""

    def __init__(self, writer: LedgerWriter) -> None:
        self.writer = writer

    def submit(self, **fields: Any) -> dict[str, Any]:
        """Journal a submit (arguments of `submit_record`); call before sending the order."""
        record = submit_record(**fields)
        self.writer.journal(record)
        return record

    def outcome(self, **fields: Any) -> dict[str, Any]:
        """Journal an outcome (arguments of `outcome_record`)."""
        record = outcome_record(**fields)
        self.writer.journal(record)
        return record


def read_journal(path: Path) -> Iterator[dict[str, Any]]:
    """Every journal record; a missing journal is an empty one.

    A torn last line is left out (and logged): the journal is fsynced before the order
    is sent, so an order whose submit line is torn was never sent.
    """
    if not Path(path).exists():
        return iter(())
    return read_jsonl(path, allow_torn_tail=True)


def unresolved(journal_path: Path) -> list[dict[str, Any]]:
    """Submit records with no final outcome (filled, canceled, expired, rejected), in order.

    If an order was journaled more than once (a retry re-sends the same client order id),
    its first submit record stands for it. Unknown events are ignored.
    """
    submits: dict[str, dict[str, Any]] = {}
    final: set[str] = set()
    for record in read_journal(journal_path):
        event = record.get("event")
        if event not in (SUBMIT, OUTCOME):
            continue
        order_id = record.get("client_order_id")
        if not isinstance(order_id, str):
            raise ValueError(f"journal {event} record without a client_order_id: {record}")
        if event == SUBMIT:
            submits.setdefault(order_id, record)
        elif record.get("status") in FINAL_STATUSES:
            final.add(order_id)
    return [record for order_id, record in submits.items() if order_id not in final]
