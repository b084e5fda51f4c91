"""The write-ahead order journal: a submit before each order, the allocations before each
fill or crossing is booked, an outcome once the order is final."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from app.domain.corporate import ActionKind, CorporateAction, HoldingChange
from app.domain.models import Allocation, Fill, Leg, Order, OrderType, Side
from app.engine.lines.books import (
    action_fields,
    action_of,
    allocation_fields,
    allocation_of,
    change_of,
    fill_fields,
    fill_of,
)
from app.engine.lines.codec import (
    OMIT_NONE,
    ZERO,
    Channel,
    Line,
    Part,
    line_dataclass,
)

# -- the order journal -----------------------------------------------------------------------


@line_dataclass
class SubmitLine(Line):
    """Written, and fsynced, before an order goes to the broker."""

    channel: ClassVar[Channel] = Channel.JOURNAL
    timestamp: datetime
    event: str = "submit"
    client_order_id: str
    tick: datetime
    symbol: str
    leg: Leg
    side: Side
    quantity: Decimal
    order_type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    allocations: dict[str, Decimal] = dataclasses.field(default_factory=dict)

    @classmethod
    def before(
        cls, moment: datetime, order: Order, tick: datetime, leg: Leg, waiting: dict
    ) -> SubmitLine:
        return cls(
            timestamp=moment,
            client_order_id=order.client_order_id,
            tick=tick,
            symbol=order.symbol,
            leg=leg,
            side=order.side,
            quantity=order.quantity,
            order_type=order.order_type,
            limit_price=order.limit_price,
            allocations=waiting,
        )

    def order(self) -> Order:
        return Order(
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            side=self.side,
            quantity=self.quantity,
            submitted_at=self.timestamp,
        )


@line_dataclass
class OutcomeLine(Line):
    """An order's final state at the broker (not written ahead: the broker can be asked)."""

    channel: ClassVar[Channel] = Channel.JOURNAL
    timestamp: datetime
    event: str = "outcome"
    client_order_id: str
    status: str
    filled_qty: Decimal
    avg_price: Decimal | None = None
    message: str = ""


@line_dataclass
class AllocationPart(Part):
    team_id: str
    trade_id: str
    parent_client_order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    fee: Decimal = ZERO
    timestamp: datetime
    crossed: bool = False
    strategy_version: str = ""

    @classmethod
    def of(cls, allocation: Allocation, version: str) -> AllocationPart:
        return cls(**allocation_fields(allocation), strategy_version=version)

    def allocation(self) -> Allocation:
        return allocation_of(self)


@line_dataclass
class FillPart(Part):
    execution_id: str = ""
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    fee: Decimal = ZERO
    timestamp: datetime

    @classmethod
    def of(cls, fill: Fill) -> FillPart:
        return cls(**fill_fields(fill, with_order_id=False))

    def fill(self, client_order_id: str) -> Fill:
        return fill_of(self, client_order_id)


@line_dataclass
class AllocationsLine(Line):
    """Written before a fill (event "fill") or a crossing (event "crossed") is booked.

    It holds everything needed to book it again: after a crash between this line and the
    ledger lines, recovery writes the lines that are missing (by trade ID), and no others.
    """

    channel: ClassVar[Channel] = Channel.JOURNAL
    timestamp: datetime
    event: str
    tick: datetime
    leg: Leg | None = None
    allocations: list[AllocationPart] = dataclasses.field(default_factory=list)
    client_order_id: str | None = dataclasses.field(default=None, metadata=OMIT_NONE)
    fill: FillPart | None = dataclasses.field(default=None, metadata=OMIT_NONE)

    @classmethod
    def before(
        cls,
        moment: datetime,
        event: str,
        tick: datetime,
        allocations: list[Allocation],
        versions: Mapping[str, str],
        fill: Fill | None = None,
        leg: Leg | None = None,
    ) -> AllocationsLine:
        return cls(
            timestamp=moment,
            event=event,
            tick=tick,
            leg=leg,
            allocations=[AllocationPart.of(a, versions.get(a.team_id, "")) for a in allocations],
            client_order_id=None if fill is None else fill.client_order_id,
            fill=None if fill is None else FillPart.of(fill),
        )

    def broker_fill(self) -> Fill | None:
        if self.fill is None or self.client_order_id is None:
            return None
        return self.fill.fill(self.client_order_id)


@line_dataclass
class ActionPart(Part):
    """One owner's change in a corporate action (`account` for the account)."""

    owner: str
    quantity_before: Decimal
    quantity_after: Decimal
    cash: Decimal

    def change(self) -> HoldingChange:
        return change_of(self)


@line_dataclass
class ActionJournalLine(Line):
    """Written, and fsynced, before a corporate action is booked (decision 0030): every
    owner's change, so a failed write or a crash part-way is finished by recovery."""

    channel: ClassVar[Channel] = Channel.JOURNAL
    timestamp: datetime
    event: str = "corporate_action"
    action_id: str
    kind: ActionKind
    symbol: str
    ex_date: date
    amount: Decimal
    old_rate: Decimal = Decimal(1)
    price_in_lieu: Decimal | None = dataclasses.field(default=None, metadata=OMIT_NONE)
    parts: list[ActionPart] = dataclasses.field(default_factory=list)

    @classmethod
    def before(
        cls,
        moment: datetime,
        action: CorporateAction,
        price: Decimal,
        changes: Mapping[str, HoldingChange],
    ) -> ActionJournalLine:
        """Each owner's change (`account` included), before any is booked."""
        parts = [
            ActionPart(owner=owner, quantity_before=c.quantity_before,
                       quantity_after=c.quantity_after, cash=c.cash)
            for owner, c in changes.items()
        ]  # fmt: skip
        split = action.kind is ActionKind.SPLIT
        return cls(
            timestamp=moment,
            **action_fields(action),
            price_in_lieu=price if split else None,
            parts=parts,
        )

    def action(self) -> CorporateAction:
        return action_of(self)


JournalLine = SubmitLine | OutcomeLine | AllocationsLine | ActionJournalLine
_JOURNAL = {"submit": SubmitLine, "outcome": OutcomeLine, "corporate_action": ActionJournalLine}


def parse_journal(record: Mapping[str, Any]) -> JournalLine | None:
    """A journal line as its class; None for an event this version does not know."""
    event = record.get("event")
    if event in ("fill", "crossed"):
        return AllocationsLine.from_json(record)
    cls = _JOURNAL.get(str(event))
    return None if cls is None else cls.from_json(record)
