"""Recovery after a restart: rebuild the books from the ledgers, redo what the journal says
was booked but never written, settle every order the journal left open with the broker,
then check the books against the broker.

The ledgers are the books' history; the journal is written ahead of them (a submit before
every order, a fill or crossing record before its ledger lines), so whatever a crash cut
short is either in the journal, to be redone, or at the broker, to be asked for. Nothing
is booked twice: ledger lines are recognised by their trade ID (teams) or execution ID
(the account).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from app.domain.models import Allocation, Fill, Leg, Order, OrderEvent, OrderStatus, Side
from app.domain.settlement import SettlementError, split_fill
from app.domain.timefmt import parse_rfc3339
from app.engine import records
from app.engine.booking import book_allocation, book_fill
from app.engine.books import AccountBook, TeamBook
from app.engine.ports import Ledger

log = logging.getLogger(__name__)
ZERO = Decimal(0)
FINAL = frozenset(s.value for s in OrderStatus if s.is_final)


class RecoverableBroker(Protocol):
    def recover(
        self, order: Order, filled: Decimal, notional: Decimal, fills: int, cancel: bool
    ) -> list[OrderEvent]:
        """What happened to a journaled order beyond `filled`; cancels it first if open."""
        ...

    def positions(self) -> dict[str, Decimal]: ...

    def cash(self) -> Decimal: ...


@dataclass(slots=True)
class RecoveryReport:
    """What recovery found and did (or, in a dry run, would do)."""

    trades_read: int = 0
    redone: list[str] = field(default_factory=list)  # ledger lines written again
    orders: list[str] = field(default_factory=list)  # journaled orders settled with the broker
    problems: list[str] = field(default_factory=list)  # mismatches: trading must stay held

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        return [
            f"trades read from the ledgers: {self.trades_read}",
            *(f"redo: {line}" for line in self.redone),
            *(f"order: {line}" for line in self.orders),
            *(f"PROBLEM: {line}" for line in self.problems),
        ]


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


def _time(value: Any) -> datetime:
    return value if isinstance(value, datetime) else parse_rfc3339(str(value))


def allocation_from(record: Mapping[str, Any]) -> Allocation:
    """An allocation from a team's trade line or a journal record's allocation."""
    return Allocation(
        team_id=record["team_id"],
        trade_id=record["trade_id"],
        parent_client_order_id=record["parent_client_order_id"],
        symbol=record["symbol"],
        side=Side(record["side"]),
        quantity=_dec(record["quantity"]),
        price=_dec(record["price"]),
        fee=_dec(record.get("fee") or 0),
        timestamp=_time(record["timestamp"]),
        crossed=bool(record.get("crossed")),
    )


def fill_from(record: Mapping[str, Any], client_order_id: str) -> Fill:
    """A broker fill from the account's trade line or a journal fill record's `fill`."""
    return Fill(
        client_order_id=client_order_id,
        symbol=record["symbol"],
        side=Side(record["side"]),
        quantity=_dec(record["quantity"]),
        price=_dec(record["price"]),
        timestamp=_time(record["timestamp"]),
        fee=_dec(record.get("fee") or 0),
        execution_id=str(record.get("execution_id") or ""),
    )


@dataclass(slots=True)
class _Booked:
    """What the ledgers already hold."""

    trade_ids: dict[str, set[str]] = field(default_factory=dict)  # per team
    executions: set[str] = field(default_factory=set)  # the account's broker fills


def rebuild_books(
    books: dict[str, TeamBook],
    account: AccountBook,
    team_trades: Mapping[str, Iterable[Mapping[str, Any]]],
    account_trades: Iterable[Mapping[str, Any]],
    report: RecoveryReport,
) -> _Booked:
    """Apply every trade line, in order, to freshly opened books."""
    booked = _Booked()
    for team_id, lines in team_trades.items():
        seen = booked.trade_ids.setdefault(team_id, set())
        book = books.get(team_id)
        for line in lines:
            if book is None:
                report.problems.append(f"trades of {team_id}, a team not in this competition")
                break
            book.apply(allocation_from(line))
            seen.add(line["trade_id"])
            book.version = str(line.get("strategy_version") or book.version)
            report.trades_read += 1
    for line in account_trades:
        account.apply(fill_from(line, line["client_order_id"]))
        booked.executions.add(str(line["execution_id"]))
        report.trades_read += 1
    return booked


def redo_journal(
    journal: list[Mapping[str, Any]],
    books: dict[str, TeamBook],
    account: AccountBook,
    ledger: Ledger,
    booked: _Booked,
    report: RecoveryReport,
) -> None:
    """Book every journaled fill or crossing part that the ledgers do not hold."""
    for record in journal:
        if record.get("event") not in ("fill", "crossed"):
            continue
        tick = _time(record["tick"])
        parts = [allocation_from(a) for a in record["allocations"]]
        if record["event"] == "fill":
            fill = fill_from(record["fill"], record["client_order_id"])
            if fill.execution_id not in booked.executions:
                book_fill(account, ledger, fill, sorted({a.team_id for a in parts}))
                booked.executions.add(fill.execution_id)
                report.redone.append(f"account fill {fill.execution_id} ({fill.client_order_id})")
        versions = {a["team_id"]: a.get("strategy_version", "") for a in record["allocations"]}
        for part in parts:
            seen = booked.trade_ids.setdefault(part.team_id, set())
            if part.trade_id in seen or part.team_id not in books:
                continue
            book_allocation(books, ledger, part, tick, versions[part.team_id])
            seen.add(part.trade_id)
            report.redone.append(f"{part.team_id} trade {part.trade_id}")


@dataclass(slots=True)
class _OrderHistory:
    """A journaled order: its submit line and the fills journaled for it."""

    submit: Mapping[str, Any]
    filled: Decimal = ZERO
    notional: Decimal = ZERO
    fills: int = 0
    allocated: dict[str, Decimal] = field(default_factory=dict)  # per team


def open_orders(journal: list[Mapping[str, Any]]) -> list[_OrderHistory]:
    """Journaled orders without a final outcome, with what was journaled of their fills."""
    orders: dict[str, _OrderHistory] = {}
    final: set[str] = set()
    for record in journal:
        event, order_id = record.get("event"), record.get("client_order_id")
        if event == "submit":
            orders.setdefault(order_id, _OrderHistory(record))
        elif event == "outcome" and record.get("status") in FINAL:
            final.add(order_id)
        elif event == "fill" and order_id in orders:
            history = orders[order_id]
            fill = record["fill"]
            history.filled += _dec(fill["quantity"])
            history.notional += _dec(fill["quantity"]) * _dec(fill["price"])
            history.fills += 1
            for part in record["allocations"]:
                team = part["team_id"]
                history.allocated[team] = history.allocated.get(team, ZERO) + _dec(part["quantity"])
    return [h for order_id, h in orders.items() if order_id not in final]


def settle_open_orders(
    journal: list[Mapping[str, Any]],
    books: dict[str, TeamBook],
    account: AccountBook,
    ledger: Ledger,
    broker: RecoverableBroker,
    quantum: Decimal,
    now: datetime,
    report: RecoveryReport,
    cancel: bool = True,
) -> None:
    """Ask the broker about every unresolved order: book its missed fills, close it."""
    for history in open_orders(journal):
        submit = history.submit
        order = Order(
            client_order_id=submit["client_order_id"],
            symbol=submit["symbol"],
            side=Side(submit["side"]),
            quantity=_dec(submit["quantity"]),
            submitted_at=_time(submit["timestamp"]),
        )
        events = broker.recover(order, history.filled, history.notional, history.fills, cancel)
        waiting = {
            team: _dec(quantity) - history.allocated.get(team, ZERO)
            for team, quantity in submit["allocations"].items()
        }
        tick, leg = _time(submit["tick"]), Leg(submit["leg"])
        number = history.fills
        status: OrderEvent | None = None
        for event in events:
            if event.fill is not None:
                number += 1
                try:
                    parts = split_fill(event.fill, waiting, tick, leg, number, quantum)
                except SettlementError as error:
                    report.problems.append(f"{order.client_order_id}: {error}")
                    continue
                versions = {t: books[t].version for t in waiting if t in books}
                ledger.journal(
                    records.journal_allocations_record(
                        now, "fill", tick, parts, versions, event.fill, leg
                    ),
                    sync=False,
                )
                book_fill(account, ledger, event.fill, sorted(waiting))
                for part in parts:
                    waiting[part.team_id] -= part.quantity
                    if part.team_id in books:
                        book_allocation(books, ledger, part, tick, versions[part.team_id])
                report.orders.append(
                    f"{order.client_order_id}: missed fill of {event.fill.quantity} "
                    f"@ {event.fill.price} booked"
                )
            if event.status.is_final:
                status = event
        if status is None:
            report.problems.append(
                f"{order.client_order_id}: still open at the broker ({order.side} "
                f"{order.quantity} {order.symbol}); trading stays held until it is final"
            )
            continue
        _close(order, status, waiting, history, ledger, now, books, report)


def _close(
    order: Order,
    status: OrderEvent,
    waiting: dict[str, Decimal],
    history: _OrderHistory,
    ledger: Ledger,
    now: datetime,
    books: dict[str, TeamBook],
    report: RecoveryReport,
) -> None:
    filled = sum((_dec(q) for q in history.submit["allocations"].values()), ZERO) - sum(
        waiting.values(), ZERO
    )
    ledger.journal(
        records.journal_outcome_record(
            now, order.client_order_id, status.status, filled, None, status.message
        )
    )
    report.orders.append(f"{order.client_order_id}: {status.status.value} ({filled} filled)")
    for team, left in waiting.items():
        if left > 0 and team in books:
            message = (
                f"order {order.client_order_id} was working when the host restarted: "
                f"{status.status.value}, {left} {order.symbol} of your order did not fill"
            )
            ledger.error(team, records.fault_record(now, team, "order", message))


def check_cash(
    account: AccountBook, opening_broker_cash: Decimal, broker_cash: Decimal, traded: Decimal
) -> list[str]:
    """The broker's cash must have moved as the account book's did since the start.

    Fill prices are derived from the broker's average price at 6 decimals, so each share
    may differ by half a millionth: the tolerance is a cent plus that, per share traded.
    """
    expected = opening_broker_cash + (account.portfolio.cash - account.portfolio.initial_cash)
    tolerance = Decimal("0.01") + traded * Decimal("0.0000005")
    if abs(broker_cash - expected) <= tolerance:
        return []
    return [
        f"cash: the broker holds {broker_cash}, the account book implies {expected} "
        f"(difference {broker_cash - expected}, tolerance {tolerance})"
    ]
