"""The host's books: one per team and one for the whole brokerage account."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from app.domain.metrics import PerformanceTracker
from app.domain.models import Allocation, Fill, Intent, Participant, Side
from app.domain.portfolio import ZERO, FillEffect, Portfolio
from app.domain.validation import TeamExposure


@dataclass(slots=True)
class TeamBook:
    """A team's portfolio, its open commitments, its performance and its resting limits."""

    team_id: str
    name: str
    exposure: TeamExposure
    tracker: PerformanceTracker
    resting_limits: list[Intent] = field(default_factory=list)
    version: str = ""
    enabled: bool = True
    consecutive_faults: int = 0

    @classmethod
    def opening(cls, team_id: str, name: str, cash: Decimal, version: str = "") -> TeamBook:
        portfolio = Portfolio.with_cash(cash)
        return cls(
            team_id, name, TeamExposure(portfolio), PerformanceTracker(cash), version=version
        )

    @property
    def portfolio(self) -> Portfolio:
        return self.exposure.portfolio

    def apply(self, allocation: Allocation) -> FillEffect:
        effect = self.portfolio.apply_fill(
            allocation.symbol,
            allocation.side,
            allocation.quantity,
            allocation.price,
            allocation.fee,
        )
        self.tracker.record_trade(effect.notional, effect.realized_pnl)
        return effect

    def reserve(self, participant: Participant, symbol: str, price: Decimal) -> None:
        """Hold cash (buys) or shares (sells) until the block this team is in is done."""
        if participant.side.sign > 0:
            self.exposure.reserved_cash += participant.quantity * price
        else:
            pending = self.exposure.pending_sells
            pending[symbol] = pending.get(symbol, ZERO) + participant.quantity

    def release(self, participant: Participant, symbol: str, price: Decimal) -> None:
        if participant.side.sign > 0:
            self.exposure.reserved_cash -= participant.quantity * price
        else:
            pending = self.exposure.pending_sells
            pending[symbol] -= participant.quantity
            if pending[symbol] == 0:
                del pending[symbol]

    def strategy_header(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """What the strategy sees of its own team (plain floats: it is not the books)."""
        return {
            "id": self.team_id,
            "name": self.name,
            "cash": float(self.portfolio.cash - self.exposure.reserved_cash),
            "positions": {
                symbol: {"quantity": float(p.quantity), "avg_cost": float(p.avg_cost)}
                for symbol, p in sorted(self.portfolio.positions.items())
            },
            "params": dict(params),
        }


@dataclass(slots=True)
class AccountBook:
    """The brokerage account as the host sees it: every broker fill, no internal crossing."""

    portfolio: Portfolio
    tracker: PerformanceTracker

    @classmethod
    def opening(cls, cash: Decimal) -> AccountBook:
        return cls(Portfolio.with_cash(cash), PerformanceTracker(cash))

    def apply(self, fill: Fill) -> FillEffect:
        effect = self.portfolio.apply_fill(
            fill.symbol, fill.side, fill.quantity, fill.price, fill.fee
        )
        self.tracker.record_trade(effect.notional, effect.realized_pnl)
        return effect

    def positions(self) -> dict[str, Decimal]:
        return {s: p.quantity for s, p in self.portfolio.positions.items()}


def flattening_intents(books: Iterable[TeamBook]) -> list[Intent]:
    """For every team, orders that close each of its positions (the kill switch's flatten)."""
    intents = []
    for book in books:
        for index, (symbol, position) in enumerate(sorted(book.portfolio.positions.items())):
            if position.quantity == 0:
                continue
            side = Side.SELL if position.quantity > 0 else Side.BUY
            intents.append(
                Intent(
                    book.team_id,
                    symbol,
                    side,
                    abs(position.quantity),
                    reason="flatten (kill switch)",
                    signal_index=index,
                )
            )
    return intents


def check_against_broker(
    books: Mapping[str, TeamBook], account: AccountBook, broker_positions: Mapping[str, Decimal]
) -> list[str]:
    """The teams' positions must sum to the account's, and the account's to the broker's."""
    team_sum: dict[str, Decimal] = {}
    for book in books.values():
        for symbol, position in book.portfolio.positions.items():
            team_sum[symbol] = team_sum.get(symbol, ZERO) + position.quantity
    team_sum = {s: q for s, q in team_sum.items() if q != 0}
    ours = {s: q for s, q in account.positions().items() if q != 0}
    theirs = {s: q for s, q in broker_positions.items() if q != 0}
    problems = []
    for symbol in sorted(team_sum.keys() | ours.keys()):
        if team_sum.get(symbol, ZERO) != ours.get(symbol, ZERO):
            problems.append(
                f"{symbol}: the teams hold {team_sum.get(symbol, ZERO)}, "
                f"the account book {ours.get(symbol, ZERO)}"
            )
    for symbol in sorted(ours.keys() | theirs.keys()):
        if ours.get(symbol, ZERO) != theirs.get(symbol, ZERO):
            problems.append(
                f"{symbol}: the account book holds {ours.get(symbol, ZERO)}, "
                f"the broker {theirs.get(symbol, ZERO)}"
            )
    return problems
