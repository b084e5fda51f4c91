"""The simulated broker: the fill model, partial fills, and what Alpaca would refuse."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.broker.simulator import FillModel, SimulatedBroker
from app.domain.models import Bar, Order, OrderEvent, OrderStatus, OrderType, Side

D = Decimal
DAY = date(2026, 3, 12)
T0 = datetime(2026, 3, 12, 14, 0, tzinfo=UTC)
BUY, SELL = Side.BUY, Side.SELL


def minute(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


def bar(
    symbol: str,
    n: int,
    open_: float,
    high: float | None = None,
    low: float | None = None,
    close: float | None = None,
    volume: float = 1e6,
) -> Bar:
    high = open_ if high is None else high
    low = open_ if low is None else low
    close = open_ if close is None else close
    return Bar(symbol, minute(n), open_, high, low, close, volume)


def market(
    cid: str, side: Side, quantity: str | int, symbol: str = "AAPL", at: int | None = 1
) -> Order:
    """A market order sent when the bar of minute `at - 1` closed (submitted_at = minute(at))."""
    submitted = None if at is None else minute(at)
    return Order(cid, symbol, side, D(quantity), submitted_at=submitted)


def limit_order(
    cid: str, side: Side, quantity: str | int, price: str, symbol: str = "AAPL", at: int = 1
) -> Order:
    return Order(cid, symbol, side, D(quantity), OrderType.LIMIT, D(price), minute(at))


def feed(broker: SimulatedBroker, n: int, *bars: Bar) -> list[OrderEvent]:
    broker.on_bars(minute(n), {b.symbol: b for b in bars})
    return broker.poll()


def accepted(broker: SimulatedBroker, order: Order) -> None:
    event = broker.submit(order)
    assert event == OrderEvent(order.client_order_id, OrderStatus.NEW), event


def holding(broker: SimulatedBroker, symbol: str, quantity: int, price: float = 100.0) -> None:
    """Give the broker's account a position by trading it (shorts need allow_short)."""
    side = BUY if quantity > 0 else SELL
    cid = f"seed-{symbol}-{quantity}"
    accepted(broker, market(cid, side, abs(quantity), symbol, at=None))
    [event] = feed(broker, 0, bar(symbol, 0, price))
    assert event.status is OrderStatus.FILLED


# --- market orders -------------------------------------------------------------------------


def test_a_market_order_fills_at_the_open_of_the_next_bar() -> None:
    # Sent when the bar of 14:00 closed (submitted_at 14:01): the 14:00 bar is history.
    broker = SimulatedBroker()
    accepted(broker, market("a1", BUY, 10))
    assert feed(broker, 0, bar("AAPL", 0, 100.0)) == []
    [event] = feed(broker, 1, bar("AAPL", 1, 101.25, 102, 101, 101.5))
    assert event.client_order_id == "a1"
    assert event.status is OrderStatus.FILLED
    fill = event.fill
    assert fill is not None
    assert (fill.symbol, fill.side, fill.quantity, fill.price) == ("AAPL", BUY, D(10), D("101.25"))
    assert fill.timestamp == minute(1)
    assert fill.fee == 0
    assert broker.open_orders() == []
    assert broker.positions() == {"AAPL": D(10)}


def test_a_gap_waits_for_the_symbols_next_bar() -> None:
    broker = SimulatedBroker()
    accepted(broker, market("a1", BUY, 10))
    assert feed(broker, 1, bar("MSFT", 1, 400.0)) == []  # no AAPL bar at 14:01
    assert feed(broker, 2) == []
    assert [o.client_order_id for o in broker.open_orders()] == ["a1"]
    [event] = feed(broker, 3, bar("AAPL", 3, 99.5))
    assert event.fill is not None
    assert event.fill.price == D("99.5")
    assert event.fill.timestamp == minute(3)


