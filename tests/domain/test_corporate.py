"""Corporate actions in the pure core: the teams' parts sum exactly to the account's change,
and a book stays consistent (equity = initial + realised + unrealised - fees)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.corporate import (
    ActionKind,
    CorporateAction,
    account_change,
    apply_change,
    apportion,
    price_in_lieu,
    team_changes,
)
from app.domain.models import Side
from app.domain.portfolio import Portfolio

EX = date(2026, 3, 13)
WHOLE, FRACTION = Decimal(1), Decimal("0.000000001")


def dividend(rate: str) -> CorporateAction:
    return CorporateAction("XOM", ActionKind.DIVIDEND, EX, Decimal(rate))


def split(ratio: str) -> CorporateAction:
    new, _, old = ratio.partition(":")
    return CorporateAction("XOM", ActionKind.SPLIT, EX, Decimal(new), old_rate=Decimal(old or 1))


def test_apportion_sums_exactly_and_moves_each_part_at_most_one_unit() -> None:
    exact = [Decimal("7.5"), Decimal("-4.5"), Decimal("1.5")]
    parts = apportion(Decimal(4), exact, WHOLE)
    assert sum(parts) == 4
    assert all(abs(p - e) < 1 for p, e in zip(parts, exact, strict=True))


def test_a_bad_action_is_refused() -> None:
    with pytest.raises(ValueError, match="amount must be > 0"):
        dividend("-1")
    with pytest.raises(ValueError, match="ratio of 1"):
        split("1")


@pytest.mark.parametrize(
    ("held", "unit", "after", "cash"),
    [
        ("3", WHOLE, "1", "0.00"),
        ("-3", WHOLE, "-1", "0.00"),
        ("300", WHOLE, "100", "0.00"),
        ("3", FRACTION, "1", "0.00"),
        ("4", WHOLE, "1", "100.00"),  # a third of a share at 300.00
        ("-2", WHOLE, "0", "-200.00"),  # a short of two thirds covered in cash
    ],
)
def test_a_one_for_three_reverse_split_is_exact(held, unit, after, cash) -> None:
    action = split("1:3")
    price = price_in_lieu(action, Decimal(100))
    assert price == Decimal(300)
    change = account_change(action, Decimal(held), price, unit)
    assert (str(change.quantity_after), str(change.cash)) == (after, cash)


def test_a_reverse_split_pays_the_fraction_at_the_post_split_price() -> None:
    action = split("0.1")
    price = price_in_lieu(action, Decimal("2.5"))
    assert price == Decimal("25")
    change = account_change(action, Decimal(25), price, WHOLE)
    assert (change.quantity_after, change.cash) == (Decimal(2), Decimal("12.50"))


quantities = st.lists(st.integers(-400, 400), min_size=1, max_size=6)
ratios = st.sampled_from(["2", "1.5", "3", "0.5", "0.1", "0.25", "10", "1.25", "1:3", "2:3", "7:4"])
rates = st.sampled_from(["0.26", "0.99", "1.2345", "0.01", "3.5"])


@settings(max_examples=300, deadline=None)
@given(quantities, ratios, st.booleans())
def test_split_parts_sum_to_the_account_and_every_book_stays_whole(held, ratio, fractional):
    unit = FRACTION if fractional else WHOLE
    action = split(ratio)
    holdings = {f"t{i}": Decimal(q) for i, q in enumerate(held)}
    total = sum(holdings.values(), Decimal(0))
    price = price_in_lieu(action, Decimal("41.37"))
    account = account_change(action, total, price, unit)
    parts = team_changes(action, account, holdings, price, unit)
    assert sum((p.quantity_after for p in parts.values()), Decimal(0)) == account.quantity_after
    assert sum((p.cash for p in parts.values()), Decimal(0)) == account.cash
    for team, part in parts.items():
        assert part.quantity_after == part.quantity_after.quantize(unit)
        assert str(part.quantity_after) != "-0"  # no negative zero
        assert (
            abs(part.quantity_after * action.old_rate - holdings[team] * action.amount)
            < (unit * action.old_rate) * 2
        )  # within a unit or so of its exact share
        book = _holding(holdings[team], Decimal("40.00"))
        before = book.equity({"XOM": Decimal("41.37")})
        apply_change(book, action, part)
        assert book.quantity("XOM") == part.quantity_after
        after_price = {"XOM": price}
        assert book.cash == Decimal(100_000) - holdings[team] * Decimal("40.00") + part.cash
        identity = book.initial_cash + book.realized_pnl + book.unrealized_pnl(after_price)
        assert book.equity(after_price) == identity - book.fees
        # Equity moves only by the rounding of a fraction into a whole share (or a cent).
        assert abs(book.equity(after_price) - before) <= price + Decimal("0.01")


@settings(max_examples=200, deadline=None)
@given(quantities, rates)
def test_dividend_parts_sum_to_the_account_in_cents(held, rate):
    action = dividend(rate)
    holdings = {f"t{i}": Decimal(q) for i, q in enumerate(held)}
    total = sum(holdings.values(), Decimal(0))
    account = account_change(action, total, Decimal(1), WHOLE)
    parts = team_changes(action, account, holdings, Decimal(1), WHOLE)
    assert sum((p.cash for p in parts.values()), Decimal(0)) == account.cash
    for team, part in parts.items():
        assert part.cash == part.cash.quantize(Decimal("0.01"))
        assert abs(part.cash - holdings[team] * action.amount) < Decimal("0.01") * len(held)


def _holding(quantity: Decimal, price: Decimal) -> Portfolio:
    book = Portfolio.with_cash(Decimal(100_000))
    if quantity:
        side = Side.BUY if quantity > 0 else Side.SELL
        book.apply_fill("XOM", side, abs(quantity), price)
    return book
