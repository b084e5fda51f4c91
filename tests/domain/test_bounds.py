"""Bounded quoting of a team's values: every helper has a hard length bound."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.domain.bounds import (
    MAX_QUOTED_CHARS,
    MAX_SIGNAL_CHARS,
    amount,
    clip,
    name_some,
    quote,
    signal_copy,
)


@pytest.mark.parametrize(
    "value",
    [
        "s" * 1000,
        "\x01" * 1000,  # each becomes four characters in a repr
        "€" * 1000,
        ["a" * 990] * 900,
        {f"{i}{'k' * 990}": ["v" * 990] * 50 for i in range(200)},
        [[[[[[[[["deep"]]]]]]]]],
        10**5000,  # str() of it raises ValueError
        -(10**4000),
        Decimal("1E+999999"),
        1.7976931348623157e308,
    ],
    ids=["str", "control", "euro", "list", "dict", "nested", "int", "negative", "decimal", "float"],
)
@pytest.mark.parametrize("limit", [12, 32, MAX_QUOTED_CHARS, MAX_SIGNAL_CHARS])
def test_a_quote_never_exceeds_its_limit(value: object, limit: int) -> None:
    assert len(quote(value, limit)) <= limit


def test_short_values_are_quoted_as_repr_does() -> None:
    assert quote("TSLA") == "'TSLA'"
    assert quote(["hold"]) == "['hold']"
    assert quote(7) == "7"
    assert quote(None) == "None"


def test_a_long_string_keeps_its_start_and_its_end() -> None:
    quoted = quote("A" * 500 + "Z", 32)
    assert quoted.startswith("'AAAA")
    assert quoted.endswith("AZ'")
    assert "..." in quoted


def test_clip_keeps_short_text_and_says_how_much_of_long_text_was_cut() -> None:
    assert clip("hello", 100) == "hello"
    clipped = clip("x" * 10_000, 500)
    assert 500 - 40 <= len(clipped) <= 500
    assert clipped.startswith("x" * 400)
    assert clipped.endswith("[9,540 more characters]")


def test_name_some_lists_a_few_names_and_counts_the_rest() -> None:
    assert name_some(["qty"]) == "'qty'"
    assert name_some(["a", "b", "c"]) == "'a', 'b', 'c'"
    assert name_some(["a", "b", "c", "d", "e"]) == "'a', 'b', 'c' and 2 more"
    long = name_some(["n" * 1000] * 900)
    assert long.endswith(" and 897 more")
    assert len(long) <= 3 * (MAX_QUOTED_CHARS + 2) + len(" and 897 more")


def test_signal_copy_is_a_bounded_string_with_its_keys_sorted() -> None:
    copy = signal_copy({"symbol": "AAPL", "action": "buy", "quantity": 1, "qty": 2})
    assert copy == "{'action': 'buy', 'qty': 2, 'quantity': 1, 'symbol': 'AAPL'}"
    huge = {"symbol": "AAPL", **{f"{i}{'k' * 990}": "v" * 990 for i in range(900)}}
    assert len(signal_copy(huge)) <= MAX_SIGNAL_CHARS


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (Decimal("436"), "436"),
        (Decimal("0.5"), "0.5"),
        (Decimal("12345.678"), "12345.678"),
        (Decimal(10**308), "1.000000E+308"),
        (Decimal("1E-300"), "1E-300"),
        (Decimal("0.1234567890123456789012345678"), "0.1234567890123456789012345678"),
        (Decimal("0." + "1234567890" * 5), "1.234568E-1"),
    ],
)
def test_amounts_are_plain_unless_their_digits_run_long(number: Decimal, text: str) -> None:
    assert amount(number) == text
