"""The books' lines: a team's allocations and the account's fills (trades), a snapshot a
minute (portfolio) and a minute's performance figures (metrics)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from app.domain.corporate import ActionKind, CorporateAction, HoldingChange
from app.domain.models import Allocation, Fill, Side
from app.domain.portfolio import FillEffect, Portfolio, Position
from app.engine.lines.codec import (
    ACCOUNT_LABEL,
    OMIT_NONE,
    ROUTING,
    ZERO,
    Channel,
    Line,
    Part,
    derived,
    line_dataclass,
    parse_field,
)

# -- trades ----------------------------------------------------------------------------------


_ALLOCATION_FIELDS = tuple(f.name for f in dataclasses.fields(Allocation))
_FILL_FIELDS = tuple(f.name for f in dataclasses.fields(Fill))


def allocation_fields(allocation: Allocation) -> dict[str, Any]:
    """An allocation's fields, for a line that carries them under the same names."""
    return {name: getattr(allocation, name) for name in _ALLOCATION_FIELDS}


def allocation_of(line: Any) -> Allocation:
    """The allocation a line (a team's trade, a journaled part) holds."""
    return Allocation(**{name: getattr(line, name) for name in _ALLOCATION_FIELDS})


def fill_fields(fill: Fill, with_order_id: bool = True) -> dict[str, Any]:
    """A broker fill's fields, for a line that carries them under the same names."""
    names = _FILL_FIELDS if with_order_id else _FILL_FIELDS[1:]
    return {name: getattr(fill, name) for name in names}


def fill_of(line: Any, client_order_id: str) -> Fill:
    """The broker fill a line (the account's trade, a journaled fill) holds."""
    values = {name: getattr(line, name) for name in _FILL_FIELDS[1:]}
    return Fill(client_order_id=client_order_id, **values)


@line_dataclass
class TradeLine(Line):
    """One allocated fill of a team, with its book after it."""

    channel: ClassVar[Channel] = Channel.TRADES
    timestamp: datetime
    tick: datetime
    team_id: str
    trade_id: str
    parent_client_order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    notional: Decimal = ZERO
    fee: Decimal = ZERO
    crossed: bool = False
    realized_pnl: Decimal | None = None
    position_after: Decimal = ZERO
    cash_after: Decimal = ZERO
    strategy_version: str = ""

    @property
    def ledger_owner(self) -> str | None:
        return self.team_id

    @classmethod
    def booked(
        cls,
        allocation: Allocation,
        effect: FillEffect,
        book: Portfolio,
        tick: datetime,
        version: str,
    ) -> TradeLine:
        return cls(
            **allocation_fields(allocation),
            tick=tick,
            notional=effect.notional,
            realized_pnl=None if effect.realized_pnl is None else derived(effect.realized_pnl),
            position_after=book.quantity(allocation.symbol),
            cash_after=book.cash,
            strategy_version=version,
        )

    def allocation(self) -> Allocation:
        return allocation_of(self)


@line_dataclass
class AccountTradeLine(Line):
    """One fill of the whole account at the broker, and the teams it was for."""

    channel: ClassVar[Channel] = Channel.TRADES
    timestamp: datetime
    client_order_id: str
    execution_id: str = ""
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    notional: Decimal = ZERO
    fee: Decimal = ZERO
    teams: list[str] = dataclasses.field(default_factory=list)

    @classmethod
    def booked(cls, fill: Fill, effect: FillEffect, teams: list[str]) -> AccountTradeLine:
        return cls(**fill_fields(fill), notional=effect.notional, teams=teams)

    def fill(self) -> Fill:
        return fill_of(self, self.client_order_id)


def action_fields(action: CorporateAction) -> dict[str, Any]:
    """An action's fields, for a line that carries them under the same names."""
    return {
        "action_id": action.action_id,
        "kind": action.kind,
        "symbol": action.symbol,
        "ex_date": action.ex_date,
        "amount": action.amount,
        "old_rate": action.old_rate,
    }


def action_of(line: Any) -> CorporateAction:
    """The action a line (an owner's, or the journal's record of it) holds."""
    return CorporateAction(
        line.symbol, line.kind, line.ex_date, line.amount, old_rate=line.old_rate
    )


def change_of(line: Any) -> HoldingChange:
    """The holding change a line (an owner's, or a journaled part) holds."""
    return HoldingChange(line.quantity_before, line.quantity_after, line.cash)