def test_a_stale_bar_delivered_late_does_not_fill() -> None:
    broker = SimulatedBroker()
    accepted(broker, market("a1", BUY, 10, at=5))
    assert feed(broker, 5, bar("AAPL", 4, 100.0)) == []  # a 14:04 bar, late
    [event] = feed(broker, 5, bar("AAPL", 5, 100.5))
    assert event.fill is not None
    assert event.fill.price == D("100.5")


def test_an_order_without_submitted_at_fills_on_the_next_bars() -> None:
    broker = SimulatedBroker()
    accepted(broker, market("a1", BUY, 3, at=None))
    [event] = feed(broker, 0, bar("AAPL", 0, 50.0))
    assert event.status is OrderStatus.FILLED


def test_poll_hands_each_event_out_once() -> None:
    broker = SimulatedBroker()
    accepted(broker, market("a1", BUY, 3))
    broker.on_bars(minute(1), {"AAPL": bar("AAPL", 1, 50.0)})
    assert len(broker.poll()) == 1
    assert broker.poll() == []


@pytest.mark.parametrize(
    ("side", "open_", "bps", "price"),
    [
        (BUY, 100.0, "5", "100.05"),  # 100 × 1.0005
        (SELL, 100.0, "5", "99.95"),  # 100 × 0.9995
        (BUY, 33.33, "7", "33.3534"),  # 33.353331 → up
        (SELL, 33.33, "7", "33.3066"),  # 33.306669 → down
        (BUY, 100.00005, "0", "100.0001"),  # up to 4 decimals
        (SELL, 100.00005, "0", "100"),  # down to 4 decimals, spelt canonically
        (BUY, 258.64, "0", "258.64"),  # the float's published value, not 258.6399…
    ],
)
def test_slippage_worsens_the_price_and_rounds_against_the_trader(
    side: Side, open_: float, bps: str, price: str
) -> None:
    broker = SimulatedBroker(FillModel(slippage_bps=D(bps)), allow_short=True)
    accepted(broker, market("a1", side, 10))
    [event] = feed(broker, 1, bar("AAPL", 1, open_, 300, 1))
    assert event.fill is not None
    assert str(event.fill.price) == price


@pytest.mark.parametrize(
    ("quantity", "per_share", "bps", "fee"),
    [
        (101, "0.005", "1", "0.61"),  # 0.505 + 101 × 10 × 0.0001 = 0.606 → 0.61
        (1, "0.005", "0", "0.01"),  # 0.005 → half up → 0.01 (half-even would say 0.00)
        (1, "0.004", "0", "0.00"),
        (3, "0", "10", "0.03"),  # 30 × 0.001 = 0.03
        (100, "0", "0", "0.00"),
    ],
)
def test_fees_are_per_share_plus_bps_in_cents_rounded_half_up(
    quantity: int, per_share: str, bps: str, fee: str
) -> None:
    model = FillModel(fee_per_share=D(per_share), fee_bps=D(bps))
    broker = SimulatedBroker(model)
    accepted(broker, market("a1", BUY, quantity))
    [event] = feed(broker, 1, bar("AAPL", 1, 10.0))
    assert event.fill is not None
    assert str(event.fill.fee) == fee


def test_the_fee_is_charged_on_the_slipped_price() -> None:
    # 100 × 100.10 (10 bps slippage) × 10 bps = 10.01.
    broker = SimulatedBroker(FillModel(slippage_bps=D(10), fee_bps=D(10)))
    accepted(broker, market("a1", BUY, 100))
    [event] = feed(broker, 1, bar("AAPL", 1, 100.0))
    assert event.fill is not None
    assert event.fill.price == D("100.1")
    assert event.fill.fee == D("10.01")


def test_fill_model_fee_directly() -> None:
    model = FillModel(fee_per_share=D("0.0035"), fee_bps=D("0.5"))
    # 1000 × 0.0035 + 1000 × 20 × 0.00005 = 3.5 + 1.0 = 4.50
    assert model.fee(D(1000), D(20)) == D("4.50")
    assert FillModel().fee(D(1000), D(20)) == D("0.00")


