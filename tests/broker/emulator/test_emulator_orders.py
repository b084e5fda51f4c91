"""The emulator driven end to end by the real alpaca-py TradingClient over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import (
    AccountStatus,
    OrderSide,
    OrderStatus,
    PositionSide,
    QueryOrderStatus,
    TimeInForce,
)
from alpaca.trading.requests import GetOrdersRequest, LimitOrderRequest, MarketOrderRequest

from app.broker.simulator import FillModel, SimulatedBroker
from app.domain.models import Order, OrderType, Side
from tests.conftest import KEY, OPEN, SYMBOLS, Emu

BUY, SELL = OrderSide.BUY, OrderSide.SELL
D = Decimal


def market(symbol: str, qty: float, side: OrderSide, cid: str) -> MarketOrderRequest:
    return MarketOrderRequest(
        symbol=symbol, qty=qty, side=side, time_in_force=TimeInForce.DAY, client_order_id=cid
    )


def limit(symbol: str, qty: float, side: OrderSide, price: float, cid: str) -> LimitOrderRequest:
    return LimitOrderRequest(
        symbol=symbol,
        qty=qty,
        side=side,
        limit_price=price,
        time_in_force=TimeInForce.DAY,
        client_order_id=cid,
    )


def refusal(call: object) -> APIError:
    with pytest.raises(APIError) as caught:
        call()  # type: ignore[operator]
    return caught.value


def test_account_clock_and_assets_parse_in_alpaca_py(emu: Emu) -> None:
    client = emu.trading()
    account = client.get_account()
    assert account.status is AccountStatus.ACTIVE
    assert (account.cash, account.equity, account.multiplier) == ("100000", "100000", "2")
    assert account.shorting_enabled
    assert not account.trading_blocked
    assert isinstance(account.id, UUID)
    clock = client.get_clock()
    assert clock.timestamp == OPEN
    assert clock.is_open
    assert clock.next_close == datetime(2026, 3, 12, 20, 0, tzinfo=UTC)
    assert clock.next_open == datetime(2026, 3, 13, 13, 30, tzinfo=UTC)
    assets = client.get_all_assets()
    assert sorted(a.symbol for a in assets) == list(SYMBOLS)
    qqq = client.get_asset("QQQ")
    assert not qqq.shortable
    assert not qqq.easy_to_borrow
    assert qqq.fractionable
    assert client.get_asset(str(qqq.id)).symbol == "QQQ"  # by id, stable per symbol
    assert client.get_asset("SPY").exchange.value == "ARCA"
    (day,) = client.get_calendar()
    assert (day.open.hour, day.close.hour) == (9, 16)  # alpaca-py: naive New York times


def reference_fills(orders: list[Order], emu: Emu, minutes: int) -> dict[str, list]:
    """What SimulatedBroker alone does with the same orders and the same bars."""
    broker = SimulatedBroker(FillModel(), allow_short=True, allow_fractional=True)
    for order in orders:
        assert broker.submit(order).status.value == "new"
    fills: dict[str, list] = {}
    for n in range(minutes):
        at = OPEN + timedelta(minutes=n)
        broker.on_bars(at, emu.state.market.bars(at))
        for event in broker.poll():
            if event.fill:
                fills.setdefault(event.client_order_id, []).append(event.fill)
    return fills


def test_market_and_limit_orders_fill_like_the_simulator(emu: Emu) -> None:
    client = emu.trading()
    sent = client.submit_order(market("SPY", 10, BUY, "mkt-spy"))
    assert sent.status is OrderStatus.ACCEPTED
    assert sent.client_order_id == "mkt-spy"
    assert sent.filled_qty == "0"
    assert sent.filled_avg_price is None
    client.submit_order(limit("AAPL", 5, BUY, 257.0, "lmt-aapl"))
    assert client.get_order_by_client_id("mkt-spy").status is OrderStatus.NEW
    emu.advance(15)
    expected = reference_fills(
        [
            Order("mkt-spy", "SPY", Side.BUY, D(10), submitted_at=OPEN),
            Order("lmt-aapl", "AAPL", Side.BUY, D(5), OrderType.LIMIT, D("257.0"), OPEN),
        ],
        emu,
        15,
    )
    spy, aapl = client.get_order_by_client_id("mkt-spy"), client.get_order_by_client_id("lmt-aapl")
    assert spy.status is OrderStatus.FILLED
    assert spy.filled_qty == "10"
    assert D(spy.filled_avg_price) == expected["mkt-spy"][0].price == D("671.16")  # 13:30 open
    assert aapl.status is OrderStatus.FILLED
    assert aapl.limit_price == "257"
    assert D(aapl.filled_avg_price) == expected["lmt-aapl"][0].price == D(257)
    assert aapl.filled_at == expected["lmt-aapl"][0].timestamp == OPEN + timedelta(minutes=12)
    positions = {p.symbol: p for p in client.get_all_positions()}
    assert positions["SPY"].qty == "10"
    assert positions["SPY"].side is PositionSide.LONG
    assert positions["SPY"].avg_entry_price == "671.16"
    assert positions["SPY"].cost_basis == "6711.6"
    assert positions["AAPL"].qty == "5"
    last_close = emu.state.market.bars(OPEN + timedelta(minutes=14))["SPY"].close
    assert D(positions["SPY"].current_price) == D(repr(last_close))
    cash = D(100_000) - 10 * D("671.16") - 5 * D(257)
    account = client.get_account()
    assert D(account.cash) == cash
    assert D(account.equity) == cash + D(positions["SPY"].market_value) + D(
        positions["AAPL"].market_value
    )


def test_lookups_and_a_duplicate_client_order_id(emu: Emu) -> None:
    client = emu.trading()
    sent = client.submit_order(market("SPY", 1, BUY, "dup-1"))
    assert client.get_order_by_id(sent.id).client_order_id == "dup-1"
    error = refusal(lambda: client.submit_order(market("SPY", 1, BUY, "dup-1")))
    assert (error.status_code, error.code) == (422, 40010001)
    assert error.message == "client_order_id must be unique"
    emu.advance(1)
    error = refusal(lambda: client.submit_order(market("AAPL", 2, BUY, "dup-1")))  # for ever
    assert error.code == 40010001
    assert refusal(lambda: client.get_order_by_client_id("nope")).status_code == 404
    assert refusal(lambda: client.get_order_by_id(uuid4())).status_code == 404
    every = emu.admin("GET", "orders")
    assert [o["client_order_id"] for o in every] == ["dup-1"]
    assert emu.admin("GET", "state")["duplicates_refused"] == 2


def test_wash_trade_flip_and_buying_power_refusals(emu: Emu) -> None:
    client = emu.trading()
    resting = client.submit_order(limit("SPY", 5, BUY, 600.0, "rest-buy"))
    error = refusal(lambda: client.submit_order(market("SPY", 5, SELL, "wash")))
    assert (error.status_code, error.code) == (403, 40310000)
    assert error.message == "potential wash trade detected. use complex orders"
    client.cancel_order_by_id(resting.id)
    client.submit_order(market("SPY", 10, BUY, "long-10"))
    emu.advance(1)
    error = refusal(lambda: client.submit_order(market("SPY", 15, SELL, "flip")))
    assert (error.status_code, error.message) == (403, "insufficient qty available for order")
    client.submit_order(market("SPY", 10, SELL, "close-10"))  # closing is fine
    error = refusal(lambda: client.submit_order(market("AAPL", 1000, BUY, "too-big")))
    assert (error.status_code, error.message) == (403, "insufficient buying power")
    emu.advance(1)
    assert client.get_all_positions() == []
    refused = [r["client_order_id"] for r in emu.admin("GET", "refusals")]
    assert refused == ["wash", "flip", "too-big"]


def test_shorting_and_fractional_rules(emu: Emu) -> None:
    client = emu.trading()
    error = refusal(lambda: client.submit_order(market("QQQ", 1, SELL, "short-qqq")))
    assert (error.status_code, error.message) == (403, "asset QQQ is not shortable")
    error = refusal(lambda: client.submit_order(market("SPY", 0.5, SELL, "frac-short")))
    assert (error.status_code, error.message) == (403, "fractional orders are not allowed to short")
    error = refusal(lambda: client.submit_order(limit("AAPL", 0.5, BUY, 250.0, "frac-limit")))
    assert error.status_code == 422
    client.submit_order(market("SPY", 3, SELL, "short-spy"))
    client.submit_order(market("AAPL", 0.5, BUY, "frac-buy"))
    emu.advance(2)
    spy = client.get_open_position("SPY")
    assert (spy.qty, spy.side, spy.avg_entry_price) == ("-3", PositionSide.SHORT, "671.16")
    assert D(spy.market_value) < 0
    assert D(spy.cost_basis) == D("-2013.48")
    assert client.get_open_position("AAPL").qty == "0.5"
    account = client.get_account()
    assert D(account.short_market_value) == D(spy.market_value)
    assert D(account.cash) == D(100_000) + 3 * D("671.16") - D("0.5") * D("258.64")


def test_cancel_one_and_cancel_all(emu: Emu) -> None:
    client = emu.trading()
    first = client.submit_order(limit("SPY", 1, BUY, 600.0, "c-1"))
    client.submit_order(limit("AAPL", 1, BUY, 200.0, "c-2"))
    client.submit_order(limit("QQQ", 1, BUY, 500.0, "c-3"))
    assert client.cancel_order_by_id(first.id) is None
    cancelled = client.get_order_by_id(first.id)
    assert cancelled.status is OrderStatus.CANCELED
    assert cancelled.canceled_at == OPEN
    error = refusal(lambda: client.cancel_order_by_id(first.id))
    assert (error.status_code, error.message) == (422, 'order is already in "canceled" state')
    assert refusal(lambda: client.cancel_order_by_id(uuid4())).status_code == 404
    answers = client.cancel_orders()
    assert sorted(a.status for a in answers) == [200, 200]
    assert {client.get_order_by_id(a.id).client_order_id for a in answers} == {"c-2", "c-3"}
    assert client.get_orders() == []  # default: open orders


def test_order_listing_filters(emu: Emu) -> None:
    client = emu.trading()
    client.submit_order(limit("SPY", 1, BUY, 600.0, "l-1"))
    emu.advance(1)
    client.submit_order(limit("AAPL", 1, BUY, 200.0, "l-2"))
    client.submit_order(market("QQQ", 1, BUY, "l-3"))
    emu.advance(1)

    def ids(**filters: object) -> list[str]:
        return [o.client_order_id for o in client.get_orders(GetOrdersRequest(**filters))]

    assert ids() == ["l-2", "l-1"]  # open, newest first
    assert ids(status=QueryOrderStatus.CLOSED) == ["l-3"]
    assert ids(status=QueryOrderStatus.ALL, direction="asc") == ["l-1", "l-2", "l-3"]
    assert ids(status=QueryOrderStatus.ALL, limit=1) == ["l-3"]
    assert ids(status=QueryOrderStatus.ALL, symbols=["SPY", "QQQ"]) == ["l-3", "l-1"]
    assert ids(status=QueryOrderStatus.ALL, side=OrderSide.SELL) == []
    later = OPEN + timedelta(seconds=30)
    assert ids(status=QueryOrderStatus.ALL, after=later, direction="asc") == ["l-2", "l-3"]
    assert ids(status=QueryOrderStatus.ALL, until=later) == ["l-1"]


def test_day_orders_expire_at_the_close(emu: Emu) -> None:
    client = emu.trading()
    client.submit_order(limit("SPY", 2, BUY, 100.0, "never"))
    summary = emu.advance(500)
    assert summary["advanced"] == 390
    assert summary["finished"]
    assert not summary["is_open"]
    order = client.get_order_by_client_id("never")
    assert order.status is OrderStatus.EXPIRED
    assert order.filled_qty == "0"
    assert order.expired_at == datetime(2026, 3, 12, 20, 0, tzinfo=UTC)
    clock = client.get_clock()
    assert not clock.is_open
    assert clock.next_open == datetime(2026, 3, 13, 13, 30, tzinfo=UTC)


def test_positions_lookup_and_close(emu: Emu) -> None:
    client = emu.trading()
    assert refusal(lambda: client.get_open_position("SPY")).status_code == 404
    client.submit_order(market("SPY", 4, BUY, "p-1"))
    emu.advance(1)
    position = client.get_open_position("SPY")
    assert client.get_open_position(str(position.asset_id)).qty == "4"
    closing = client.close_position("SPY")
    assert closing.side is OrderSide.SELL
    assert closing.qty == "4"
    emu.advance(1)
    assert client.get_all_positions() == []


def test_wrong_keys_are_refused(emu: Emu) -> None:
    from alpaca.trading.client import TradingClient

    stranger = TradingClient(KEY, "wrong-secret", paper=True, url_override=emu.url)
    error = refusal(stranger.get_account)
    assert (error.status_code, error.code, error.message) == (
        401,
        40110000,
        "request is not authorized",
    )
    assert emu.raw("GET", "/v2/account", headers={}).status_code == 401
    assert emu.raw("POST", "/_emulator/reset", headers={}).status_code == 401
