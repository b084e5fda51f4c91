"""The shapes of ledger lines: one function per kind of line, so every writer agrees.

A team's text (messages, printed output, tracebacks, a rejected signal) enters a line only
here, cut to the caps of `app.domain.bounds`; the ledger writer caps whole lines too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from app.domain.bounds import (
    MAX_ERROR_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_PRINTED_CHARS,
    MAX_SIGNAL_CHARS,
    clip,
    signal_copy,
)
from app.domain.metrics import PerformanceMetrics
from app.domain.models import Allocation, Fill, Order, Rejection
from app.domain.portfolio import FillEffect, Portfolio, Position

DERIVED_QUANTUM = Decimal("0.000001")  # average costs and P&L derived by division


def derived(value: Decimal) -> Decimal:
    """Round a figure that came out of a division; cash and quantities stay exact."""
    return value.quantize(DERIVED_QUANTUM).normalize() if value else Decimal(0)


def trade_record(
    allocation: Allocation, effect: FillEffect, book: Portfolio, tick: datetime, version: str
) -> dict[str, Any]:
    return {
        "timestamp": allocation.timestamp,
        "tick": tick,
        "team_id": allocation.team_id,
        "trade_id": allocation.trade_id,
        "parent_client_order_id": allocation.parent_client_order_id,
        "symbol": allocation.symbol,
        "side": allocation.side,
        "quantity": allocation.quantity,
        "price": allocation.price,
        "notional": effect.notional,
        "fee": allocation.fee,
        "crossed": allocation.crossed,
        "realized_pnl": None if effect.realized_pnl is None else derived(effect.realized_pnl),
        "position_after": book.quantity(allocation.symbol),
        "cash_after": book.cash,
        "strategy_version": version,
    }


def account_trade_record(fill: Fill, effect: FillEffect, teams: list[str]) -> dict[str, Any]:
    return {
        "timestamp": fill.timestamp,
        "client_order_id": fill.client_order_id,
        "execution_id": fill.execution_id,
        "symbol": fill.symbol,
        "side": fill.side,
        "quantity": fill.quantity,
        "price": fill.price,
        "notional": effect.notional,
        "fee": fill.fee,
        "teams": teams,
    }


def portfolio_record(
    owner: str, moment: datetime, book: Portfolio, prices: Mapping[str, Decimal]
) -> dict[str, Any]:
    market_value = book.market_value(prices)
    return {
        "timestamp": moment,
        "owner": owner,
        "cash": book.cash,
        "market_value": market_value,
        "equity": book.cash + market_value,
        "realized_pnl": derived(book.realized_pnl),
        "unrealized_pnl": derived(book.unrealized_pnl(prices)),
        "fees": book.fees,
        "positions": {
            symbol: _position_record(position, prices.get(symbol))
            for symbol, position in sorted(book.positions.items())
        },
    }


def _position_record(position: Position, price: Decimal | None) -> dict[str, Any]:
    mark = price if price is not None else position.avg_cost
    return {
        "quantity": position.quantity,
        "avg_cost": derived(position.avg_cost),
        "price": mark,
        "market_value": position.market_value(mark),
        "unrealized_pnl": derived(position.unrealized_pnl(mark)),
    }


def metrics_record(
    owner: str,
    moment: datetime,
    metrics: PerformanceMetrics,
    rank: int | None,
    version: str | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    """A minute's metrics; a team's also say which version ran and whether it trades, so
    the leaderboard and a team's status read one line per team."""
    record = {"timestamp": moment, "owner": owner, "rank": rank, **metrics.to_record()}
    if version is not None:
        record["strategy_version"] = version
    if status is not None:
        record["status"] = status
    return record


def rejection_record(moment: datetime, rejection: Rejection, version: str) -> dict[str, Any]:
    return {
        "timestamp": moment,
        "team_id": rejection.team_id,
        "kind": "rejected_signal",
        "signal_index": rejection.signal_index,
        "message": clip(rejection.reason, MAX_MESSAGE_CHARS),
        "signal": _signal(rejection.signal),
        "strategy_version": version,
    }


def fault_record(
    moment: datetime, team_id: str, kind: str, message: str, printed: str = "", version: str = ""
) -> dict[str, Any]:
    """A strategy fault (exception, timeout, ...) or an order problem, for the team to read."""
    return {
        "timestamp": moment,
        "team_id": team_id,
        "kind": kind,
        "message": clip(message, MAX_ERROR_CHARS),
        "printed": clip(printed, MAX_PRINTED_CHARS),
        "strategy_version": version,
    }


def _signal(signal: object) -> str | None:
    """The bounded copy validation made, or one made here: never the team's raw object."""
    if signal is None:
        return None
    if type(signal) is str:
        return clip(signal, MAX_SIGNAL_CHARS)
    return signal_copy(signal)


def journal_submit_record(
    moment: datetime, order: Order, tick: datetime, leg: str, allocations: dict
) -> dict:
    return {
        "timestamp": moment,
        "event": "submit",
        "client_order_id": order.client_order_id,
        "tick": tick,
        "symbol": order.symbol,
        "leg": leg,
        "side": order.side,
        "quantity": order.quantity,
        "order_type": order.order_type,
        "limit_price": order.limit_price,
        "allocations": allocations,
    }


def journal_outcome_record(
    moment: datetime,
    client_order_id: str,
    status: str,
    filled: Decimal,
    avg_price: Decimal | None,
    message: str,
) -> dict[str, Any]:
    return {
        "timestamp": moment,
        "event": "outcome",
        "client_order_id": client_order_id,
        "status": status,
        "filled_qty": filled,
        "avg_price": avg_price,
        "message": message,
    }


def journal_allocations_record(
    moment: datetime,
    event: str,
    tick: datetime,
    allocations: list[Allocation],
    versions: Mapping[str, str],
    fill: Fill | None = None,
    leg: str | None = None,
) -> dict[str, Any]:
    """Written before a fill (event "fill") or a crossing (event "crossed") is booked.

    It holds everything needed to book it again: after a crash between this line and the
    ledger lines, recovery writes the lines that are missing (by trade ID), and no others.
    """
    record: dict[str, Any] = {
        "timestamp": moment,
        "event": event,
        "tick": tick,
        "leg": leg,
        "allocations": [
            {
                "team_id": a.team_id,
                "trade_id": a.trade_id,
                "parent_client_order_id": a.parent_client_order_id,
                "symbol": a.symbol,
                "side": a.side,
                "quantity": a.quantity,
                "price": a.price,
                "fee": a.fee,
                "timestamp": a.timestamp,
                "crossed": a.crossed,
                "strategy_version": versions.get(a.team_id, ""),
            }
            for a in allocations
        ],
    }
    if fill is not None:
        record["client_order_id"] = fill.client_order_id
        record["fill"] = {
            "execution_id": fill.execution_id,
            "symbol": fill.symbol,
            "side": fill.side,
            "quantity": fill.quantity,
            "price": fill.price,
            "fee": fill.fee,
            "timestamp": fill.timestamp,
        }
    return record