# --- limit orders --------------------------------------------------------------------------


def test_a_buy_limit_that_opens_through_fills_at_the_open() -> None:
    broker = SimulatedBroker()
    accepted(broker, limit_order("l1", BUY, 5, "100"))
    [event] = feed(broker, 1, bar("AAPL", 1, 99.0, 100.5, 98.5))
    assert event.fill is not None
    assert event.fill.price == D("99.0")


def test_a_buy_limit_that_trades_through_fills_at_the_limit() -> None:
    broker = SimulatedBroker()
    accepted(broker, limit_order("l1", BUY, 5, "100"))
    [event] = feed(broker, 1, bar("AAPL", 1, 101.0, 101.5, 99.5))
    assert event.fill is not None
    assert event.fill.price == D("100")


def test_a_buy_limit_waits_while_the_market_stays_above() -> None:
    broker = SimulatedBroker()
    accepted(broker, limit_order("l1", BUY, 5, "100"))
    assert feed(broker, 1, bar("AAPL", 1, 101.0, 101.5, 100.01)) == []
    assert [o.client_order_id for o in broker.open_orders()] == ["l1"]
    [event] = feed(broker, 2, bar("AAPL", 2, 100.5, 100.6, 100.0))  # low touches 100
    assert event.fill is not None
    assert event.fill.price == D("100")


def test_a_sell_limit_fills_at_the_open_or_at_the_limit_or_waits() -> None:
    broker = SimulatedBroker()
    holding(broker, "AAPL", 30)
    accepted(broker, limit_order("s1", SELL, 10, "105"))
    assert feed(broker, 1, bar("AAPL", 1, 104.0, 104.99, 103.0)) == []
    [through] = feed(broker, 2, bar("AAPL", 2, 104.0, 105.5, 103.0))
    assert through.fill is not None
    assert through.fill.price == D("105")
    accepted(broker, limit_order("s2", SELL, 10, "105", at=3))
    [gap_up] = feed(broker, 3, bar("AAPL", 3, 106.0, 107.0, 105.5))
    assert gap_up.fill is not None
    assert gap_up.fill.price == D("106.0")


def test_a_limit_order_gets_no_slippage() -> None:
    broker = SimulatedBroker(FillModel(slippage_bps=D(50)))
    accepted(broker, limit_order("l1", BUY, 5, "100"))
    [event] = feed(broker, 1, bar("AAPL", 1, 99.0, 100.0, 98.0))
    assert event.fill is not None
    assert event.fill.price == D("99.0")


def test_a_limit_order_ignores_bars_before_it_was_sent() -> None:
    broker = SimulatedBroker()
    accepted(broker, limit_order("l1", BUY, 5, "100", at=2))
    assert feed(broker, 1, bar("AAPL", 1, 90.0)) == []
    [event] = feed(broker, 2, bar("AAPL", 2, 95.0))
    assert event.fill is not None


# --- partial fills -------------------------------------------------------------------------


def test_max_participation_fills_over_several_bars() -> None:
    # 10 % of 100 shares a bar → 10, 10, then the last 5.
    broker = SimulatedBroker(FillModel(max_participation=D("0.1")))
    accepted(broker, market("a1", BUY, 25))
    events = []
    for n, price in ((1, 10.0), (2, 11.0), (3, 12.0)):
        events += feed(broker, n, bar("AAPL", n, price, volume=100))
    assert [e.status for e in events] == [
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.FILLED,
    ]
    fills = [e.fill for e in events]
    assert all(f is not None for f in fills)
    assert [(f.quantity, f.price) for f in fills if f] == [
        (D(10), D("10.0")),
        (D(10), D("11.0")),
        (D(5), D("12.0")),
    ]
    assert len({f.execution_id for f in fills if f}) == 3
    assert broker.open_orders() == []
    assert broker.positions() == {"AAPL": D(25)}


