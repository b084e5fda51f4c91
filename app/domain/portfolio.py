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
    """A signed quantity (negative: short) and its signed cost basis (Σ quantity × price).

    Keeping the basis rather than a rounded average makes a closed round trip realise
    exactly the cash it made.
    """

    quantity: Decimal = ZERO
    cost_basis: Decimal = ZERO

    @property
    def avg_cost(self) -> Decimal:
        return self.cost_basis / self.quantity if self.quantity else ZERO

    def market_value(self, price: Decimal) -> Decimal:
        return self.quantity * price

    def unrealized_pnl(self, price: Decimal) -> Decimal:
        return self.quantity * price - self.cost_basis


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
        if old == 0 or (old > 0) == (delta > 0):
            position.quantity += delta  # opening or adding
            position.cost_basis += delta * price
            return None
        closed = min(abs(old), abs(delta))
        # The closed part's share of the basis; exact when the whole position closes.
        removed = (
            position.cost_basis if closed == abs(old) else position.cost_basis * closed / abs(old)
        )
        realized = (closed if old > 0 else -closed) * price - removed
        position.quantity = old + delta
        if position.quantity == 0:
            del self.positions[symbol]
        elif (position.quantity > 0) != (old > 0):
            position.cost_basis = position.quantity * price  # flipped: the rest opens here
        else:
            position.cost_basis -= removed
        return realized

    def receive_dividend(self, cash: Decimal) -> None:
        """A dividend received (or, on a short, paid): income, so realised P&L."""
        self.cash += cash
        self.realized_pnl += cash

    def apply_split(
        self,
        symbol: str,
        new_rate: Decimal,
        old_rate: Decimal,
        quantity_after: Decimal,
        cash: Decimal,
    ) -> Decimal | None:
        """A split (`new_rate` shares for `old_rate`) to `quantity_after` shares with `cash`
        in lieu of the rest; the basis stays whole. A fraction paid out realises P&L
        against its share of the basis; a fraction bought in (the team's part was rounded
        up) adds what it cost."""
        position = self.positions[symbol]
        scaled = position.quantity * new_rate  # the exact shares after, times old_rate
        self.cash += cash
        if quantity_after == 0:
            realized = cash - position.cost_basis
            del self.positions[symbol]
        elif abs(quantity_after * old_rate) >= abs(scaled):
            position.quantity, position.cost_basis = quantity_after, position.cost_basis - cash
            return None
        else:
            removed = position.cost_basis * (scaled - quantity_after * old_rate) / scaled
            realized = cash - removed
            position.quantity, position.cost_basis = quantity_after, position.cost_basis - removed
        self.realized_pnl += realized
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
