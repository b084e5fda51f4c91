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

from app.domain.corporate import apply_change
from app.domain.models import Order, OrderEvent
from app.engine.booking import book_allocation, book_fill
from app.engine.books import AccountBook, TeamBook
from app.engine.corporate import book_action
from app.engine.execution import Execution
from app.engine.lines import (
    ACCOUNT_LABEL,
    AccountTradeLine,
    ActionJournalLine,
    AllocationsLine,
    CorporateActionLine,
    JournalLine,
    TradeLine,
)
from app.engine.ports import Ledger

log = logging.getLogger(__name__)
ZERO = Decimal(0)


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
    booked: int = 0  # fills and allocations recovery booked (redone or missed)

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
    # corporate actions by id: the owners whose line is in the ledgers ("account" too)
    action_owners: dict[str, set[str]] = field(default_factory=dict)
    account_actions: list[CorporateActionLine] = field(default_factory=list)  # redone

    @property
    def actions(self) -> set[str]:
        """The actions booked whole: the account's line, written last, is there."""
        return {a for a, owners in self.action_owners.items() if ACCOUNT_LABEL in owners}


def rebuild_books(
    books: dict[str, TeamBook],
    account: AccountBook,
    team_trades: Mapping[str, Iterable[TradeLine | CorporateActionLine]],
    account_trades: Iterable[AccountTradeLine | CorporateActionLine],
    report: RecoveryReport,
) -> _Booked:
    """Apply every trade line (and corporate action), in order, to freshly opened books."""
    booked = _Booked()
    for team_id, lines in team_trades.items():
        seen = booked.trade_ids.setdefault(team_id, set())
        book = books.get(team_id)
        for line in lines:
            if book is None:
                report.problems.append(f"trades of {team_id}, a team not in this competition")
                break
            if isinstance(line, CorporateActionLine):
                apply_change(book.portfolio, line.action(), line.change())
                booked.action_owners.setdefault(line.action_id, set()).add(team_id)
                continue
            book.apply(line.allocation())
            seen.add(line.trade_id)
            # Not the book's version: that names the code its worker runs (the registry's,
            # after a restart), so the upload inbox stages the newest upload again.
            report.trades_read += 1
    for line in account_trades:
        if isinstance(line, CorporateActionLine):
            apply_change(account.portfolio, line.action(), line.change())
            booked.action_owners.setdefault(line.action_id, set()).add(ACCOUNT_LABEL)
            continue
        account.apply(line.fill())
        booked.executions.add(line.execution_id)
        report.trades_read += 1
    return booked


def check_actions_whole(booked: _Booked, report: RecoveryReport) -> None:
    """An action whose account line is missing after the journal was redone was booked
    in part by a version that kept no journal of it: only an organiser can finish it."""
    for action_id, owners in sorted(booked.action_owners.items()):
        if ACCOUNT_LABEL not in owners:
            report.problems.append(
                f"corporate action {action_id} is booked for {', '.join(sorted(owners))} "
                "but not for the account: finish it by hand, then reconcile"
            )


def redo_journal(
    journal: list[JournalLine],
    books: dict[str, TeamBook],
    account: AccountBook,
    ledger: Ledger,
    booked: _Booked,
    report: RecoveryReport,
) -> None:
    """Book every journaled fill or crossing part, and every owner's part of a journaled
    corporate action, that the ledgers do not hold."""
    for line in journal:
        if isinstance(line, ActionJournalLine):
            _redo_action(line, books, account, ledger, booked, report)
            continue
        if not isinstance(line, AllocationsLine):
            continue
        fill = line.broker_fill()
        if fill is not None and fill.execution_id not in booked.executions:
            book_fill(account, ledger, fill, sorted({a.team_id for a in line.allocations}))
            booked.executions.add(fill.execution_id)
            report.redone.append(f"account fill {fill.execution_id} ({fill.client_order_id})")
            report.booked += 1
        for part in line.allocations:
            seen = booked.trade_ids.setdefault(part.team_id, set())
            if part.trade_id in seen or part.team_id not in books:
                continue
            book_allocation(books, ledger, part.allocation(), line.tick, part.strategy_version)
            seen.add(part.trade_id)
            report.redone.append(f"{part.team_id} trade {part.trade_id}")
            report.booked += 1


def _redo_action(
    line: ActionJournalLine,
    books: dict[str, TeamBook],
    account: AccountBook,
    ledger: Ledger,
    booked: _Booked,
    report: RecoveryReport,
) -> None:
    owners = booked.action_owners.setdefault(line.action_id, set())
    for part in line.parts:
        if part.owner in owners or (part.owner != ACCOUNT_LABEL and part.owner not in books):
            continue
        team_id = None if part.owner == ACCOUNT_LABEL else part.owner
        book = account.portfolio if team_id is None else books[part.owner].portfolio
        written = book_action(book, team_id, ledger, line, part.change())
        if team_id is None:
            booked.account_actions.append(written)
        owners.add(part.owner)
        report.redone.append(f"{part.owner}: corporate action {line.action_id}")
        report.booked += 1


def settle_open_orders(
    execution: Execution,
    journal: list[JournalLine],
    broker: RecoverableBroker,
    now: datetime,
    report: RecoveryReport,
    cancel: bool = True,
) -> None:
    """Ask the broker about every order the journal leaves open and follow it through
    execution, as if this run had sent it: its missed fills booked, its end journaled."""
    bookings = execution.bookings
    for adopted in execution.adopt(journal):
        order = adopted.order()
        events = broker.recover(order, adopted.filled, adopted.notional, adopted.fills, cancel)
        execution.handle(events, now)
        report.orders.extend(adopted.notes)
        report.problems.extend(adopted.problems)
        report.booked += execution.bookings - bookings
        bookings = execution.bookings
        if adopted.final is None:
            report.problems.append(
                f"{order.client_order_id}: still open at the broker ({order.side} "
                f"{order.quantity} {order.symbol}); trading stays held until it is final"
            )


def check_cash(
    account: AccountBook,
    opening_broker_cash: Decimal,
    broker_cash: Decimal,
    traded: Decimal,
    pending: Decimal = ZERO,
) -> list[str]:
    """The broker's cash must have moved as the account book's did since the start, less
    what the books booked that the broker has not paid yet (`pending` dividends).

    Fill prices are derived from the broker's average price at 6 decimals, so each share
    may differ by half a millionth: the tolerance is a cent plus that, per share traded.
    """
    moved = account.portfolio.cash - account.portfolio.initial_cash - pending
    expected = opening_broker_cash + moved
    tolerance = Decimal("0.01") + traded * Decimal("0.0000005")
    if abs(broker_cash - expected) <= tolerance:
        return []
    return [
        f"cash: the broker holds {broker_cash}, the account book implies {expected} "
        f"(difference {broker_cash - expected}, tolerance {tolerance})"
    ]
