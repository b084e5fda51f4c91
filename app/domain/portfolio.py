"""Accounting for one book (a team, or the whole account): cash, positions, P&L, fees.

Average-cost method: buying into a long (or selling into a short) moves the average
cost; reducing a position realises P&L against it; crossing through zero closes the
old position at its average cost and opens the remainder at the fill price.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from app.domain.models import Side

ZERO = Decimal(0)


@dataclass(slots=True)
class Position:
    quantity: Decimal = ZERO  # negative for a short
    avg_cost: Decimal = ZERO

    def market_value(self, price: Decimal) -> Decimal:
        return self.quantity * price

    def unrealized_pnl(self, price: Decimal) -> Decimal:
        return (price - self.avg_cost) * self.quantity


@dataclass(frozen=True, slots=True)
class FillEffect:
    """What one fill did to a book: the realised P&L, if it reduced a position."""

    realized_pnl: Decimal | None
    notional: Decimal


@dataclass(slots=True)
class Portfolio:
    initial_cash: Decimal
    cash: Decimal
    positions: dict[str, Position] = field(default_factory=dict)
    realized_pnl: Decimal = ZERO
    fees: Decimal = ZERO

    @classmethod
    def with_cash(cls, cash: Decimal) -> Portfolio:
        return cls(initial_cash=cash, cash=cash)

    def quantity(self, symbol: str) -> Decimal:
        position = self.positions.get(symbol)
        return position.quantity if position else ZERO

    def apply_fill(
        self, symbol: str, side: Side, quantity: Decimal, price: Decimal, fee: Decimal = ZERO
    ) -> FillEffect:
        """Book a fill: cash moves by the notional and the fee; the position is updated."""
        if quantity <= 0:
            raise ValueError(f"fill quantity must be positive, got {quantity}")
        notional = quantity * price
        self.cash -= side.sign * notional + fee
        self.fees += fee
        realized = self._update_position(symbol, side.sign * quantity, price)
        if realized is not None:
            self.realized_pnl += realized
        return FillEffect(realized_pnl=realized, notional=notional)

    def _update_position(self, symbol: str, delta: Decimal, price: Decimal) -> Decimal | None:
        position = self.positions.setdefault(symbol, Position())
        old = position.quantity
        new = old + delta
        realized: Decimal | None = None
        if old == 0 or (old > 0) == (delta > 0):
            # Opening or adding: the average cost is the quantity-weighted mean.
            position.avg_cost = (old * position.avg_cost + delta * price) / new
        else:
            closed = min(abs(old), abs(delta))
            direction = 1 if old > 0 else -1
            realized = (price - position.avg_cost) * closed * direction
            if new == 0:
                position.avg_cost = ZERO
            elif (new > 0) != (old > 0):
                position.avg_cost = price  # flipped through zero: the rest opens here
        position.quantity = new
        if new == 0:
            del self.positions[symbol]
        return realized

    def market_value(self, prices: Mapping[str, Decimal]) -> Decimal:
        return sum(
            (p.market_value(prices.get(s, p.avg_cost)) for s, p in self.positions.items()),
            ZERO,
        )

    def equity(self, prices: Mapping[str, Decimal]) -> Decimal:
        """Cash plus positions marked at `prices` (at average cost where no price is known)."""
        return self.cash + self.market_value(prices)

    def unrealized_pnl(self, prices: Mapping[str, Decimal]) -> Decimal:
        return sum(
            (p.unrealized_pnl(prices.get(s, p.avg_cost)) for s, p in self.positions.items()),
            ZERO,
        )
