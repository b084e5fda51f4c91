"""Alpaca's side of the adapter: the requests it builds and how it reads error answers."""

from __future__ import annotations

from decimal import Decimal

from alpaca.common.exceptions import APIError
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest

from app.broker.alpaca_requests import api_code, api_message, order_request
from app.domain.models import Order, OrderType, Side


def test_a_limit_order_becomes_a_day_limit_request_with_its_client_order_id() -> None:
    order = Order("cid-1", "AAPL", Side.SELL, Decimal(3), OrderType.LIMIT, Decimal("190.5"))
    request = order_request(order)
    assert isinstance(request, LimitOrderRequest)
    assert (request.client_order_id, request.qty, request.limit_price) == ("cid-1", 3, 190.5)
    assert request.side.value == "sell"
    assert request.time_in_force.value == "day"


def test_a_market_order_becomes_a_market_request() -> None:
    request = order_request(Order("cid-2", "SPY", Side.BUY, Decimal("0.5")))
    assert isinstance(request, MarketOrderRequest)
    assert (request.qty, request.side.value) == (0.5, "buy")


def test_an_error_answer_is_read_for_its_code_and_message_or_cut_short() -> None:
    duplicate = APIError('{"code": 40010001, "message": "client_order_id must be unique"}')
    assert api_code(duplicate) == 40010001
    assert api_message(duplicate) == "client_order_id must be unique"
    page = APIError("<html>" + "x" * 1000 + "</html>")
    assert api_code(page) is None
    assert len(api_message(page)) <= 300
