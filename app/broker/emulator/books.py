"""The emulator's books: the simulated broker it drives, its orders and its positions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from app.broker.simulator import SimulatedBroker
from app.domain.models import Fill, Order, Side

ZERO = Decimal(0)
OPEN_STATUSES = frozenset({"accepted", "new", "partially_filled"})


class EmulatorBroker(SimulatedBroker):
    """The simulated broker the emulator drives (cancel and per-order caps are the simulator's)."""


@dataclass(slots=True)
class OrderRecord:
    """One accepted order as Alpaca reports it."""

    seq: int
    id: str
    order: Order
    created_at: datetime
    status: str = "new"
    updated_at: datetime | None = None
    filled_at: datetime | None = None
    expired_at: datetime | None = None
    canceled_at: datetime | None = None
    failed_at: datetime | None = None
    expires_at: datetime | None = None
    filled_qty: Decimal = ZERO
    filled_notional: Decimal = ZERO
    position_intent: str = ""
    fills: list[Fill] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def remaining(self) -> Decimal:
        return self.order.quantity - self.filled_qty

    @property
    def avg_price(self) -> Decimal | None:
        return self.filled_notional / self.filled_qty if self.filled_qty else None

    def touch(self, moment: datetime) -> None:
        self.updated_at = max(self.updated_at or moment, moment)

    def apply_fill(self, fill: Fill, done: bool) -> None:
        self.fills.append(fill)
        self.filled_qty += fill.quantity
        self.filled_notional += fill.quantity * fill.price
        self.status = "filled" if done else "partially_filled"
        self.filled_at = fill.timestamp if done else self.filled_at
        self.touch(fill.timestamp)


@dataclass(slots=True)
class Holding:
    """A position: signed quantity, average entry price and the session it was opened."""

    qty: Decimal
    avg_entry: Decimal
    opened: date | None


class PositionBook:
    """Positions built from fills, with Alpaca's average entry price."""

    def __init__(self) -> None:
        self.holdings: dict[str, Holding] = {}

    def apply(self, fill: Fill, session: date | None) -> None:
        signed = fill.quantity if fill.side is Side.BUY else -fill.quantity
        held = self.holdings.get(fill.symbol)
        if held is None or held.qty == 0:
            self.holdings[fill.symbol] = Holding(signed, fill.price, session)
            return
        after = held.qty + signed
        if after == 0:
            del self.holdings[fill.symbol]
        elif (after > 0) != (held.qty > 0):  # crossed zero: a new position at this price
            self.holdings[fill.symbol] = Holding(after, fill.price, session)
        elif abs(after) > abs(held.qty):  # adding: the entry price averages in
            cost = abs(held.qty) * held.avg_entry + fill.quantity * fill.price
            held.avg_entry = cost / abs(after)
            held.qty = after
        else:  # reducing: the entry price of what is left is unchanged
            held.qty = after

    def quantities(self) -> dict[str, Decimal]:
        return {s: h.qty for s, h in self.holdings.items() if h.qty != 0}

    def values(self, price: Callable[[str], Decimal | None]) -> tuple[Decimal, Decimal]:
        """(long, short) market value of the holdings, each at `price` or its entry price."""
        long_value = short_value = Decimal(0)
        for symbol, holding in self.holdings.items():
            value = holding.qty * (price(symbol) or holding.avg_entry)
            if value > 0:
                long_value += value
            else:
                short_value += value
        return long_value, short_value


def created_after(orders: Mapping[str, OrderRecord], after: datetime | None) -> list[OrderRecord]:
    """Orders created after `after`: orders are kept in creation order (the clock only moves
    forward), so a recent `after` reads the newest few, not the whole session."""
    if after is None:
        return list(orders.values())
    recent = []
    for record in reversed(orders.values()):
        if record.created_at <= after:
            break
        recent.append(record)
    return recent
