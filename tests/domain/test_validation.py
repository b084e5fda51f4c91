"""Signal validation: one test (at least) per schema rule and per budget rule.

Every budget check runs at the host's reference price, never at a price the strategy
chose, and is cumulative over the team's signals of the minute.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.bounds import MAX_MESSAGE_CHARS, MAX_SIGNAL_CHARS, MAX_SYMBOL_CHARS
from app.domain.models import Intent, OrderType, Side
from app.domain.numbers import canonical, price_from_float
from app.domain.portfolio import Portfolio
from app.domain.validation import (
    MAX_REASON_CHARS,
    TeamExposure,
    TradingRules,
    apply_budget,
    parse_signals,
    validate_signals,
)

PRICES = {"AAPL": Decimal("100"), "MSFT": Decimal("400"), "BRK.B": Decimal("500")}
STRICT = TradingRules()
FRACTIONAL = TradingRules(allow_fractional=True)
SHORTING = TradingRules(allow_short=True)
SHORTING_FRACTIONAL = TradingRules(allow_short=True, allow_fractional=True)


def exposure(
    cash: str = "10000",
    positions: dict[str, str] | None = None,
    reserved_cash: str = "0",
    pending_sells: dict[str, str] | None = None,
) -> TeamExposure:
    """A team's exposure; positions are bought at the reference price (cash is then set)."""
    portfolio = Portfolio.with_cash(Decimal(cash))
    for symbol, quantity in (positions or {}).items():
        portfolio.apply_fill(symbol, Side.BUY, Decimal(quantity), PRICES[symbol])
    portfolio.cash = Decimal(cash)
    return TeamExposure(
        portfolio=portfolio,
        reserved_cash=Decimal(reserved_cash),
        pending_sells={s: Decimal(q) for s, q in (pending_sells or {}).items()},
    )


def validate(output: object, rules: TradingRules = STRICT, book: TeamExposure | None = None):
    return validate_signals("alpha", output, book or exposure(), PRICES, rules)


def buy(quantity: object = 1, symbol: str = "AAPL", **extra: object) -> dict:
    return {"symbol": symbol, "action": "buy", "quantity": quantity, **extra}


def sell(quantity: object = 1, symbol: str = "AAPL", **extra: object) -> dict:
    return {"symbol": symbol, "action": "sell", "quantity": quantity, **extra}


def only_rejection(output: object, rules: TradingRules = STRICT, book: TeamExposure | None = None):
    intents, rejections = validate(output, rules, book)
    assert intents == []
    assert len(rejections) == 1, rejections
    return rejections[0]


# --- the shape of the output -----------------------------------------------------------


def test_none_means_no_signals_and_no_rejection() -> None:
    assert validate(None) == ([], [])


def test_empty_list_means_no_signals() -> None:
    assert validate([]) == ([], [])


def test_a_single_dict_is_one_signal() -> None:
    intents, rejections = validate(buy(3))
    assert rejections == []
    assert intents == [Intent("alpha", "AAPL", Side.BUY, Decimal(3), signal_index=0)]


def test_a_list_of_dicts_gives_intents_in_order_with_their_indices() -> None:
    intents, rejections = validate([buy(1), sell(0, "MSFT"), buy(2, "MSFT")])
    assert [(i.symbol, i.quantity, i.signal_index) for i in intents] == [
        ("AAPL", Decimal(1), 0),
        ("MSFT", Decimal(2), 2),
    ]
    assert [r.signal_index for r in rejections] == [1]


@pytest.mark.parametrize(
    ("output", "type_name"),
    [("buy AAPL", "str"), (42, "int"), ((buy(),), "tuple"), ({buy()["symbol"]}, "set")],
)
def test_output_that_is_not_a_dict_list_or_none_is_refused(output: object, type_name: str) -> None:
    rejection = only_rejection(output)
    assert rejection.team_id == "alpha"
    assert rejection.signal_index == 0
    assert type_name in rejection.reason
    assert "expected a dict, a list of dicts, or None" in rejection.reason


