"""Alpaca's side of the broker adapter: order requests, error answers, the shared pace.

What `app.broker.alpaca` needs to speak to alpaca-py's TradingClient and read what comes
back, kept apart so the adapter itself reads as the order life cycle it follows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from alpaca.common.exceptions import APIError
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest
from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from app.domain.models import Order, OrderType, Side


class TransientError(ConnectionError):
    """The broker could not answer just now (429, 5xx, network): try again later."""


@dataclass(slots=True)
class Pacer:
    """One moving-window limit shared by every request of the account."""

    per_minute: int
    sleep: Callable[[float], None]
    _limiter: MovingWindowRateLimiter = field(init=False)
    _item: RateLimitItemPerMinute = field(init=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._item = RateLimitItemPerMinute(self.per_minute)

    def wait(self) -> None:
        while True:
            with self._lock:  # concurrent submits share the one limit
                if self._limiter.hit(self._item, "account"):
                    return
                reset, _remaining = self._limiter.get_window_stats(self._item, "account")
            self.sleep(max(0.01, reset - time.time()))


def order_request(order: Order) -> MarketOrderRequest | LimitOrderRequest:
    common = {
        "symbol": order.symbol,
        "qty": float(order.quantity),
        "side": OrderSide.BUY if order.side is Side.BUY else OrderSide.SELL,
        "time_in_force": TimeInForce.DAY,
        "client_order_id": order.client_order_id,
    }
    if order.order_type is OrderType.LIMIT:
        return LimitOrderRequest(limit_price=float(order.limit_price or 0), **common)
    return MarketOrderRequest(**common)


def status_text(answer: Any) -> str:
    return str(answer.status.value if hasattr(answer.status, "value") else answer.status)


def status_code(error: APIError) -> int | None:
    try:
        return int(error.status_code)
    except (TypeError, ValueError, AttributeError):
        return None


def api_code(error: APIError) -> int | None:
    try:
        return int(error.code)
    except (TypeError, ValueError, AttributeError):  # an HTML error page has no JSON code
        return None


def api_message(error: APIError) -> str:
    try:
        return str(error.message)
    except (ValueError, AttributeError):
        return str(error)[:300]