def test_a_partially_filled_order_stays_open() -> None:
    broker = SimulatedBroker(FillModel(max_participation=D("0.5")))
    accepted(broker, market("a1", BUY, 100))
    [event] = feed(broker, 1, bar("AAPL", 1, 10.0, volume=60))
    assert event.status is OrderStatus.PARTIALLY_FILLED
    assert event.fill is not None
    assert event.fill.quantity == D(30)
    assert [o.client_order_id for o in broker.open_orders()] == ["a1"]


def test_a_bar_without_volume_fills_nothing_under_a_participation_cap() -> None:
    broker = SimulatedBroker(FillModel(max_participation=D("0.1")))
    accepted(broker, market("a1", BUY, 10))
    assert feed(broker, 1, bar("AAPL", 1, 10.0, volume=0)) == []
    assert feed(broker, 2, bar("AAPL", 2, 10.0, volume=float("nan"))) == []
    assert [o.client_order_id for o in broker.open_orders()] == ["a1"]


def test_a_thin_bar_still_fills_one_quantum() -> None:
    # 10 % of 5 shares is 0.5, floored to 0 whole shares; the simulator still lets one
    # share through so that an order always progresses (documented, see the report).
    broker = SimulatedBroker(FillModel(max_participation=D("0.1")))
    accepted(broker, market("a1", BUY, 10))
    [event] = feed(broker, 1, bar("AAPL", 1, 10.0, volume=5))
    assert event.fill is not None
    assert event.fill.quantity == D(1)


def test_fractional_participation_with_fractional_trading() -> None:
    # 10 % of 15 shares = 1.5 a bar: a fractional order takes 1.5, a whole-share order
    # takes whole shares only (1 a bar), even where fractions are allowed.
    broker = SimulatedBroker(FillModel(max_participation=D("0.1")), allow_fractional=True)
    accepted(broker, market("frac", BUY, "2.5"))
    accepted(broker, market("whole", BUY, 2, symbol="MSFT"))
    fills = []
    for minute in (1, 2):
        fills += feed(broker, minute, bar("AAPL", minute, 10.0, volume=15),
                      bar("MSFT", minute, 10.0, volume=15))  # fmt: skip
    by_order = {}
    for event in fills:
        by_order.setdefault(event.client_order_id, []).append(event.fill.quantity)
    assert by_order == {"frac": [D("1.5"), D("1.0")], "whole": [D(1), D(1)]}


def test_a_single_order_can_be_capped_and_cancelled() -> None:
    broker = SimulatedBroker()
    accepted(broker, market("slow", BUY, 10))
    broker.cap_participation("slow", D("0.1"))
    [event] = feed(broker, 1, bar("AAPL", 1, 10.0, volume=30))
    assert event.fill.quantity == D(3)
    assert broker.cancel("slow") is True
    assert feed(broker, 2, bar("AAPL", 2, 10.0, volume=30)) == []
    assert broker.cancel("slow") is False


# --- refusals ------------------------------------------------------------------------------


def test_a_duplicate_client_order_id_is_rejected_while_open() -> None:
    broker = SimulatedBroker()
    accepted(broker, market("dup", BUY, 1))
    event = broker.submit(market("dup", BUY, 1))
    assert event.status is OrderStatus.REJECTED
    assert event.message == "client_order_id must be unique"
    assert len(broker.open_orders()) == 1


def test_a_duplicate_client_order_id_is_rejected_after_the_first_filled() -> None:
    broker = SimulatedBroker()
    accepted(broker, market("dup", BUY, 1))
    feed(broker, 1, bar("AAPL", 1, 10.0))
    event = broker.submit(market("dup", BUY, 1, at=2))
    assert event.status is OrderStatus.REJECTED
    assert "client_order_id must be unique" in event.message
    assert feed(broker, 2, bar("AAPL", 2, 10.0)) == []
    assert broker.positions() == {"AAPL": D(1)}


