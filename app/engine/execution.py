"""Execute planned blocks: journal, submit, follow each order, allocate, settle.

A block's legs go out one at a time (an open leg only after its close leg filled, as a
broker will not flip a position in one order). Every order is journaled, and the
journal fsynced, before it is sent; its outcome is journaled when it is final.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from app.domain.models import Fill, Order, OrderEvent, OrderStatus
from app.domain.netting import BlockPlan, LegPlan
from app.domain.order_ids import block_order_id, crossed_block_id
from app.domain.settlement import BlockSettlement, SettlementError
from app.engine.booking import book_allocation, book_fill
from app.engine.books import AccountBook, TeamBook
from app.engine.lines import (
    AccountNote,
    AllocationsLine,
    OutcomeLine,
    SubmitLine,
    TeamEvent,
    derived,
)
from app.engine.ports import Broker, Ledger

log = logging.getLogger(__name__)
ZERO = Decimal(0)
CrashPoint = Callable[[str], None]  # called by name where a crash is most dangerous


def no_crash(point: str) -> None:
    """The crash-point hook outside the crash tests: nothing happens."""


@dataclass(slots=True)
class ActiveBlock:
    plan: BlockPlan
    settlement: BlockSettlement
    pending_legs: list[LegPlan]
    versions: dict[str, str]
    parent_id: str
    current: tuple[Order, LegPlan] | None = None
    leg_filled: Decimal = ZERO
    leg_notional: Decimal = ZERO
    messages: list[str] = field(default_factory=list)


class Execution:
    """Follows every block from its first order to its settlement."""

    def __init__(
        self,
        books: dict[str, TeamBook],
        account: AccountBook,
        broker: Broker,
        ledger: Ledger,
        quantum: Decimal,
        crash_point: CrashPoint = no_crash,
    ) -> None:
        self._crash_point = crash_point
        self._books = books
        self._account = account
        self._broker = broker
        self._ledger = ledger
        self._quantum = quantum
        self._by_order: dict[str, ActiveBlock] = {}

    @property
    def open_orders(self) -> int:
        return len(self._by_order)

    def start(self, plans: list[BlockPlan], now: datetime) -> None:
        """Reserve each team's share, then send each block's first leg (or settle it).

        The first legs go out together: journaled, one fsync, then submitted at once (a
        broker that can sends them concurrently; they are for different symbols).
        """
        first_legs: list[tuple[Order, ActiveBlock]] = []
        for plan in plans:
            for participant in plan.participants:
                self._books[participant.team_id].reserve(
                    participant, plan.symbol, plan.reference_price
                )
            first_leg = plan.legs[0].leg if plan.legs else None
            parent_id = (
                block_order_id(plan.tick, plan.symbol, first_leg, plan.team_ids)
                if first_leg
                else crossed_block_id(plan.tick, plan.symbol, plan.team_ids)
            )
            block = ActiveBlock(
                plan=plan,
                settlement=BlockSettlement(plan, self._quantum),
                pending_legs=list(plan.legs),
                versions={t: self._books[t].version for t in plan.team_ids},
                parent_id=parent_id,
            )
            if block.pending_legs:
                first_legs.append((self._prepare_next_leg(block, now), block))
            else:
                self._finish(block, now)
        self._send(first_legs, now)

    def handle(self, events: list[OrderEvent], now: datetime) -> None:
        """Apply the broker's fills and status changes, in order."""
        for event in events:
            block = self._by_order.get(event.client_order_id)
            if block is None:
                self._account_error(now, f"event for an unknown order: {event}")
                continue
            if event.fill is not None:
                self._apply_fill(block, event.fill)
            if event.status.is_final:
                self._close_leg(block, event, now)

    def _prepare_next_leg(self, block: ActiveBlock, now: datetime) -> Order:
        """The block's next order, journaled (not yet fsynced) and followed from now on."""
        leg = block.pending_legs.pop(0)
        plan = block.plan
        order = Order(
            client_order_id=block_order_id(plan.tick, plan.symbol, leg.leg, plan.team_ids),
            symbol=plan.symbol,
            side=leg.side,
            quantity=leg.quantity,
            submitted_at=now,
        )
        waiting = {t: q for t, q in block.settlement.unfilled.items() if q > 0}
        self._ledger.write(SubmitLine.before(now, order, plan.tick, leg.leg, waiting))
        block.current, block.leg_filled, block.leg_notional = (order, leg), ZERO, ZERO
        self._by_order[order.client_order_id] = block
        return order

    def _send(self, orders: list[tuple[Order, ActiveBlock]], now: datetime) -> None:
        """Make the journal durable, then submit; a rejection closes its leg at once."""
        if not orders:
            return
        self._ledger.sync_journal()  # every order is on disk before any is sent
        self._crash_point("journaled-not-sent")
        answers = self._broker.submit_many([order for order, _block in orders])
        self._crash_point("sent-not-recorded")
        for (_order, block), answer in zip(orders, answers, strict=True):
            if answer.status is OrderStatus.REJECTED:
                self._close_leg(block, answer, now)

    def _apply_fill(self, block: ActiveBlock, fill: Fill) -> None:
        assert block.current is not None
        _order, leg = block.current
        try:
            allocations = block.settlement.allocate_fill(fill, leg.leg)
        except SettlementError as error:
            self._account_error(fill.timestamp, str(error))
            return
        plan = block.plan
        # Ahead of the ledger lines: a crash between them is redone from this record.
        self._ledger.write(
            AllocationsLine.before(
                fill.timestamp, "fill", plan.tick, allocations, block.versions, fill, leg.leg
            )
        )
        self._crash_point("fill-journaled-not-booked")
        block.leg_filled += fill.quantity
        block.leg_notional += fill.quantity * fill.price
        book_fill(self._account, self._ledger, fill, plan.team_ids)
        self._crash_point("account-booked-not-teams")
        for allocation in allocations:
            version = block.versions[allocation.team_id]
            book_allocation(self._books, self._ledger, allocation, plan.tick, version)

    def _close_leg(self, block: ActiveBlock, event: OrderEvent, now: datetime) -> None:
        assert block.current is not None
        order, _leg = block.current
        self._by_order.pop(order.client_order_id, None)
        avg = block.leg_notional / block.leg_filled if block.leg_filled else None
        # An outcome is not written ahead (no sync): recovery can always ask the broker.
        self._ledger.write(
            OutcomeLine(
                timestamp=now,
                client_order_id=order.client_order_id,
                status=event.status,
                filled_qty=block.leg_filled,
                avg_price=None if avg is None else derived(avg),
                message=event.message,
            )
        )
        block.current = None
        if event.status is OrderStatus.FILLED and block.pending_legs:
            self._send([(self._prepare_next_leg(block, now), block)], now)
            return
        if event.status is not OrderStatus.FILLED:
            self._tell_unfilled(block, order, event, now)
        self._finish(block, now)

    def _tell_unfilled(
        self, block: ActiveBlock, order: Order, event: OrderEvent, now: datetime
    ) -> None:
        detail = f": {event.message}" if event.message else ""
        for team, left in block.settlement.unfilled.items():
            if left > 0:
                message = (
                    f"order {order.client_order_id} {event.status.value}{detail}; "
                    f"{left} {block.plan.symbol} of your order did not fill"
                )
                version = block.versions[team]
                self._ledger.write(TeamEvent.noted(now, team, "order", message, version=version))

    def _finish(self, block: ActiveBlock, now: datetime) -> None:
        """Settle the crossed quantity and release every team's reservation."""
        plan = block.plan
        crossed = block.settlement.settle_crossed(block.parent_id, now)
        if crossed:
            self._ledger.write(
                AllocationsLine.before(now, "crossed", plan.tick, crossed, block.versions)
            )
        for allocation in crossed:
            version = block.versions[allocation.team_id]
            book_allocation(self._books, self._ledger, allocation, plan.tick, version)
        for participant in plan.participants:
            self._books[participant.team_id].release(participant, plan.symbol, plan.reference_price)

    def _account_error(self, moment: datetime, message: str) -> None:
        log.error(message)
        self._ledger.write(AccountNote(timestamp=moment, kind="broker", message=message))