@pytest.mark.parametrize("signal", [None, "buy", 5, ["AAPL", "buy", 1]])
def test_a_signal_that_is_not_a_dict_is_refused(signal: object) -> None:
    intents, rejections = validate([buy(1), signal])
    assert len(intents) == 1
    assert len(rejections) == 1
    assert rejections[0].signal_index == 1
    assert "a signal must be a dict" in rejections[0].reason
    assert type(signal).__name__ in rejections[0].reason


# --- the fields of a signal ------------------------------------------------------------


def test_unknown_field_is_refused_and_named() -> None:
    rejection = only_rejection({"symbol": "AAPL", "action": "buy", "qty": 1})
    assert "unknown field(s) 'qty'" in rejection.reason
    assert "quantity" in rejection.reason  # the allowed fields are listed


def test_several_unknown_fields_are_all_named() -> None:
    rejection = only_rejection(buy(1, size=2, tif="day"))
    assert "size" in rejection.reason
    assert "tif" in rejection.reason


def test_a_rejection_keeps_a_readable_copy_of_the_signal() -> None:
    rejection = only_rejection(buy(1, qty=2))
    assert isinstance(rejection.signal, str)
    assert "'qty': 2" in rejection.signal


def test_the_copy_of_a_huge_rejected_signal_is_bounded() -> None:
    rejection = only_rejection(buy(1, junk="x" * 10_000))
    assert isinstance(rejection.signal, str)
    assert len(rejection.signal) <= MAX_SIGNAL_CHARS
    assert "'junk': 'xxx" in rejection.signal
    assert "..." in rejection.signal


@pytest.mark.parametrize(
    "signal",
    [
        {"action": "buy", "quantity": 1},
        {"symbol": "", "action": "buy", "quantity": 1},
        {"symbol": None, "action": "buy", "quantity": 1},
        {"symbol": 123, "action": "buy", "quantity": 1},
        {"symbol": ["AAPL"], "action": "buy", "quantity": 1},
    ],
    ids=["missing", "empty", "none", "int", "list"],
)
def test_symbol_is_required_and_a_non_empty_string(signal: dict) -> None:
    rejection = only_rejection(signal)
    assert "'symbol' is required and must be a non-empty string" in rejection.reason


def test_unknown_symbol_is_refused_and_named() -> None:
    rejection = only_rejection(buy(1, "TSLA"))
    assert "unknown symbol 'TSLA'" in rejection.reason
    assert "universe" in rejection.reason


def test_symbols_are_case_sensitive() -> None:
    rejection = only_rejection(buy(1, "aapl"))
    assert "unknown symbol 'aapl'" in rejection.reason


@pytest.mark.parametrize("action", [None, "BUY", "long", "", 1, "short"])
def test_action_must_be_buy_or_sell(action: object) -> None:
    rejection = only_rejection({"symbol": "AAPL", "action": action, "quantity": 1})
    assert "'action' must be 'buy' or 'sell'" in rejection.reason
    assert repr(action) in rejection.reason


def test_missing_action_is_refused() -> None:
    rejection = only_rejection({"symbol": "AAPL", "quantity": 1})
    assert "'action' must be 'buy' or 'sell', got None" in rejection.reason


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        (0, "'quantity' must be greater than 0"),
        (0.0, "'quantity' must be greater than 0"),
        (-5, "'quantity' must be greater than 0"),
        (-0.5, "'quantity' must be greater than 0"),
        (Decimal("-0"), "'quantity' must be greater than 0"),
        (float("nan"), "'quantity' must be a finite number"),
        (float("inf"), "'quantity' must be a finite number"),
        (float("-inf"), "'quantity' must be a finite number"),
        (Decimal("NaN"), "'quantity' must be a finite number"),
        (Decimal("Infinity"), "'quantity' must be a finite number"),
        ("10", "'quantity' must be a number, got str"),
        (True, "'quantity' must be a number, got bool"),
        (False, "'quantity' must be a number, got bool"),
        (None, "'quantity' must be a number, got NoneType"),
        ([10], "'quantity' must be a number, got list"),
    ],
    ids=repr,
)
def test_quantity_must_be_a_positive_finite_number(quantity: object, expected: str) -> None:
    rejection = only_rejection(buy(quantity), FRACTIONAL)
    assert expected in rejection.reason


