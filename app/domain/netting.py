"""Net all teams' intents per symbol into one block: cross inside, send the residual.

Per symbol and tick: each team's intents are first summed to one signed quantity;
buyers and sellers then cross inside the host for the smaller side's total; only the
residual goes to the broker, as at most one order per leg. A residual that would take
the account's position through zero (long to short, or short to long) is split into a
close leg and an open leg, because a broker refuses to flip a position in one order.
A broker takes no fractional short either: an open leg that sells short is sent in whole
shares, and the fraction it leaves (`unsendable`) stays unfilled for the teams, who are
told why (decision 0025).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal

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
    unsendable: Decimal = ZERO  # residual no legal broker order carries (a fractional short)

    @property
    def team_ids(self) -> list[str]:
        return [p.team_id for p in self.participants]

    @property
    def net_side(self) -> Side | None:
        """The side of the residual (None when the block crosses entirely), whether or
        not a broker order carries it."""
        signed = sum((p.side.sign * p.quantity for p in self.participants), ZERO)
        if signed == 0:
            return None
        return Side.BUY if signed > 0 else Side.SELL


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
        sent = sum((leg.quantity for leg in legs), ZERO)
        blocks.append(
            BlockPlan(
                tick=tick,
                symbol=symbol,
                reference_price=reference_prices[symbol],
                participants=participants,
                crossed=min(bought, sold),
                legs=legs,
                unsendable=abs(bought - sold) - sent,
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
        return _open_leg(side, size)
    if size <= abs(position):
        return (LegPlan(Leg.CLOSE, side, size),)
    return (LegPlan(Leg.CLOSE, side, abs(position)), *_open_leg(side, size - abs(position)))


def _open_leg(side: Side, size: Decimal) -> tuple[LegPlan, ...]:
    """A leg that opens (or extends) a position; a short only in whole shares."""
    if side is Side.SELL:
        size = size.to_integral_value(rounding=ROUND_FLOOR)
    return (LegPlan(Leg.OPEN, side, size),) if size > 0 else ()
