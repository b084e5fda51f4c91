"""Allocate a block's broker fills and its internally crossed quantity to its teams.

Each broker fill is split among the net side's teams in proportion to what each still
waits for, at the fill's own price, so every fill's parts sum exactly to the fill in
quantity, notional and fee. The crossed quantity settles once the block is done, at
the volume-weighted price of its broker fills (the reference price if nothing reached
the broker or nothing filled): both sides get the same price, so crossing moves cash
between teams and never creates or destroys any.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from app.domain.allocation import allocate_pro_rata, allocate_whole_first, fee_quantum
from app.domain.models import Allocation, Fill, Leg, Side
from app.domain.netting import BlockPlan
from app.domain.numbers import canonical
from app.domain.order_ids import crossed_trade_id, team_trade_id

ZERO = Decimal(0)
CROSS_PRICE_QUANTUM = Decimal("0.000001")


class SettlementError(ValueError):
    """A broker report that does not fit the block: it is recorded, never allocated."""


class OverfillError(SettlementError):
    """The broker reported more quantity than the block asked for."""


@dataclass(slots=True)
class BlockSettlement:
    """The allocation state of one block, from planning until it is done."""

    plan: BlockPlan
    quantum: Decimal
    crossed_share: dict[str, Decimal] = field(init=False)
    residual_share: dict[str, Decimal] = field(init=False)
    filled: dict[str, Decimal] = field(init=False)
    fills_per_leg: dict[Leg, int] = field(init=False)
    broker_quantity: Decimal = ZERO
    broker_notional: Decimal = ZERO
    crossed_settled: bool = False

    def __post_init__(self) -> None:
        net_side = self.plan.net_side
        if net_side is None:  # fully crossed: the "net side" is arbitrary, use buyers
            net_side = Side.BUY
        net = [p for p in self.plan.participants if p.side is net_side]
        quantities = [p.quantity for p in net]
        whole = [q == q.to_integral_value() for q in quantities]  # asked for whole shares
        crossed_parts = allocate_whole_first(self.plan.crossed, quantities, whole, self.quantum)
        self.crossed_share = {p.team_id: c for p, c in zip(net, crossed_parts, strict=True)}
        self.residual_share = {p.team_id: p.quantity - self.crossed_share[p.team_id] for p in net}
        for p in self.plan.participants:
            if p.side is not net_side:
                self.crossed_share[p.team_id] = p.quantity
        self.filled = dict.fromkeys(self.residual_share, ZERO)
        self.fills_per_leg = {}

    @property
    def residual(self) -> Decimal:
        return sum(self.residual_share.values(), ZERO)

    @property
    def unfilled(self) -> dict[str, Decimal]:
        return {t: self.residual_share[t] - self.filled[t] for t in self.residual_share}

    def allocate_fill(self, fill: Fill, leg: Leg) -> list[Allocation]:
        """Split one broker fill among the teams still waiting on the net side."""
        if fill.symbol != self.plan.symbol or fill.side is not self.plan.net_side:
            raise SettlementError(
                f"{fill.client_order_id}: a {fill.side} fill of {fill.symbol} does not match "
                f"the block ({self.plan.net_side} {self.plan.symbol})"
            )
        number = self.fills_per_leg.get(leg, 0) + 1
        allocations = split_fill(fill, self.unfilled, self.plan.tick, leg, number, self.quantum)
        self.fills_per_leg[leg] = number
        self.broker_quantity += fill.quantity
        self.broker_notional += fill.quantity * fill.price
        for allocation in allocations:
            self.filled[allocation.team_id] += allocation.quantity
        return allocations

    def cross_price(self) -> Decimal:
        if self.broker_quantity == 0:
            return self.plan.reference_price
        vwap = self.broker_notional / self.broker_quantity
        return canonical(vwap.quantize(CROSS_PRICE_QUANTUM, rounding=ROUND_HALF_EVEN))

    def settle_crossed(self, parent_id: str, timestamp: datetime) -> list[Allocation]:
        """The crossed quantity of every team, at one price; call once, when the block is done."""
        if self.crossed_settled:
            raise RuntimeError(f"block {self.plan.symbol} at {self.plan.tick} already settled")
        self.crossed_settled = True
        price = self.cross_price()
        sides = {p.team_id: p.side for p in self.plan.participants}
        return [
            Allocation(
                team_id=team,
                trade_id=crossed_trade_id(team, self.plan.tick, self.plan.symbol),
                parent_client_order_id=parent_id,
                symbol=self.plan.symbol,
                side=sides[team],
                quantity=quantity,
                price=price,
                fee=ZERO,
                timestamp=timestamp,
                crossed=True,
            )
            for team, quantity in sorted(self.crossed_share.items())
            if quantity > 0
        ]


def split_fill(
    fill: Fill,
    waiting: dict[str, Decimal],
    tick: datetime,
    leg: Leg,
    number: int,
    quantum: Decimal,
) -> list[Allocation]:
    """The `number`-th fill of a block leg, split among the teams still `waiting`, in
    proportion to what each waits for, at the fill's price (fees split the same way)."""
    teams = [t for t in sorted(waiting) if waiting[t] > 0]
    capacity = sum((waiting[t] for t in teams), ZERO)
    if fill.quantity > capacity:
        raise OverfillError(
            f"{fill.client_order_id}: fill of {fill.quantity} exceeds the {capacity} unfilled"
        )
    # A team still waiting for a whole number of shares gets whole shares where it can.
    whole = [waiting[t] == waiting[t].to_integral_value() for t in teams]
    quantities = allocate_whole_first(fill.quantity, [waiting[t] for t in teams], whole, quantum)
    fees = allocate_pro_rata(fill.fee, quantities, fee_quantum(fill.fee))
    return [
        Allocation(
            team_id=team,
            trade_id=team_trade_id(team, tick, fill.symbol, leg, number),
            parent_client_order_id=fill.client_order_id,
            symbol=fill.symbol,
            side=fill.side,
            quantity=quantity,
            price=fill.price,
            fee=fee,
            timestamp=fill.timestamp,
        )
        for team, quantity, fee in zip(teams, quantities, fees, strict=True)
        if quantity != 0
    ]