def test_missing_quantity_is_refused() -> None:
    rejection = only_rejection({"symbol": "AAPL", "action": "buy"})
    assert "'quantity' must be a number, got NoneType" in rejection.reason


def test_fractional_quantity_is_refused_when_not_allowed() -> None:
    rejection = only_rejection(buy(0.5))
    assert "fractional quantity 0.5 is not allowed" in rejection.reason


def test_fractional_quantity_is_accepted_when_allowed() -> None:
    intents, rejections = validate(buy(0.5), FRACTIONAL)
    assert rejections == []
    assert intents[0].quantity == Decimal("0.5")


def test_a_float_with_a_whole_value_is_not_fractional() -> None:
    intents, rejections = validate(buy(2.0))
    assert rejections == []
    assert str(intents[0].quantity) == "2"


def test_nine_decimals_are_accepted_when_fractions_are_allowed() -> None:
    intents, rejections = validate(buy(0.123456789), FRACTIONAL)
    assert rejections == []
    assert intents[0].quantity == Decimal("0.123456789")


@pytest.mark.parametrize("quantity", [0.1234567891, 1e-10, Decimal("1.0000000001")], ids=repr)
def test_more_than_nine_decimals_are_refused_even_when_fractions_are_allowed(
    quantity: object,
) -> None:
    rejection = only_rejection(buy(quantity), FRACTIONAL)
    assert "more than 9 decimals" in rejection.reason


def test_a_decimal_quantity_is_never_silently_rounded_to_a_whole_share() -> None:
    rejection = only_rejection(buy(Decimal("1.00000000000000000000000000001")))
    assert "fractional" in rejection.reason


@pytest.mark.parametrize("order_type", ["stop", "LIMIT", "Market", None, 1])
def test_order_type_must_be_market_or_limit(order_type: object) -> None:
    rejection = only_rejection(buy(1, order_type=order_type))
    assert "'order_type' must be 'market' or 'limit'" in rejection.reason
    assert repr(order_type) in rejection.reason


def test_market_is_the_default_order_type() -> None:
    intents, _ = validate(buy(1))
    assert intents[0].order_type is OrderType.MARKET
    assert intents[0].limit_price is None


def test_a_limit_order_needs_a_limit_price() -> None:
    rejection = only_rejection(buy(1, order_type="limit"))
    assert "a limit order needs 'limit_price'" in rejection.reason


@pytest.mark.parametrize(
    ("limit_price", "expected"),
    [
        (0, "'limit_price' must be greater than 0"),
        (-1.5, "'limit_price' must be greater than 0"),
        (float("nan"), "'limit_price' must be a finite number"),
        (float("inf"), "'limit_price' must be a finite number"),
        ("99", "'limit_price' must be a number, got str"),
        (True, "'limit_price' must be a number, got bool"),
    ],
    ids=repr,
)
def test_limit_price_must_be_a_positive_finite_number(limit_price: object, expected: str) -> None:
    rejection = only_rejection(buy(1, order_type="limit", limit_price=limit_price))
    assert expected in rejection.reason


def test_a_valid_limit_order_becomes_a_limit_intent() -> None:
    intents, rejections = validate(buy(2, order_type="limit", limit_price=99.5))
    assert rejections == []
    assert intents[0].order_type is OrderType.LIMIT
    assert intents[0].limit_price == Decimal("99.5")


def test_limit_price_on_a_market_order_is_refused() -> None:
    rejection = only_rejection(buy(1, limit_price=99))
    assert "'limit_price' is only allowed with order_type 'limit'" in rejection.reason


def test_limit_price_on_an_implicit_market_order_none_is_tolerated() -> None:
    intents, rejections = validate(buy(1, limit_price=None))
    assert rejections == []
    assert intents[0].limit_price is None


