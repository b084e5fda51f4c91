"""The nouns of the arena: bars, signals, intents, orders, fills, allocations.

Market data (bars) is float, as published by exchanges and vendors; everything that
touches the books (quantities, prices of orders and fills, cash) is `Decimal`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"


class Leg(StrEnum):
    """Which part of a symbol's net order: closing the account's position, or opening one."""

    CLOSE = "c"
    OPEN = "o"


class OrderStatus(StrEnum):
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"

    @property
    def is_final(self) -> bool:
        return self not in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


@dataclass(frozen=True, slots=True)
class Bar:
    """One symbol's one-minute bar; `timestamp` is the minute's start, tz-aware UTC."""

    symbol: str
    timestamp: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float
    trade_count: float | None = None
    vwap: float | None = None


@dataclass(frozen=True, slots=True)
class Intent:
    """A validated signal of one team: what the team wants traded this minute."""

    team_id: str
    symbol: str
    side: Side
    quantity: Decimal
    order_type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    reason: str = ""
    signal_index: int = 0  # position in the team's returned list, for its error reports


@dataclass(frozen=True, slots=True)
class Rejection:
    """A signal the host refused, with a reason the team can read; `schema` when it is not
    a signal at all (a field unknown or missing, a wrong type or value), not a rule's."""

    team_id: str
    signal_index: int
    reason: str
    signal: object = None
    schema: bool = False


@dataclass(frozen=True, slots=True)
class Order:
    """One order sent to the broker: a symbol's net residual for one leg."""

    client_order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    order_type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    submitted_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution reported by the broker against an order (may be partial)."""

    client_order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    timestamp: datetime
    fee: Decimal = Decimal(0)
    execution_id: str = ""


@dataclass(frozen=True, slots=True)
class Allocation:
    """The part of a fill (or of internally crossed quantity) that belongs to one team."""

    team_id: str
    trade_id: str  # team-tagged, unique per allocation
    parent_client_order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    fee: Decimal
    timestamp: datetime
    crossed: bool = False  # matched against another team inside the host


@dataclass(frozen=True, slots=True)
class Participant:
    """One team's share of a symbol's net block: its side and requested quantity."""

    team_id: str
    side: Side
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """What a broker reports about an order: a status change, with a fill if it filled."""

    client_order_id: str
    status: OrderStatus
    fill: Fill | None = None
    message: str = ""
