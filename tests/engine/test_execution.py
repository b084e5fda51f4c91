"""Execution follows an order an earlier run left open exactly as one of its own: the
broker's fills are split among the waiting teams, journaled, booked; its end is journaled."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from app.domain.models import Fill, Leg, Order, OrderEvent, OrderStatus, Side
from app.engine.books import AccountBook, TeamBook
from app.engine.execution import Execution
from app.engine.lines import (
    AccountTradeLine,
    AllocationsLine,
    Line,
    OutcomeLine,
    SubmitLine,
    TeamEvent,
    TradeLine,
)

TICK = datetime(2026, 3, 12, 14, 5, tzinfo=UTC)
LATER = datetime(2026, 3, 12, 14, 7, tzinfo=UTC)
ORDER_ID = "alpha+beta_202603121405_AAPL_o"


class ListLedger:
    def __init__(self) -> None:
        self.lines: list[Line] = []

    def write(self, line: Line, *, sync: bool = False) -> None:
        self.lines.append(line)

    def sync_journal(self) -> None: ...
    def end_tick(self) -> None: ...
    def close(self) -> None: ...


def journal_of_an_order_left_open() -> list:
    order = Order(ORDER_ID, "AAPL", Side.BUY, Decimal(10), submitted_at=TICK)
    waiting = {"alpha": Decimal(6), "beta": Decimal(4)}
    return [SubmitLine.before(TICK, order, TICK, Leg.OPEN, waiting)]


def test_an_adopted_order_is_booked_through_the_same_lines_as_a_live_one() -> None:
    books = {t: TeamBook.opening(t, t, Decimal(100_000), "v1") for t in ("alpha", "beta")}
    account = AccountBook.opening(Decimal(200_000))
    ledger = ListLedger()
    execution = Execution(books, account, broker=None, ledger=ledger, quantum=Decimal(1))
    [adopted] = execution.adopt(journal_of_an_order_left_open())
    assert execution.open_orders == 1
    assert adopted.waiting == {"alpha": Decimal(6), "beta": Decimal(4)}
    fill = Fill(ORDER_ID, "AAPL", Side.BUY, Decimal(5), Decimal("187.5"), LATER, Decimal(0), "x1")
    execution.handle(
        [
            OrderEvent(ORDER_ID, OrderStatus.PARTIALLY_FILLED, fill),
            OrderEvent(ORDER_ID, OrderStatus.CANCELED, None, "canceled at restart"),
        ],
        LATER,
    )
    kinds = [type(line) for line in ledger.lines]
    assert kinds == [
        AllocationsLine,
        AccountTradeLine,
        TradeLine,
        TradeLine,
        OutcomeLine,
        TeamEvent,
        TeamEvent,
    ]
    journaled, account_trade, *team_trades = ledger.lines[:4]
    assert sum(p.quantity for p in journaled.allocations) == Decimal(5)
    assert account_trade.teams == ["alpha", "beta"]
    assert {t.team_id: t.quantity for t in team_trades} == {"alpha": 3, "beta": 2}
    assert books["alpha"].portfolio.quantity("AAPL") == 3
    assert account.portfolio.quantity("AAPL") == 5
    outcome = ledger.lines[4]
    assert (outcome.status, outcome.filled_qty, outcome.avg_price) == (
        "canceled",
        5,
        Decimal("187.5"),
    )
    told = [line.message for line in ledger.lines[5:]]
    assert any("3 AAPL of your order did not fill" in m for m in told)  # alpha: 6 - 3
    assert execution.open_orders == 0
    assert adopted.final is not None
    assert adopted.notes[0].endswith("missed fill of 5 @ 187.5 booked")