@pytest.mark.parametrize("reason", [None, 5, ["why"]])
def test_reason_must_be_a_string(reason: object) -> None:
    rejection = only_rejection(buy(1, reason=reason))
    assert "'reason' must be a string" in rejection.reason


def test_reason_is_kept_and_bounded() -> None:
    intents, _ = validate([buy(1, reason="momentum"), buy(1, reason="x" * 1000)])
    assert intents[0].reason == "momentum"
    assert intents[1].reason == "x" * MAX_REASON_CHARS


def test_non_string_keys_are_reported_as_unknown_fields() -> None:
    rejection = only_rejection({"symbol": "AAPL", "action": "buy", "quantity": 1, 7: "x"})
    assert "unknown field(s) 7" in rejection.reason


# --- what a rejection repeats of a team's data is bounded --------------------------------
# The sandbox lets through strings of 1,000 characters and 10,000 items in one output;
# the messages quote such values cut short, never in full.

WIDE_KEY = "x" * 990


def test_a_signal_with_hundreds_of_long_unknown_fields_names_three_and_counts_the_rest():
    signal = buy(1) | {f"{i:03d}{WIDE_KEY}": i for i in range(900)}
    rejection = only_rejection(signal)
    assert len(rejection.reason) <= MAX_MESSAGE_CHARS
    assert rejection.reason.startswith("unknown field(s) '000xxx")
    assert "'001xxx" in rejection.reason
    assert "'002xxx" in rejection.reason
    assert "and 897 more; allowed: action, limit_price" in rejection.reason
    assert len(rejection.signal) <= MAX_SIGNAL_CHARS


def test_an_action_that_is_a_long_list_is_quoted_short():
    rejection = only_rejection({"symbol": "AAPL", "action": ["a" * 990] * 900, "quantity": 1})
    assert len(rejection.reason) <= MAX_MESSAGE_CHARS
    assert rejection.reason.startswith("'action' must be 'buy' or 'sell', got ['aaa")


def test_a_long_order_type_is_quoted_short():
    rejection = only_rejection(buy(1, order_type="l" * 1000, limit_price=1))
    assert len(rejection.reason) <= MAX_MESSAGE_CHARS
    assert rejection.reason.startswith("'order_type' must be 'market' or 'limit', got 'lll")


def test_an_unknown_symbol_is_quoted_in_at_most_the_symbol_cap():
    rejection = only_rejection(buy(1, "S" * 1000))
    quoted = rejection.reason.removeprefix("unknown symbol ").split(": not in")[0]
    assert quoted.startswith("'SSS")
    assert len(quoted) <= MAX_SYMBOL_CHARS
    assert rejection.reason.endswith("not in this competition's universe")


def test_a_quantity_near_the_float_limit_is_written_short():
    rejection = only_rejection(buy(1e308))
    assert rejection.reason.startswith("insufficient cash: buying 1.000000E+308 AAPL")
    assert len(rejection.reason) <= 200


def test_a_huge_negative_integer_is_refused_without_spelling_it_out():
    # str() of an int over 4,300 digits raises: the message must not try.
    rejection = only_rejection(buy(-(10**5000)))
    assert "'quantity' must be greater than 0" in rejection.reason
    assert len(rejection.reason) <= MAX_MESSAGE_CHARS


# What a strategy's output can be once it has crossed the sandbox's wire: JSON data, with
# strings up to the wire's 1,000 characters (long ones built cheaply by repetition).
TEXT = st.text(max_size=20) | st.builds(str.__mul__, st.characters(), st.integers(0, 1000))
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | TEXT
    | st.sampled_from(["buy", "sell", "market", "limit", "AAPL", "MSFT", ""])
)
JUNK = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(TEXT, inner, max_size=5),
    max_leaves=10,
)
FIELD_NAMES = st.sampled_from(["symbol", "action", "quantity", "order_type", "limit_price"])
SIGNALS = st.dictionaries(FIELD_NAMES | TEXT, JUNK, max_size=8)


