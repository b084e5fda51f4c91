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

from app.domain.bounds import amount
from app.domain.models import Allocation, Fill, Leg, Order, OrderEvent, OrderStatus
from app.domain.netting import BlockPlan, LegPlan
from app.domain.order_ids import block_order_id, crossed_block_id
from app.domain.settlement import BlockSettlement, SettlementError, split_fill
from app.engine.adopted import AdoptedOrder, open_orders
from app.engine.booking import book_allocation, book_fill
from app.engine.books import AccountBook, TeamBook
from app.engine.lines import (
    AccountNote,
    AllocationsLine,
    JournalLine,
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
        self._adopted: dict[str, AdoptedOrder] = {}
        self._sent: set[str] = set()  # handed to the broker, not final yet
        self.bookings = 0  # fills and crossings booked: a snapshot after them must follow

    @property
    def open_orders(self) -> int:
        return len(self._by_order) + len(self._adopted)

    def working_symbols(self) -> set[str]:
        """Symbols with an order of the host's still working at the broker."""
        live = {block.current[0].symbol for block in self._by_order.values() if block.current}
        return live | {adopted.submit.symbol for adopted in self._adopted.values()}

    def working_order_ids(self) -> list[str]:
        """The host's orders that may be working at the broker: sent (or being sent) and not
        final, and those an earlier run left open (what a stop after a failed write cancels)."""
        return sorted(self._sent | set(self._adopted))

    def adopt(self, journal: list[JournalLine]) -> list[AdoptedOrder]:
        """After a restart: follow again every order the journal leaves open, as if this
        run had sent it; returns them, for the caller to ask the broker what happened."""
        adopted = open_orders(journal)
        for order in adopted:
            order.versions = {t: self._books[t].version for t in order.waiting if t in self._books}
            self._adopted[order.client_order_id] = order
        return adopted

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
        # Final at the broker once it says so, whether or not booking it succeeds.
        self._sent.difference_update(e.client_order_id for e in events if e.status.is_final)
        for event in events:
            block = self._by_order.get(event.client_order_id)
            if block is None:
                adopted = self._adopted.get(event.client_order_id)
                if adopted is not None:
                    self._follow_adopted(adopted, event, now)
                    continue
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
        self._sent.update(order.client_order_id for order, _block in orders)
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
        block.leg_filled += fill.quantity
        block.leg_notional += fill.quantity * fill.price
        plan = block.plan
        self._book_fill(fill, allocations, plan.tick, leg.leg, block.versions, plan.team_ids)

    def _book_fill(
        self,
        fill: Fill,
        allocations: list[Allocation],
        tick: datetime,
        leg: Leg,
        versions: dict[str, str],
        team_ids: list[str],
    ) -> None:
        """Journal a broker fill's allocations, then book the account's fill and each
        team's part: the one place a fill becomes ledger lines, live or after a restart."""
        # Ahead of the ledger lines: a crash between them is redone from this record.
        self._ledger.write(
            AllocationsLine.before(fill.timestamp, "fill", tick, allocations, versions, fill, leg)
        )
        self._crash_point("fill-journaled-not-booked")
        self.bookings += 1
        book_fill(self._account, self._ledger, fill, team_ids)
        self._crash_point("account-booked-not-teams")
        for allocation in allocations:
            if allocation.team_id in self._books:  # a team since removed keeps no book
                version = versions.get(allocation.team_id, "")
                book_allocation(self._books, self._ledger, allocation, tick, version)

    def _follow_adopted(self, adopted: AdoptedOrder, event: OrderEvent, now: datetime) -> None:
        """A fill or the end of an order an earlier run sent (see `adopt`)."""
        submit = adopted.submit
        if event.fill is not None:
            fill = event.fill
            number = adopted.fills + 1
            try:
                parts = split_fill(
                    fill, adopted.waiting, submit.tick, submit.leg, number, self._quantum
                )
            except SettlementError as error:
                adopted.problems.append(f"{adopted.client_order_id}: {error}")
                self._account_error(fill.timestamp, str(error))
            else:
                adopted.fills, adopted.filled = number, adopted.filled + fill.quantity
                adopted.notional += fill.quantity * fill.price
                for part in parts:
                    adopted.allocated[part.team_id] = (
                        adopted.allocated.get(part.team_id, ZERO) + part.quantity
                    )
                teams = sorted(submit.allocations)
                self._book_fill(fill, parts, submit.tick, submit.leg, adopted.versions, teams)
                adopted.notes.append(
                    f"{adopted.client_order_id}: missed fill of {fill.quantity} "
                    f"@ {fill.price} booked"
                )
        if event.status.is_final:
            self._close_adopted(adopted, event, now)

    def _close_adopted(self, adopted: AdoptedOrder, event: OrderEvent, now: datetime) -> None:
        self._adopted.pop(adopted.client_order_id, None)
        adopted.final = event
        # Fsynced: it ends what the earlier run left open.
        order_id = adopted.client_order_id
        self._journal_outcome(order_id, event, adopted.filled, adopted.notional, now, sync=True)
        adopted.notes.append(
            f"{adopted.client_order_id}: {event.status.value} ({adopted.filled} filled)"
        )
        symbol = adopted.submit.symbol
        for team, left in adopted.waiting.items():
            if left > 0 and team in self._books:
                message = (
                    f"order {adopted.client_order_id} was working when the host restarted: "
                    f"{event.status.value}, {amount(left)} {symbol} of your order did not fill"
                )
                self._ledger.write(TeamEvent.noted(now, team, "order", message))

    def _journal_outcome(
        self,
        order_id: str,
        event: OrderEvent,
        filled: Decimal,
        notional: Decimal,
        now: datetime,
        sync: bool = False,
    ) -> None:
        avg = notional / filled if filled else None
        outcome = OutcomeLine(
            timestamp=now,
            client_order_id=order_id,
            status=event.status,
            filled_qty=filled,
            avg_price=None if avg is None else derived(avg),
            message=event.message,
        )
        self._ledger.write(outcome, sync=sync)

    def _close_leg(self, block: ActiveBlock, event: OrderEvent, now: datetime) -> None:
        assert block.current is not None
        order, _leg = block.current
        self._by_order.pop(order.client_order_id, None)
        self._sent.discard(order.client_order_id)
        # An outcome is not written ahead (no sync): recovery can always ask the broker.
        filled, notional = block.leg_filled, block.leg_notional
        self._journal_outcome(order.client_order_id, event, filled, notional, now)
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
                    f"{amount(left)} {block.plan.symbol} of your order did not fill"
                )
                version = block.versions[team]
                self._ledger.write(TeamEvent.noted(now, team, "order", message, version=version))

    def _finish(self, block: ActiveBlock, now: datetime) -> None:
        """Settle the crossed quantity and release every team's reservation."""
        plan = block.plan
        if plan.unsendable > 0:
            self._tell_unsendable(block, now)
        crossed = block.settlement.settle_crossed(block.parent_id, now)
        if crossed:
            self._ledger.write(
                AllocationsLine.before(now, "crossed", plan.tick, crossed, block.versions)
            )
        self.bookings += bool(crossed)
        for allocation in crossed:
            version = block.versions[allocation.team_id]
            book_allocation(self._books, self._ledger, allocation, plan.tick, version)
        for participant in plan.participants:
            self._books[participant.team_id].release(participant, plan.symbol, plan.reference_price)

    def _tell_unsendable(self, block: ActiveBlock, now: datetime) -> None:
        """The fraction of a short no broker order could carry (decision 0025)."""
        plan = block.plan
        for team, left in block.settlement.unfilled.items():
            if left > 0:
                message = (
                    f"{amount(left)} {plan.symbol} of your order did not fill: together with "
                    "the other teams' orders it left the account a fractional short of "
                    f"{amount(plan.unsendable)}, which the broker does not take"
                )
                version = block.versions[team]
                self._ledger.write(TeamEvent.noted(now, team, "order", message, version=version))

    def _account_error(self, moment: datetime, message: str) -> None:
        log.error(message)
        self._ledger.write(AccountNote(timestamp=moment, kind="broker", message=message))
