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
from typing import Protocol

from app.domain.models import Order, OrderEvent, OrderStatus
from app.domain.settlement import SettlementError, split_fill
from app.engine.booking import book_allocation, book_fill
from app.engine.books import AccountBook, TeamBook
from app.engine.lines import (
    AccountTradeLine,
    AllocationsLine,
    JournalLine,
    OutcomeLine,
    SubmitLine,
    TeamEvent,
    TradeLine,
)
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


@dataclass(slots=True)
class _Booked:
    """What the ledgers already hold."""

    trade_ids: dict[str, set[str]] = field(default_factory=dict)  # per team
    executions: set[str] = field(default_factory=set)  # the account's broker fills


def rebuild_books(
    books: dict[str, TeamBook],
    account: AccountBook,
    team_trades: Mapping[str, Iterable[TradeLine]],
    account_trades: Iterable[AccountTradeLine],
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
            book.apply(line.allocation())
            seen.add(line.trade_id)
            book.version = line.strategy_version or book.version
            report.trades_read += 1
    for line in account_trades:
        account.apply(line.fill())
        booked.executions.add(line.execution_id)
        report.trades_read += 1
    return booked


def redo_journal(
    journal: list[JournalLine],
    books: dict[str, TeamBook],
    account: AccountBook,
    ledger: Ledger,
    booked: _Booked,
    report: RecoveryReport,
) -> None:
    """Book every journaled fill or crossing part that the ledgers do not hold."""
    for line in journal:
        if not isinstance(line, AllocationsLine):
            continue
        fill = line.broker_fill()
        if fill is not None and fill.execution_id not in booked.executions:
            book_fill(account, ledger, fill, sorted({a.team_id for a in line.allocations}))
            booked.executions.add(fill.execution_id)
            report.redone.append(f"account fill {fill.execution_id} ({fill.client_order_id})")
        for part in line.allocations:
            seen = booked.trade_ids.setdefault(part.team_id, set())
            if part.trade_id in seen or part.team_id not in books:
                continue
            book_allocation(books, ledger, part.allocation(), line.tick, part.strategy_version)
            seen.add(part.trade_id)
            report.redone.append(f"{part.team_id} trade {part.trade_id}")


@dataclass(slots=True)
class _OrderHistory:
    """A journaled order: its submit line and the fills journaled for it."""

    submit: SubmitLine
    filled: Decimal = ZERO
    notional: Decimal = ZERO
    fills: int = 0
    allocated: dict[str, Decimal] = field(default_factory=dict)  # per team


def open_orders(journal: list[JournalLine]) -> list[_OrderHistory]:
    """Journaled orders without a final outcome, with what was journaled of their fills.

    If an order was journaled more than once (a retry re-sends the same client order id),
    its first submit line stands for it.
    """
    orders: dict[str, _OrderHistory] = {}
    final: set[str] = set()
    for line in journal:
        if isinstance(line, SubmitLine):
            orders.setdefault(line.client_order_id, _OrderHistory(line))
        elif isinstance(line, OutcomeLine) and line.status in FINAL:
            final.add(line.client_order_id)
        elif isinstance(line, AllocationsLine) and line.fill is not None:
            history = orders.get(line.client_order_id or "")
            if history is None:
                continue
            history.filled += line.fill.quantity
            history.notional += line.fill.quantity * line.fill.price
            history.fills += 1
            for part in line.allocations:
                team = part.team_id
                history.allocated[team] = history.allocated.get(team, ZERO) + part.quantity
    return [h for order_id, h in orders.items() if order_id not in final]


def settle_open_orders(
    journal: list[JournalLine],
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
        order = submit.order()
        events = broker.recover(order, history.filled, history.notional, history.fills, cancel)
        waiting = {
            team: quantity - history.allocated.get(team, ZERO)
            for team, quantity in submit.allocations.items()
        }
        status = _book_missed_fills(
            events, history, waiting, books, account, ledger, quantum, now, report
        )
        if status is None:
            report.problems.append(
                f"{order.client_order_id}: still open at the broker ({order.side} "
                f"{order.quantity} {order.symbol}); trading stays held until it is final"
            )
            continue
        _close(order, status, waiting, history, ledger, now, books, report)


def _book_missed_fills(
    events: list[OrderEvent],
    history: _OrderHistory,
    waiting: dict[str, Decimal],
    books: dict[str, TeamBook],
    account: AccountBook,
    ledger: Ledger,
    quantum: Decimal,
    now: datetime,
    report: RecoveryReport,
) -> OrderEvent | None:
    """Journal and book each fill the broker reports beyond the journal; the final status."""
    submit = history.submit
    number = history.fills
    status: OrderEvent | None = None
    for event in events:
        if event.fill is not None:
            number += 1
            try:
                parts = split_fill(event.fill, waiting, submit.tick, submit.leg, number, quantum)
            except SettlementError as error:
                report.problems.append(f"{submit.client_order_id}: {error}")
                continue
            versions = {t: books[t].version for t in waiting if t in books}
            ledger.write(
                AllocationsLine.before(
                    now, "fill", submit.tick, parts, versions, event.fill, submit.leg
                )
            )
            book_fill(account, ledger, event.fill, sorted(waiting))
            for part in parts:
                waiting[part.team_id] -= part.quantity
                if part.team_id in books:
                    book_allocation(books, ledger, part, submit.tick, versions[part.team_id])
            report.orders.append(
                f"{submit.client_order_id}: missed fill of {event.fill.quantity} "
                f"@ {event.fill.price} booked"
            )
        if event.status.is_final:
            status = event
    return status


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
    ordered = sum(history.submit.allocations.values(), ZERO)
    filled = ordered - sum(waiting.values(), ZERO)
    outcome = OutcomeLine(
        timestamp=now,
        client_order_id=order.client_order_id,
        status=status.status,
        filled_qty=filled,
        avg_price=None,
        message=status.message,
    )
    ledger.write(outcome, sync=True)
    report.orders.append(f"{order.client_order_id}: {status.status.value} ({filled} filled)")
    for team, left in waiting.items():
        if left > 0 and team in books:
            message = (
                f"order {order.client_order_id} was working when the host restarted: "
                f"{status.status.value}, {left} {order.symbol} of your order did not fill"
            )
            ledger.write(TeamEvent.noted(now, team, "order", message))


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