@settings(max_examples=100, deadline=None)
@given(st.one_of(JUNK, SIGNALS, st.lists(SIGNALS | JUNK, max_size=4)))
def test_no_output_ever_gives_a_rejection_over_the_caps(output: object) -> None:
    _, rejections = validate(output, FRACTIONAL)
    for rejection in rejections:
        assert len(rejection.reason) <= MAX_MESSAGE_CHARS
        assert rejection.signal is None or len(rejection.signal) <= MAX_SIGNAL_CHARS


# --- canonical numbers -----------------------------------------------------------------


def test_a_float_quantity_becomes_its_canonical_decimal() -> None:
    intents, _ = validate(buy(436.0, "AAPL"), book=exposure(cash="100000"))
    quantity = intents[0].quantity
    assert quantity == Decimal("436")
    assert str(quantity) == "436"  # not "436.0"
    assert quantity.as_tuple().exponent == 0


def test_a_float_is_converted_by_its_shortest_repr_not_its_binary_value() -> None:
    intents, _ = validate(buy(0.1), FRACTIONAL)
    assert str(intents[0].quantity) == "0.1"  # not 0.1000000000000000055511151231257827


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("436.0", "436"),
        ("1E+3", "1000"),
        ("0.50", "0.5"),
        ("0.000001000", "0.000001"),
        ("12.3400", "12.34"),
        ("7", "7"),
    ],
)
def test_canonical_gives_one_spelling_per_value(raw: str, text: str) -> None:
    value = canonical(Decimal(raw))
    assert value == Decimal(raw)
    assert str(value) == text


@pytest.mark.parametrize(
    ("value", "text"), [(258.64, "258.64"), (100.0, "100"), (0.1, "0.1"), (1e-05, "0.00001")]
)
def test_price_from_float_takes_the_published_value(value: float, text: str) -> None:
    assert str(price_from_float(value)) == text


def test_limit_price_is_canonical_too() -> None:
    intents, _ = validate(buy(1, order_type="limit", limit_price=99.50))
    assert str(intents[0].limit_price) == "99.5"


# --- cash: at the reference price, cumulative ------------------------------------------


def test_a_buy_that_fits_the_cash_exactly_is_accepted() -> None:
    # 100 shares × reference 100 = 10 000 = all the cash.
    intents, rejections = validate(buy(100), book=exposure(cash="10000"))
    assert rejections == []
    assert len(intents) == 1


def test_insufficient_cash_at_the_reference_price_is_refused() -> None:
    # 101 × 100 = 10 100 > 10 000.
    rejection = only_rejection(buy(101), book=exposure(cash="10000"))
    assert "insufficient cash" in rejection.reason
    assert "101 AAPL" in rejection.reason
    assert "reference price 100" in rejection.reason
    assert "costs 10100" in rejection.reason
    assert "available 10000" in rejection.reason


def test_a_low_limit_price_does_not_make_an_unaffordable_buy_affordable() -> None:
    # At its own limit 50 the buy would cost 101 × 50 = 5 050 (affordable); the host
    # checks at the reference price 100: 10 100 > 10 000.
    book = exposure(cash="10000")
    rejection = only_rejection(buy(101, order_type="limit", limit_price=50), book=book)
    assert "insufficient cash" in rejection.reason
    assert "reference price 100" in rejection.reason


def test_a_high_limit_price_does_not_make_an_affordable_buy_unaffordable() -> None:
    # At its own limit 1 000 the buy would cost 100 000; at the reference 100: 10 000.
    book = exposure(cash="10000")
    intents, rejections = validate(buy(100, order_type="limit", limit_price=1000), book=book)
    assert rejections == []
    assert len(intents) == 1