def test_a_duplicate_client_order_id_is_rejected_after_the_first_expired() -> None:
    broker = SimulatedBroker()
    accepted(broker, market("dup", BUY, 1))
    broker.end_session(DAY)
    assert broker.submit(market("dup", BUY, 1)).message == "client_order_id must be unique"


def test_an_opposite_order_on_a_symbol_with_an_open_order_is_a_wash_trade() -> None:
    broker = SimulatedBroker()
    holding(broker, "AAPL", 50)
    accepted(broker, market("b1", BUY, 5))
    event = broker.submit(market("s1", SELL, 5))
    assert event.status is OrderStatus.REJECTED
    assert "wash trade" in event.message
    # Another symbol, or the same side, is fine.
    accepted(broker, market("b2", BUY, 5))
    accepted(broker, market("m1", BUY, 5, "MSFT"))


def test_no_wash_trade_once_the_opposite_order_filled() -> None:
    broker = SimulatedBroker()
    accepted(broker, market("b1", BUY, 5))
    feed(broker, 1, bar("AAPL", 1, 10.0))
    accepted(broker, market("s1", SELL, 5, at=2))


def test_a_long_to_short_flip_in_one_order_is_refused() -> None:
    broker = SimulatedBroker(allow_short=True)
    holding(broker, "AAPL", 10)
    event = broker.submit(market("s1", SELL, 15))
    assert event.status is OrderStatus.REJECTED
    assert "insufficient qty" in event.message
    accepted(broker, market("s2", SELL, 10))  # closing exactly is fine


def test_a_short_to_long_flip_in_one_order_is_refused() -> None:
    broker = SimulatedBroker(allow_short=True)
    holding(broker, "AAPL", -10)
    event = broker.submit(market("b1", BUY, 15))
    assert event.status is OrderStatus.REJECTED
    assert "insufficient qty" in event.message
    accepted(broker, market("b2", BUY, 10))


def test_open_orders_on_the_same_side_count_towards_a_flip() -> None:
    # Long 10 with a sell of 6 working: another sell of 6 would end at −2.
    broker = SimulatedBroker(allow_short=True)
    holding(broker, "AAPL", 10)
    accepted(broker, market("s1", SELL, 6))
    event = broker.submit(market("s2", SELL, 6))
    assert event.status is OrderStatus.REJECTED
    assert "insufficient qty" in event.message
    accepted(broker, market("s3", SELL, 4))


def test_a_close_then_open_pair_goes_through_once_the_close_filled() -> None:
    # What the host does for a flip: the open leg only after the close leg filled.
    broker = SimulatedBroker(allow_short=True)
    holding(broker, "AAPL", 10)
    accepted(broker, market("c", SELL, 10))
    feed(broker, 1, bar("AAPL", 1, 10.0))
    accepted(broker, market("o", SELL, 5, at=2))
    feed(broker, 2, bar("AAPL", 2, 10.0))
    assert broker.positions() == {"AAPL": D(-5)}


def test_shorting_is_refused_when_not_allowed() -> None:
    broker = SimulatedBroker()
    event = broker.submit(market("s1", SELL, 1))
    assert event.status is OrderStatus.REJECTED
    assert "not allowed to short" in event.message
    holding(broker, "AAPL", 3)
    accepted(broker, market("s2", SELL, 3))  # selling what is held is not a short


def test_shorting_is_accepted_when_allowed() -> None:
    broker = SimulatedBroker(allow_short=True)
    accepted(broker, market("s1", SELL, 4))
    feed(broker, 1, bar("AAPL", 1, 20.0))
    assert broker.positions() == {"AAPL": D(-4)}
    assert broker.cash_flow == D(80)


def test_a_fractional_short_is_refused() -> None:
    broker = SimulatedBroker(allow_short=True, allow_fractional=True)
    event = broker.submit(market("s1", SELL, "1.5"))
    assert event.status is OrderStatus.REJECTED
    assert "fractional" in event.message
    holding(broker, "AAPL", -2)  # adding to a short in fractions is refused as well
    assert broker.submit(market("s2", SELL, "0.5")).status is OrderStatus.REJECTED


