"""Average-cost books: cash, fees, positions, realised and unrealised P&L, equity."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.models import Side
from app.domain.portfolio import FillEffect, Portfolio

D = Decimal
BUY, SELL = Side.BUY, Side.SELL


def held(book: Portfolio, symbol: str) -> tuple[Decimal, Decimal]:
    """(quantity, average cost) of a position."""
    position = book.positions[symbol]
    return position.quantity, position.avg_cost


def book(cash: str | int = 10_000) -> Portfolio:
    return Portfolio.with_cash(D(cash))


def test_a_new_book_holds_only_cash() -> None:
    p = book()
    assert p.initial_cash == p.cash == D(10_000)
    assert p.positions == {}
    assert p.realized_pnl == 0
    assert p.fees == 0
    assert p.quantity("AAPL") == 0
    assert p.equity({}) == D(10_000)


def test_a_buy_moves_cash_by_notional_and_fee() -> None:
    # 10 × 100 = 1 000, fee 1.25 → cash 10 000 − 1 000 − 1.25 = 8 998.75.
    p = book()
    effect = p.apply_fill("AAPL", BUY, D(10), D(100), D("1.25"))
    assert effect == FillEffect(realized_pnl=None, notional=D(1000))
    assert p.cash == D("8998.75")
    assert p.fees == D("1.25")
    assert list(p.positions) == ["AAPL"]
    assert held(p, "AAPL") == (D(10), D(100))


def test_a_sell_brings_the_notional_less_the_fee() -> None:
    # Long 10 @ 100; sell 4 @ 105 with fee 0.50: cash 9 000 + 420 − 0.50 = 9 419.50.
    p = book()
    p.apply_fill("AAPL", BUY, D(10), D(100))
    effect = p.apply_fill("AAPL", SELL, D(4), D(105), D("0.50"))
    assert effect.notional == D(420)
    assert p.cash == D("9419.50")
    assert p.fees == D("0.50")


def test_fees_accumulate_and_stay_out_of_realised_pnl() -> None:
    p = book()
    p.apply_fill("AAPL", BUY, D(10), D(100), D("0.10"))
    p.apply_fill("AAPL", SELL, D(10), D(100), D("0.15"))
    assert p.fees == D("0.25")
    assert p.realized_pnl == 0
    assert p.cash == D("9999.75")


def test_adding_to_a_long_moves_the_average_cost() -> None:
    # 10 @ 100 then 30 @ 120 → (1 000 + 3 600) / 40 = 115.
    p = book()
    p.apply_fill("AAPL", BUY, D(10), D(100))
    p.apply_fill("AAPL", BUY, D(30), D(120))
    assert held(p, "AAPL") == (D(40), D(115))
    assert p.cash == D(5400)


def test_reducing_a_long_realises_pnl_and_keeps_the_average_cost() -> None:
    # Long 40 @ 115; sell 15 @ 125 → realised (125 − 115) × 15 = 150; 25 left @ 115.
    p = book()
    p.apply_fill("AAPL", BUY, D(10), D(100))
    p.apply_fill("AAPL", BUY, D(30), D(120))
    effect = p.apply_fill("AAPL", SELL, D(15), D(125))
    assert effect.realized_pnl == D(150)
    assert p.realized_pnl == D(150)
    assert held(p, "AAPL") == (D(25), D(115))


def test_a_losing_reduction_realises_a_loss() -> None:
    # Long 10 @ 100; sell 4 @ 90 → (90 − 100) × 4 = −40.
    p = book()
    p.apply_fill("AAPL", BUY, D(10), D(100))
    assert p.apply_fill("AAPL", SELL, D(4), D(90)).realized_pnl == D(-40)
    assert p.realized_pnl == D(-40)


def test_closing_a_position_removes_it() -> None:
    p = book()
    p.apply_fill("AAPL", BUY, D(10), D(100))
    p.apply_fill("AAPL", SELL, D(10), D(101))
    assert "AAPL" not in p.positions
    assert p.quantity("AAPL") == 0
    assert p.realized_pnl == D(10)
    assert p.cash == D(10_010)
    # A new position starts from a fresh average cost.
    p.apply_fill("AAPL", BUY, D(1), D(50))
    assert held(p, "AAPL") == (D(1), D(50))


def test_a_flip_through_zero_closes_at_average_cost_and_opens_the_rest_at_the_price() -> None:
    # Long 10 @ 100; sell 15 @ 110 → realised (110 − 100) × 10 = 100; short 5 @ 110.
    # Cash: 10 000 − 1 000 + 1 650 = 10 650.
    p = book()
    p.apply_fill("AAPL", BUY, D(10), D(100))
    effect = p.apply_fill("AAPL", SELL, D(15), D(110))
    assert effect.realized_pnl == D(100)
    assert held(p, "AAPL") == (D(-5), D(110))
    assert p.cash == D(10_650)
    # Marked at 110 the book is worth 10 650 − 550 = 10 100 = initial + realised.
    assert p.equity({"AAPL": D(110)}) == D(10_100)


def test_a_short_flip_to_long() -> None:
    # Short 10 @ 50; buy 25 @ 40 → realised (40 − 50) × 10 × (−1) = 100; long 15 @ 40.
    p = book()
    p.apply_fill("AAPL", SELL, D(10), D(50))
    effect = p.apply_fill("AAPL", BUY, D(25), D(40))
    assert effect.realized_pnl == D(100)
    assert held(p, "AAPL") == (D(15), D(40))


def test_shorts_average_cost_and_pnl() -> None:
    # Sell 10 @ 50 (cash +500), sell 10 @ 40 (cash +400) → short 20 @ (500 + 400) / 20 = 45.
    # Cover 5 @ 30 → realised (30 − 45) × 5 × (−1) = +75 (a short gains when the price falls).
    # Cover 5 @ 60 → realised (60 − 45) × 5 × (−1) = −75.
    p = book()
    p.apply_fill("AAPL", SELL, D(10), D(50))
    p.apply_fill("AAPL", SELL, D(10), D(40))
    assert held(p, "AAPL") == (D(-20), D(45))
    assert p.cash == D(10_900)
    assert p.apply_fill("AAPL", BUY, D(5), D(30)).realized_pnl == D(75)
    assert p.apply_fill("AAPL", BUY, D(5), D(60)).realized_pnl == D(-75)
    assert p.realized_pnl == 0
    assert held(p, "AAPL") == (D(-10), D(45))
    # Cash: 10 900 − 150 − 300 = 10 450.
    assert p.cash == D(10_450)


def test_market_value_equity_and_unrealised_with_prices() -> None:
    # Long 10 AAPL @ 100, short 5 MSFT @ 400; cash 10 000 − 1 000 + 2 000 = 11 000.
    # At AAPL 103, MSFT 390: value 1 030 − 1 950 = −920; equity 10 080;
    # unrealised (103 − 100) × 10 + (390 − 400) × (−5) = 30 + 50 = 80.
    p = book()
    p.apply_fill("AAPL", BUY, D(10), D(100))
    p.apply_fill("MSFT", SELL, D(5), D(400))
    prices = {"AAPL": D(103), "MSFT": D(390)}
    assert p.cash == D(11_000)
    assert p.market_value(prices) == D(-920)
    assert p.equity(prices) == D(10_080)
    assert p.unrealized_pnl(prices) == D(80)
    assert p.equity(prices) == p.initial_cash + p.realized_pnl + p.unrealized_pnl(prices)


def test_without_a_price_a_position_is_marked_at_its_average_cost() -> None:
    # Only AAPL priced: MSFT counts −5 × 400 = −2 000 with no unrealised P&L.
    p = book()
    p.apply_fill("AAPL", BUY, D(10), D(100))
    p.apply_fill("MSFT", SELL, D(5), D(400))
    assert p.market_value({"AAPL": D(103)}) == D(1030 - 2000)
    assert p.unrealized_pnl({"AAPL": D(103)}) == D(30)
    assert p.equity({}) == D(11_000 + 1000 - 2000)
    assert p.unrealized_pnl({}) == 0


def test_fractional_quantities() -> None:
    # 0.5 @ 200 + 1.5 @ 100 → 2 @ (100 + 150) / 2 = 125; sell 0.25 @ 130 → +1.25.
    p = book()
    p.apply_fill("AAPL", BUY, D("0.5"), D(200))
    p.apply_fill("AAPL", BUY, D("1.5"), D(100))
    assert held(p, "AAPL") == (D(2), D(125))
    assert p.apply_fill("AAPL", SELL, D("0.25"), D(130)).realized_pnl == D("1.25")
    assert p.quantity("AAPL") == D("1.75")


@pytest.mark.parametrize("quantity", [D(0), D(-1)])
def test_a_fill_must_have_a_positive_quantity(quantity: Decimal) -> None:
    p = book()
    with pytest.raises(ValueError, match="positive"):
        p.apply_fill("AAPL", BUY, quantity, D(100))
    assert p.cash == D(10_000)
    assert p.positions == {}


def test_a_closed_round_trip_realises_exactly_the_cash_it_made() -> None:
    # Cash: −10 − 22 + 33 = +1 → realised must be 1, not 0.999…
    p = book(1000)
    p.apply_fill("AAPL", BUY, D(1), D(10))
    p.apply_fill("AAPL", BUY, D(2), D(11))
    p.apply_fill("AAPL", SELL, D(3), D(11))
    assert p.cash == D(1001)
    assert p.realized_pnl == D(1)


# --- properties --------------------------------------------------------------------------

fills = st.lists(
    st.tuples(
        st.sampled_from(["AAPL", "MSFT"]),
        st.sampled_from([BUY, SELL]),
        st.integers(1, 1000),
        st.integers(1, 100_000),  # price in cents
        st.integers(0, 500),  # fee in cents
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(fills=fills, marks=st.tuples(st.integers(1, 100_000), st.integers(1, 100_000)))
def test_books_stay_consistent(fills, marks) -> None:
    p = book(1_000_000)
    expected_cash = D(1_000_000)
    expected_fees = D(0)
    expected_qty = {"AAPL": D(0), "MSFT": D(0)}
    for symbol, side, quantity, cents, fee_cents in fills:
        price, fee = D(cents) / 100, D(fee_cents) / 100
        p.apply_fill(symbol, side, D(quantity), price, fee)
        expected_cash -= side.sign * quantity * price + fee
        expected_fees += fee
        expected_qty[symbol] += side.sign * quantity
    # Cash, fees and quantities are exact.
    assert p.cash == expected_cash
    assert p.fees == expected_fees
    assert {s: p.quantity(s) for s in expected_qty} == expected_qty
    assert all(pos.quantity != 0 for pos in p.positions.values())
    # Equity = initial + realised + unrealised − fees (to the precision of average costs).
    prices = {"AAPL": D(marks[0]) / 100, "MSFT": D(marks[1]) / 100}
    identity = p.initial_cash + p.realized_pnl + p.unrealized_pnl(prices) - p.fees
    assert abs(p.equity(prices) - identity) < D("1e-15")
    assert p.equity(prices) == p.cash + sum((q * prices[s] for s, q in expected_qty.items()), D(0))