def test_cash_is_checked_cumulatively_over_the_minutes_buys() -> None:
    # Cash 10 000: 40 AAPL (4 000) + 10 MSFT (4 000) fit, a third buy of 30 AAPL (3 000)
    # does not (8 000 + 3 000 = 11 000), although each alone would.
    signals = [buy(40), buy(10, "MSFT"), buy(30)]
    intents, rejections = validate(signals, book=exposure(cash="10000"))
    assert [i.signal_index for i in intents] == [0, 1]
    assert len(rejections) == 1
    assert rejections[0].signal_index == 2
    assert "insufficient cash" in rejections[0].reason
    assert "available 2000" in rejections[0].reason


def test_a_refused_buy_does_not_spend_and_a_later_smaller_buy_still_fits() -> None:
    signals = [buy(200), buy(50)]  # 20 000 refused; 5 000 fits in 10 000
    intents, rejections = validate(signals, book=exposure(cash="10000"))
    assert [i.signal_index for i in intents] == [1]
    assert [r.signal_index for r in rejections] == [0]


def test_reserved_cash_reduces_the_available_cash() -> None:
    book = exposure(cash="10000", reserved_cash="9500")  # 500 left
    assert validate(buy(5), book=book)[1] == []  # 500
    rejection = only_rejection(buy(6), book=exposure(cash="10000", reserved_cash="9500"))
    assert "available 500" in rejection.reason


def test_sells_do_not_fund_buys_in_the_same_minute() -> None:
    # Selling 50 AAPL would bring 5 000 only once filled; the buy is checked against
    # the cash the team has now.
    book = exposure(cash="1000", positions={"AAPL": "50"})
    intents, rejections = validate([sell(50), buy(3, "MSFT")], book=book)
    assert [i.signal_index for i in intents] == [0]
    assert [r.signal_index for r in rejections] == [1]


# --- holdings: no naked shorts unless allowed ------------------------------------------


def test_selling_what_is_held_is_accepted() -> None:
    intents, rejections = validate(sell(10), book=exposure(positions={"AAPL": "10"}))
    assert rejections == []
    assert intents[0].side is Side.SELL


def test_selling_without_a_position_is_refused_without_shorting() -> None:
    rejection = only_rejection(sell(1))
    assert "selling 1 AAPL but only 0 available" in rejection.reason
    assert "short selling is not allowed" in rejection.reason


def test_selling_more_than_held_is_refused_cumulatively() -> None:
    # Holding 10: selling 6 then 6 → the second would take the team to −2.
    book = exposure(positions={"AAPL": "10"})
    intents, rejections = validate([sell(6), sell(6)], book=book)
    assert [i.signal_index for i in intents] == [0]
    assert [r.signal_index for r in rejections] == [1]
    assert "selling 6 AAPL but only 4 available" in rejections[0].reason


def test_pending_sells_count_against_the_holding() -> None:
    book = exposure(positions={"AAPL": "10"}, pending_sells={"AAPL": "7"})
    intents, rejections = validate([sell(3), sell(1)], book=book)
    assert [i.signal_index for i in intents] == [0]
    assert "only 0 available" in rejections[0].reason


def test_a_position_in_another_symbol_does_not_cover_a_sell() -> None:
    rejection = only_rejection(sell(1), book=exposure(positions={"MSFT": "10"}))
    assert "only 0 available" in rejection.reason


def test_shorting_allowed_lets_a_naked_sell_through() -> None:
    intents, rejections = validate(sell(25), SHORTING)
    assert rejections == []
    assert intents[0].quantity == Decimal(25)


def test_shorting_allowed_lets_a_sell_beyond_the_holding_through() -> None:
    book = exposure(positions={"AAPL": "10"})
    intents, rejections = validate([sell(6), sell(6)], SHORTING, book)
    assert rejections == []
    assert len(intents) == 2


def test_a_fractional_short_is_refused_even_with_shorting_and_fractions() -> None:
    rejection = only_rejection(sell(0.5), SHORTING_FRACTIONAL)
    assert "would open a fractional short of 0.5" in rejection.reason
    assert "whole shares" in rejection.reason