@pytest.mark.parametrize("quantity", ["0", "-1"])
def test_a_non_positive_quantity_is_refused(quantity: str) -> None:
    event = SimulatedBroker().submit(market("a1", BUY, quantity))
    assert event.status is OrderStatus.REJECTED
    assert "qty must be > 0" in event.message


@pytest.mark.parametrize("price", [None, D(0), D(-1)])
def test_a_limit_order_without_a_positive_price_is_refused(price: Decimal | None) -> None:
    order = Order("l1", "AAPL", BUY, D(1), OrderType.LIMIT, price, minute(1))
    event = SimulatedBroker().submit(order)
    assert event.status is OrderStatus.REJECTED
    assert "limit_price" in event.message


def test_a_fractional_order_is_refused_without_fractional_trading() -> None:
    broker = SimulatedBroker(allow_fractional=False)
    event = broker.submit(market("f1", BUY, "2.5"))
    assert event.status is OrderStatus.REJECTED


# --- the end of the session ----------------------------------------------------------------


def test_end_session_expires_every_open_order() -> None:
    broker = SimulatedBroker(FillModel(max_participation=D("0.1")))
    accepted(broker, market("b", BUY, 25))
    accepted(broker, limit_order("a", BUY, 5, "1"))
    feed(broker, 1, bar("AAPL", 1, 10.0, volume=100))  # b: 10 of 25
    broker.end_session(DAY)
    events = broker.poll()
    assert [(e.client_order_id, e.status) for e in events] == [
        ("a", OrderStatus.EXPIRED),
        ("b", OrderStatus.EXPIRED),
    ]
    assert all(e.fill is None and "2026-03-12" in e.message for e in events)
    assert broker.open_orders() == []
    assert feed(broker, 2, bar("AAPL", 2, 0.5, volume=1e6)) == []
    assert broker.positions() == {"AAPL": D(10)}  # what filled stays filled


def test_end_session_with_nothing_open_says_nothing() -> None:
    broker = SimulatedBroker()
    broker.end_session(DAY)
    assert broker.poll() == []


# --- books ---------------------------------------------------------------------------------


def test_positions_and_cash_flow_follow_the_fills() -> None:
    # Buy 10 @ 100 (fee 0.10), sell 4 @ 110 (fee 0.04), buy 3 MSFT @ 50 (fee 0.03).
    broker = SimulatedBroker(FillModel(fee_per_share=D("0.01")))
    accepted(broker, market("b1", BUY, 10))
    accepted(broker, market("m1", BUY, 3, "MSFT"))
    feed(broker, 1, bar("AAPL", 1, 100.0), bar("MSFT", 1, 50.0))
    accepted(broker, market("s1", SELL, 4, at=2))
    feed(broker, 2, bar("AAPL", 2, 110.0))
    assert broker.positions() == {"AAPL": D(6), "MSFT": D(3)}
    # −1 000 − 0.10 − 150 − 0.03 + 440 − 0.04 = −710.17
    assert broker.cash_flow == D("-710.17")


def test_a_closed_position_disappears_from_positions() -> None:
    broker = SimulatedBroker()
    holding(broker, "AAPL", 5)
    accepted(broker, market("s1", SELL, 5))
    feed(broker, 1, bar("AAPL", 1, 100.0))
    assert broker.positions() == {}


