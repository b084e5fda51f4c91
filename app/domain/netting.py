"""Net all teams' intents per symbol into one block: cross inside, send the residual.

Per symbol and tick: each team's intents are first summed to one signed quantity;
buyers and sellers then cross inside the host for the smaller side's total; only the
residual goes to the broker, as at most one order per leg. A residual that would take
the account's position through zero (long to short, or short to long) is split into a
close leg and an open leg, because a broker refuses to flip a position in one order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from app.domain.models import Intent, Leg, Participant, Side

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class LegPlan:
    leg: Leg
    side: Side
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class BlockPlan:
    """What the host will do on one symbol this tick, before anything is sent."""

    tick: datetime
    symbol: str
    reference_price: Decimal
    participants: tuple[Participant, ...]  # one per team, ordered by team id
    crossed: Decimal
    legs: tuple[LegPlan, ...]  # in the order they must be sent

    @property
    def team_ids(self) -> list[str]:
        return [p.team_id for p in self.participants]

    @property
    def net_side(self) -> Side | None:
        return self.legs[0].side if self.legs else None


def plan_blocks(
    tick: datetime,
    intents: Iterable[Intent],
    account_positions: Mapping[str, Decimal],
    reference_prices: Mapping[str, Decimal],
) -> list[BlockPlan]:
    """One block per symbol with any non-zero team quantity, ordered by symbol."""
    signed: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for intent in intents:
        signed[intent.symbol][intent.team_id] += intent.side.sign * intent.quantity
    blocks = []
    for symbol in sorted(signed):
        participants = tuple(
            Participant(team, Side.BUY if qty > 0 else Side.SELL, abs(qty))
            for team, qty in sorted(signed[symbol].items())
            if qty != 0
        )
        if not participants:
            continue  # every team's own buys and sells cancelled out
        bought = sum((p.quantity for p in participants if p.side is Side.BUY), ZERO)
        sold = sum((p.quantity for p in participants if p.side is Side.SELL), ZERO)
        legs = split_legs(bought - sold, account_positions.get(symbol, ZERO))
        blocks.append(
            BlockPlan(
                tick=tick,
                symbol=symbol,
                reference_price=reference_prices[symbol],
                participants=participants,
                crossed=min(bought, sold),
                legs=legs,
            )
        )
    return blocks


def split_legs(residual: Decimal, position: Decimal) -> tuple[LegPlan, ...]:
    """Broker legs for a signed residual given the account's signed position."""
    if residual == 0:
        return ()
    side = Side.BUY if residual > 0 else Side.SELL
    size = abs(residual)
    reduces = position != 0 and (position > 0) != (residual > 0)
    if not reduces:
        return (LegPlan(Leg.OPEN, side, size),)
    if size <= abs(position):
        return (LegPlan(Leg.CLOSE, side, size),)
    return (LegPlan(Leg.CLOSE, side, abs(position)), LegPlan(Leg.OPEN, side, size - abs(position)))