def test_selling_a_fractional_holding_plus_whole_shares_short_is_accepted() -> None:
    # Holding 0.5, selling 2.5: closes 0.5 and opens a whole 2-share short.
    book = exposure(positions={"AAPL": "0.5"})
    intents, rejections = validate(sell(2.5), SHORTING_FRACTIONAL, book)
    assert rejections == []
    assert intents[0].quantity == Decimal("2.5")


def test_selling_a_fractional_holding_into_a_fractional_short_is_refused() -> None:
    # Holding 0.5, selling 1: the short part is 0.5.
    book = exposure(positions={"AAPL": "0.5"})
    rejection = only_rejection(sell(1), SHORTING_FRACTIONAL, book)
    assert "fractional short of 0.5" in rejection.reason


def test_a_fractional_sell_within_the_holding_is_accepted() -> None:
    book = exposure(positions={"AAPL": "1.5"})
    intents, rejections = validate(sell(1.5), FRACTIONAL, book)
    assert rejections == []
    assert intents[0].quantity == Decimal("1.5")


def test_adding_to_an_existing_short_in_fractions_is_refused() -> None:
    book = exposure()
    book.portfolio.apply_fill("AAPL", Side.SELL, Decimal(5), Decimal(100))
    rejection = only_rejection(sell(0.5), SHORTING_FRACTIONAL, book)
    assert "fractional short of 0.5" in rejection.reason


# --- too many signals ------------------------------------------------------------------


def test_too_many_signals_evaluates_the_first_n_and_summarises_the_rest() -> None:
    rules = TradingRules(max_signals_per_minute=3)
    signals = [buy(1), buy(1), {"bad": True}, buy(1), buy(1), "junk"]
    intents, rejections = validate(signals, rules)
    assert [i.signal_index for i in intents] == [0, 1]
    assert [r.signal_index for r in rejections] == [2, 3]
    assert "unknown field(s) 'bad'" in rejections[0].reason
    summary = rejections[1]
    assert "too many signals" in summary.reason
    assert "at most 3 per minute" in summary.reason
    assert "3 more were ignored" in summary.reason


def test_exactly_the_limit_is_fine() -> None:
    rules = TradingRules(max_signals_per_minute=3)
    intents, rejections = validate([buy(1)] * 3, rules)
    assert len(intents) == 3
    assert rejections == []


def test_the_default_limit_is_twenty() -> None:
    intents, rejections = validate([buy(1)] * 25, book=exposure(cash="1000000"))
    assert len(intents) == 20
    assert len(rejections) == 1
    assert "5 more were ignored" in rejections[0].reason


# --- the two stages --------------------------------------------------------------------


def test_rejections_are_sorted_by_signal_index_across_both_stages() -> None:
    # 0: cash (budget stage), 1: ok, 2: schema stage.
    signals = [buy(1000), buy(1), buy(1, "NOPE")]
    intents, rejections = validate(signals, book=exposure(cash="10000"))
    assert [i.signal_index for i in intents] == [1]
    assert [r.signal_index for r in rejections] == [0, 2]
    assert "insufficient cash" in rejections[0].reason
    assert "unknown symbol" in rejections[1].reason


def test_parse_signals_does_not_look_at_the_book() -> None:
    intents, rejections = parse_signals("alpha", [buy(10**6), sell(10**6)], PRICES, STRICT)
    assert rejections == []
    assert len(intents) == 2


def test_apply_budget_checks_intents_in_order() -> None:
    intents = [
        Intent("alpha", "AAPL", Side.BUY, Decimal(60), signal_index=4),
        Intent("alpha", "AAPL", Side.BUY, Decimal(60), signal_index=7),
    ]
    accepted, refused = apply_budget(intents, exposure(cash="10000"), PRICES, STRICT)
    assert accepted == intents[:1]
    assert [(r.team_id, r.signal_index) for r in refused] == [("alpha", 7)]


def test_validation_does_not_change_the_teams_book() -> None:
    book = exposure(cash="10000", positions={"AAPL": "10"}, pending_sells={"AAPL": "2"})
    validate([buy(50), sell(8)], book=book)
    assert book.portfolio.cash == Decimal(10000)
    assert book.portfolio.quantity("AAPL") == Decimal(10)
    assert book.reserved_cash == Decimal(0)
    assert book.pending_sells == {"AAPL": Decimal(2)}


