"""Resting limit intents: when they become marketable at the reference price."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.domain.limits import is_marketable, release_marketable
from app.domain.models import Intent, OrderType, Side

D = Decimal


def limit(side: Side, price: str, symbol: str = "AAPL", index: int = 0) -> Intent:
    return Intent(
        "alpha",
        symbol,
        side,
        D(7),
        OrderType.LIMIT,
        D(price),
        reason="dip",
        signal_index=index,
    )


@pytest.mark.parametrize(
    ("reference", "marketable"),
    [("99.99", True), ("100", True), ("100.01", False)],
)
def test_a_buy_limit_is_marketable_at_or_below_its_price(reference: str, marketable: bool) -> None:
    assert is_marketable(limit(Side.BUY, "100"), D(reference)) is marketable


@pytest.mark.parametrize(
    ("reference", "marketable"),
    [("99.99", False), ("100", True), ("100.01", True)],
)
def test_a_sell_limit_is_marketable_at_or_above_its_price(reference: str, marketable: bool) -> None:
    assert is_marketable(limit(Side.SELL, "100"), D(reference)) is marketable


@pytest.mark.parametrize("side", list(Side))
def test_a_market_intent_is_always_marketable(side: Side) -> None:
    intent = Intent("alpha", "AAPL", side, D(1))
    assert is_marketable(intent, D("0.01"))
    assert is_marketable(intent, D("1000000"))


def test_release_splits_marketable_from_resting_and_keeps_the_order() -> None:
    resting = [
        limit(Side.BUY, "100", index=0),  # AAPL 99 → released
        limit(Side.BUY, "98", index=1),  # stays
        limit(Side.SELL, "410", "MSFT", index=2),  # MSFT 410 → released
        limit(Side.SELL, "411", "MSFT", index=3),  # stays
        limit(Side.BUY, "100", index=4),  # released
    ]
    released, still = release_marketable(resting, {"AAPL": D(99), "MSFT": D(410)})
    assert [i.signal_index for i in released] == [0, 2, 4]
    assert [i.signal_index for i in still] == [1, 3]
    assert still == [resting[1], resting[3]]  # untouched


def test_a_released_limit_becomes_a_market_intent_with_the_same_trade() -> None:
    original = limit(Side.BUY, "100", index=3)
    [released], still = release_marketable([original], {"AAPL": D(95)})
    assert still == []
    assert released.order_type is OrderType.MARKET
    assert is_marketable(released, D(10_000))  # market from now on
    for name in ("team_id", "symbol", "side", "quantity", "reason", "signal_index"):
        assert getattr(released, name) == getattr(original, name)
    assert original.order_type is OrderType.LIMIT  # the resting one is not mutated


def test_a_limit_without_a_price_this_minute_keeps_resting() -> None:
    resting = [limit(Side.BUY, "100", "TSLA")]
    released, still = release_marketable(resting, {"AAPL": D(1)})
    assert released == []
    assert still == resting


def test_nothing_resting_nothing_released() -> None:
    assert release_marketable([], {"AAPL": D(1)}) == ([], [])