@line_dataclass
class CorporateActionLine(Line):
    """A dividend or split on one holding of an owner (a team, or the account), in the
    trades file so the books replay in order (decision 0030)."""

    channel: ClassVar[Channel] = Channel.TRADES
    timestamp: datetime
    owner: str
    action_id: str
    kind: ActionKind
    symbol: str
    ex_date: date
    amount: Decimal  # a dividend's cash per share; a split's new shares ...
    old_rate: Decimal = Decimal(1)  # ... for this many old ones
    quantity_before: Decimal
    quantity_after: Decimal
    cash: Decimal
    price_in_lieu: Decimal | None = dataclasses.field(default=None, metadata=OMIT_NONE)
    realized_pnl: Decimal | None = None
    cash_after: Decimal = ZERO

    @property
    def ledger_owner(self) -> str | None:
        return None if self.owner == ACCOUNT_LABEL else self.owner

    @classmethod
    def booked(
        cls,
        owner: str | None,
        moment: datetime,
        action: CorporateAction,
        change: HoldingChange,
        book: Portfolio,
        price: Decimal | None,
        realized: Decimal | None,
    ) -> CorporateActionLine:
        return cls(
            timestamp=moment,
            owner=ACCOUNT_LABEL if owner is None else owner,
            **action_fields(action),
            quantity_before=change.quantity_before,
            quantity_after=change.quantity_after,
            cash=change.cash,
            price_in_lieu=price if action.kind is ActionKind.SPLIT else None,
            realized_pnl=None if realized is None else derived(realized),
            cash_after=book.cash,
        )

    def action(self) -> CorporateAction:
        return action_of(self)

    def change(self) -> HoldingChange:
        return change_of(self)


# -- snapshots and metrics -------------------------------------------------------------------


@line_dataclass
class PositionPart(Part):
    quantity: Decimal
    avg_cost: Decimal
    price: Decimal
    market_value: Decimal
    unrealized_pnl: Decimal

    @classmethod
    def marked(cls, position: Position, price: Decimal | None) -> PositionPart:
        mark = price if price is not None else position.avg_cost
        return cls(
            quantity=position.quantity,
            avg_cost=derived(position.avg_cost),
            price=mark,
            market_value=position.market_value(mark),
            unrealized_pnl=derived(position.unrealized_pnl(mark)),
        )


@line_dataclass
class SnapshotLine(Line):
    """An owner's book at the end of a minute, marked at the minute's prices."""

    channel: ClassVar[Channel] = Channel.PORTFOLIO
    day: date | None = dataclasses.field(default=None, metadata=ROUTING)  # its file's session
    timestamp: datetime
    owner: str
    cash: Decimal
    market_value: Decimal
    equity: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees: Decimal
    positions: dict[str, PositionPart] = dataclasses.field(default_factory=dict)

    @property
    def ledger_owner(self) -> str | None:
        return None if self.owner == ACCOUNT_LABEL else self.owner

    @classmethod
    def marked(
        cls,
        owner: str | None,
        day: date,
        moment: datetime,
        book: Portfolio,
        prices: Mapping[str, Decimal],
    ) -> SnapshotLine:
        market_value = book.market_value(prices)
        return cls(
            day=day,
            timestamp=moment,
            owner=ACCOUNT_LABEL if owner is None else owner,
            cash=book.cash,
            market_value=market_value,
            equity=book.cash + market_value,
            realized_pnl=derived(book.realized_pnl),
            unrealized_pnl=derived(book.unrealized_pnl(prices)),
            fees=book.fees,
            positions={
                symbol: PositionPart.marked(position, prices.get(symbol))
                for symbol, position in sorted(book.positions.items())
            },
        )


@line_dataclass
class MetricsLine(Line):
    """A minute's performance figures; a team's also say which version ran and whether it
    trades, so the leaderboard and a team's status read one line per team."""

    channel: ClassVar[Channel] = Channel.METRICS
    timestamp: datetime
    owner: str
    rank: int | None = None
    figures: dict[str, Any] = dataclasses.field(default_factory=dict)  # flat in the JSON
    strategy_version: str | None = dataclasses.field(default=None, metadata=OMIT_NONE)
    status: str | None = dataclasses.field(default=None, metadata=OMIT_NONE)

    @property
    def ledger_owner(self) -> str | None:
        return None if self.owner == ACCOUNT_LABEL else self.owner

    def to_json(self) -> dict[str, Any]:
        record = {"timestamp": self.timestamp, "owner": self.owner, "rank": self.rank}
        record.update(self.figures)
        if self.strategy_version is not None:
            record["strategy_version"] = self.strategy_version
        if self.status is not None:
            record["status"] = self.status
        return record

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> MetricsLine:
        named = ("timestamp", "owner", "rank", "strategy_version", "status")
        return cls(
            timestamp=parse_field(record["timestamp"], datetime, "timestamp"),
            owner=str(record["owner"]),
            rank=record.get("rank"),
            figures={k: v for k, v in record.items() if k not in named},
            strategy_version=record.get("strategy_version"),
            status=record.get("status"),
        )


TradesFileLine = TradeLine | AccountTradeLine | CorporateActionLine


def parse_trade(record: Mapping[str, Any]) -> TradesFileLine:
    """A trades line: a team's allocation, an account fill, or a corporate action."""
    if "action_id" in record:
        return CorporateActionLine.from_json(record)
    if "trade_id" in record:
        return TradeLine.from_json(record)
    return AccountTradeLine.from_json(record)