def test_rejections_carry_the_team_id() -> None:
    _, rejections = validate_signals("zeta-9", [buy(1, "NOPE")], exposure(), PRICES, STRICT)
    assert rejections[0].team_id == "zeta-9"


def test_a_short_needs_cash_collateral_at_the_reference_price() -> None:
    # Cash 10,000, AAPL at 100: a 100-share short takes all of it as collateral, so a
    # second short (or any buy) in the same minute no longer fits.
    intents, rejections = validate([sell(100), sell(1), buy(1)], SHORTING)
    assert [i.quantity for i in intents] == [Decimal(100)]
    assert [r.signal_index for r in rejections] == [1, 2]
    assert "insufficient cash to short 1 AAPL" in rejections[0].reason
    assert "collateral at the reference price 100 is 100" in rejections[0].reason


def test_only_the_part_beyond_the_holding_needs_collateral() -> None:
    # Holding 50 AAPL and no cash: selling 50 is fine, selling 51 shorts 1 uncovered share.
    book = exposure(cash="0", positions={"AAPL": "50"})
    assert validate(sell(50), SHORTING, book)[1] == []
    assert "insufficient cash to short 1 AAPL" in only_rejection(sell(51), SHORTING, book).reason


# --- what the broker says of its assets ------------------------------------------------


def test_a_short_of_an_asset_the_broker_does_not_lend_is_refused_but_selling_holdings_is_not():
    rules = TradingRules(allow_short=True, not_shortable=frozenset({"AAPL"}))
    rejection = only_rejection(sell(3), rules, exposure(positions={"AAPL": "1"}))
    assert "open a short of 2" in rejection.reason
    assert "not shortable" in rejection.reason
    intents, rejections = validate(sell(1), rules, exposure(positions={"AAPL": "1"}))
    assert rejections == []
    assert [i.quantity for i in intents] == [Decimal(1)]


def test_a_fraction_of_an_asset_traded_in_whole_shares_is_refused():
    rules = TradingRules(allow_fractional=True, not_fractionable=frozenset({"AAPL"}))
    rejection = only_rejection(buy(0.5), rules)
    assert "whole shares only" in rejection.reason
    intents, _ = validate(buy(0.5, "MSFT"), rules)
    assert [i.quantity for i in intents] == [Decimal("0.5")]


def test_numbers_in_refusals_are_spelled_once_and_a_committed_holding_is_not_held() -> None:
    """`63900.18`, not `63900.1800`; shares a resting sell already commits are not available."""
    rejection = only_rejection(buy(700), book=exposure(cash="63900.1800"))
    assert "available 63900.18" in rejection.reason
    assert "63900.1800" not in rejection.reason
    book = exposure(positions={"AAPL": "6.310000000"}, pending_sells={"AAPL": "6.31"})
    refused = only_rejection(sell(1), book=book)
    assert "selling 1 AAPL but only 0 available" in refused.reason
    assert "resting and open orders" in refused.reason


@pytest.mark.parametrize(
    ("signal", "hint"),
    [
        ({"symbol": "AAPL", "action": "buy", "qty": 1}, " — did you mean 'quantity'? allowed:"),
        ({"symbol": "AAPL", "side": "buy", "quantity": 1}, "; allowed:"),  # nothing close
        ({"symbol": "AAPL", "action": "buy", "qty": 1, "limit": 2, "type": "limit"},
         " — did you mean 'limit_price' for 'limit', 'quantity' for 'qty', 'order_type' for "
         "'type'? allowed:"),
    ],
    ids=["one", "none-close", "several"],
)  # fmt: skip
def test_a_misspelt_field_gets_a_guess_and_is_a_schema_error(signal: dict, hint: str) -> None:
    rejection = only_rejection(signal)
    assert rejection.schema
    assert hint in rejection.reason, rejection.reason