orders_st = st.lists(
    st.tuples(
        st.sampled_from(["AAPL", "MSFT"]),
        st.sampled_from([BUY, SELL]),
        st.integers(1, 60),
        st.booleans(),  # limit?
        st.integers(90, 110),  # limit price
    ),
    max_size=12,
)
bars_st = st.lists(
    st.dictionaries(
        st.sampled_from(["AAPL", "MSFT"]),
        st.tuples(st.integers(90, 110), st.integers(0, 5), st.integers(0, 300)),
        max_size=2,
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(orders=orders_st, bars=bars_st, allow_short=st.booleans())
def test_books_match_the_fills_and_orders_never_overfill(orders, bars, allow_short) -> None:
    model = FillModel(
        slippage_bps=D(3), fee_per_share=D("0.003"), fee_bps=D(1), max_participation=D("0.2")
    )
    broker = SimulatedBroker(model, allow_short=allow_short)
    sent: dict[str, Order] = {}
    events: list[OrderEvent] = []
    for n, frame in enumerate(bars):
        # Half the orders go in before each minute's bars, in turn.
        for i in range(n, len(orders), len(bars)):
            symbol, side, quantity, is_limit, price = orders[i]
            cid = f"o{i}"
            order = Order(
                cid,
                symbol,
                side,
                D(quantity),
                OrderType.LIMIT if is_limit else OrderType.MARKET,
                D(price) if is_limit else None,
                minute(n),
            )
            answer = broker.submit(order)
            if answer.status is OrderStatus.NEW:
                sent[cid] = order
        broker.on_bars(
            minute(n),
            {
                s: bar(s, n, float(o), float(o + sp), float(o - sp), float(o), float(v))
                for s, (o, sp, v) in frame.items()
            },
        )
        events += broker.poll()
    broker.end_session(DAY)
    events += broker.poll()
    positions: dict[str, Decimal] = {}
    cash = D(0)
    filled: dict[str, Decimal] = {}
    final: dict[str, OrderStatus] = {}
    for event in events:
        assert event.client_order_id in sent
        assert event.client_order_id not in final  # nothing after a final status
        if event.status.is_final:
            final[event.client_order_id] = event.status
        fill = event.fill
        if fill is None:
            assert event.status is OrderStatus.EXPIRED
            continue
        order = sent[fill.client_order_id]
        assert (fill.symbol, fill.side) == (order.symbol, order.side)
        assert fill.quantity > 0
        assert fill.timestamp >= order.submitted_at  # type: ignore[operator]
        if order.order_type is OrderType.LIMIT:
            assert order.limit_price is not None
            if order.side is BUY:
                assert fill.price <= order.limit_price
            else:
                assert fill.price >= order.limit_price
        filled[fill.client_order_id] = filled.get(fill.client_order_id, D(0)) + fill.quantity
        assert filled[fill.client_order_id] <= order.quantity
        assert (event.status is OrderStatus.FILLED) == (
            filled[fill.client_order_id] == order.quantity
        )
        positions[fill.symbol] = positions.get(fill.symbol, D(0)) + fill.side.sign * fill.quantity
        cash -= fill.side.sign * fill.quantity * fill.price + fill.fee
    assert broker.positions() == {s: q for s, q in positions.items() if q != 0}
    assert broker.cash_flow == cash
    assert set(final) == set(sent)  # every accepted order ended
    assert broker.open_orders() == []
    if not allow_short:
        assert all(q >= 0 for q in broker.positions().values())


def test_two_brokers_fed_the_same_way_report_the_same_events() -> None:
    def run() -> list[OrderEvent]:
        broker = SimulatedBroker(FillModel(max_participation=D("0.1"), fee_bps=D(2)))
        accepted(broker, market("a1", BUY, 25))
        return [e for n in (1, 2, 3) for e in feed(broker, n, bar("AAPL", n, 10.0, volume=100))]

    assert run() == run()


def test_a_refused_order_leaves_its_client_order_id_free() -> None:
    # Alpaca never creates an order it refuses at the door, so the same id can be sent
    # again once the problem is gone; only an accepted id is used up for ever.
    broker = SimulatedBroker()
    refused = broker.submit(market("retry-1", SELL, 5))
    assert refused.status is OrderStatus.REJECTED
    assert "not allowed to short" in refused.message
    holding(broker, "AAPL", 5)
    accepted(broker, market("retry-1", SELL, 5))
    assert broker.submit(market("retry-1", SELL, 5)).message == "client_order_id must be unique"
