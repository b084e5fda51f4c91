"""Reading Alpaca's request parameters: an order to submit, an order listing, a bar query.

Each parser turns what alpaca-py sends into checked values, or raises the AlpacaError
Alpaca would answer with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from app.broker.emulator.bars import (
    DEFAULT_LIMIT,
    TIMEFRAMES,
    BarQuery,
    bad_request,
    day_start,
    parse_time,
)
from app.broker.emulator.books import OrderRecord
from app.broker.emulator.clock import NEW_YORK
from app.broker.emulator.errors import AlpacaError, unprocessable
from app.domain.models import OrderType, Side
from app.domain.numbers import canonical

MAX_CLIENT_ID = 128


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A submitted order's fields, checked."""

    symbol: str
    side: Side
    quantity: Decimal
    order_type: OrderType
    limit_price: Decimal | None
    client_order_id: str | None

    @property
    def fractional(self) -> bool:
        return self.quantity != self.quantity.to_integral_value()


def _decimal(value: Any, name: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise unprocessable(f"invalid {name}") from None
    if not number.is_finite():
        raise unprocessable(f"invalid {name}")
    return canonical(number)  # JSON's 10.0 is the order's 10


def _choice(body: Mapping[str, Any], name: str, allowed: set[str], default: str | None) -> str:
    value = body.get(name, default)
    if value is None:
        raise unprocessable(f"{name} is required")
    if str(value) not in allowed:
        raise unprocessable(f"{name} {value!r} is not supported by the emulator")
    return str(value)


def parse_order(body: Any) -> OrderRequest:
    """POST /v2/orders: market or limit, day, by qty (numbers or strings)."""
    if not isinstance(body, Mapping):
        raise unprocessable("request body must be a JSON object")
    symbol = body.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise unprocessable("symbol is required")
    if body.get("notional") is not None:
        raise unprocessable("notional orders are not supported by the emulator (use qty)")
    if body.get("qty") is None:
        raise unprocessable("qty is required")
    quantity = _decimal(body["qty"], "qty")
    if quantity <= 0:
        raise unprocessable("qty must be > 0")
    side = _choice(body, "side", {"buy", "sell"}, None)
    kind = _choice(body, "type", {"market", "limit"}, body.get("order_type"))
    _choice(body, "time_in_force", {"day"}, None)
    if str(body.get("order_class") or "simple") != "simple":
        raise unprocessable("only simple orders are supported by the emulator")
    if body.get("extended_hours"):
        raise unprocessable("extended hours orders are not supported by the emulator")
    limit = None
    if kind == "limit":
        if body.get("limit_price") is None:
            raise unprocessable("limit_price is required for limit orders")
        limit = _decimal(body["limit_price"], "limit_price")
        if limit <= 0:
            raise unprocessable("limit_price must be > 0")
    client_id = body.get("client_order_id")
    if client_id is not None and (not isinstance(client_id, str) or not client_id):
        raise unprocessable("invalid client_order_id")
    if client_id is not None and len(client_id) > MAX_CLIENT_ID:
        raise unprocessable(f"client_order_id must be at most {MAX_CLIENT_ID} characters")
    return OrderRequest(symbol, Side(side), quantity, OrderType(kind), limit, client_id)


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """GET /v2/orders: which orders, how many, in which order."""

    status: str = "open"
    limit: int = 50
    after: datetime | None = None
    until: datetime | None = None
    descending: bool = True
    symbols: frozenset[str] | None = None
    side: str | None = None

    def matches(self, record: OrderRecord) -> bool:
        if self.status == "open" and not record.is_open:
            return False
        if self.status == "closed" and record.is_open:
            return False
        if self.symbols is not None and record.order.symbol not in self.symbols:
            return False
        if self.side is not None and record.order.side.value != self.side:
            return False
        if self.after is not None and record.created_at <= self.after:
            return False
        return self.until is None or record.created_at < self.until


def _int(value: str | None, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise unprocessable(f"invalid {name}: {value!r}") from None


def _symbols(value: str | None) -> frozenset[str] | None:
    if not value:
        return None
    return frozenset(s.strip() for s in value.split(",") if s.strip())


def parse_order_filter(params: Mapping[str, str]) -> OrderFilter:
    status = params.get("status") or "open"
    if status not in {"open", "closed", "all"}:
        raise unprocessable(f"invalid status: {status!r}")
    limit = _int(params.get("limit"), "limit", 50)
    if limit < 1:
        raise unprocessable("limit must be >= 1")
    direction = params.get("direction") or "desc"
    if direction not in {"asc", "desc"}:
        raise unprocessable(f"invalid direction: {direction!r}")
    side = params.get("side") or None
    if side not in {None, "buy", "sell"}:
        raise unprocessable(f"invalid side: {side!r}")
    return OrderFilter(
        status=status,
        limit=min(limit, 500),
        after=_time(params.get("after"), "after"),
        until=_time(params.get("until"), "until"),
        descending=direction == "desc",
        symbols=_symbols(params.get("symbols")),
        side=side,
    )


def _time(value: str | None, name: str) -> datetime | None:
    try:
        return parse_time(value, name)
    except AlpacaError as exc:
        raise unprocessable(exc.message) from None


def parse_bar_query(params: Mapping[str, str], now: datetime, max_page: int) -> BarQuery:
    """GET /v2/stocks/bars: 1-minute bars only; start defaults to today, end to now."""
    symbols = _symbols(params.get("symbols"))
    if not symbols:
        raise bad_request("symbols is required")
    timeframe = params.get("timeframe") or ""
    if timeframe not in TIMEFRAMES:
        raise unprocessable(f"timeframe {timeframe!r} is not supported (1Min only)", 42210000)
    limit = _int(params.get("limit"), "limit", DEFAULT_LIMIT)
    if limit < 1:
        raise bad_request("limit must be >= 1")
    sort = params.get("sort") or "asc"
    if sort not in {"asc", "desc"}:
        raise bad_request(f"invalid sort: {sort!r}")
    start = parse_time(params.get("start"), "start") or day_start(now, NEW_YORK)
    end = parse_time(params.get("end"), "end") or now
    return BarQuery(
        symbols=tuple(sorted(symbols)),
        start=start,
        end=end,
        limit=min(limit, max_page),
        page_token=params.get("page_token") or None,
        descending=sort == "desc",
    )
