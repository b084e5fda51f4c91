"""Parsing and checking factor expressions: what is accepted, its canonical form, and a clear
error for everything malformed or hostile (an expression is data, never code)."""

from __future__ import annotations

import pytest

from app.factors.expressions import (
    MAX_LENGTH,
    MAX_WINDOW,
    OPERATORS,
    ExpressionError,
    Field,
    Op,
    parse_expression,
)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Mean($close, 5)", "Mean($close,5)"),
        ("  Mean( $close ,5 ) ", "Mean($close,5)"),  # spacing does not matter
        ("$close / Ref($close, 1) - 1", "Sub(Div($close,Ref($close,1)),1)"),
        ("Corr($close, Log($volume + 1), 10)", "Corr($close,Log(Add($volume,1)),10)"),
        ("($close > Mean($close, 20)) & ($volume > 0)",
         "And(Gt($close,Mean($close,20)),Gt($volume,0))"),
        ("-$close", "Mul($close,-1)"),
        ("$high ** 2 >= -1.5", "Ge(Power($high,2),-1.5)"),
        ("If($close > $open, 1, -1)", "If(Gt($close,$open),1,-1)"),
        ("Quantile($close, 30, 0.8)", "Quantile($close,30,0.8)"),
        ("EMA($close, 0.3)", "EMA($close,0.3)"),
    ],
)  # fmt: skip
def test_accepted_expressions_have_one_canonical_form(text: str, key: str):
    assert parse_expression(text).key == key


def test_the_tree_names_operators_and_fields():
    expression = parse_expression("Corr($close, $volume, 10)")
    assert expression.tree == Op("Corr", (Field("close"), Field("volume"), 10))
    assert expression.fields == {"close", "volume"}
    assert expression.text == "Corr($close, $volume, 10)"


def test_every_listed_operator_parses_with_its_arguments():
    samples = {"EXPR": "$close", "WINDOW": "5", "SPAN": "10", "SCORE": "0.5"}
    for name, spec in OPERATORS.items():
        text = f"{name}({', '.join(samples[a.name] for a in spec)})"
        assert parse_expression(text).tree.name == name


def balanced_sum(depth: int) -> str:
    return "$low" if depth == 0 else f"({balanced_sum(depth - 1)}+{balanced_sum(depth - 1)})"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('__import__("os").system("id")', "characters not allowed"),
        ("open('/etc/passwd')", "characters not allowed"),
        ("exec(1)", "unknown operator 'exec'"),
        ("Mean.__class__", "characters not allowed"),
        ("$close.real", "Attribute is not part"),
        ("lambda: 1", "characters not allowed"),
        ("[x for x in $close]", "characters not allowed"),
        ("Mean($close, N=5)", "positional arguments only"),
        ("ChangeInstrument(1, $close)", "unknown operator 'ChangeInstrument'"),
        ("Mean($close)", "takes 2 argument(s), got 1"),
        ("Mean($close, 0)", "whole number of bars from 1"),
        ("Mean($close, 2.5)", "whole number of bars from 1"),
        (f"Mean($close, {MAX_WINDOW + 1})", "whole number of bars from 1"),
        ("Ref($close, -1)", "from 1 to"),  # a negative shift would look ahead
        ("Quantile($close, 10, 2)", "a number from 0 to 1"),
        ("Mean($close, $volume)", "whole number of bars"),
        ("$foo + 1", "unknown field $foo"),
        ("$$close", "not a valid expression"),
        ("Mean($close, 5", "not a valid expression"),
        ("", "must not be empty"),
        ("1 + 2", "at least one field or expression"),
        ("Mean(3, 5)", "at least one field or expression"),
        ("close + 1", "neither a field"),
        ("$close < $open < $high", "chained comparisons"),
        ("$close if 1 else 2", "IfExp is not part"),
        ("True + $close", "not a number"),
        ("1e999 * $close", "numbers must be within"),
        ("Mean(" * 100 + "$close" + ", 2)" * 100, "longer than"),
        ("Abs(" * 60 + "$close" + ")" * 60, "nested deeper than"),
        ("+".join(["$open"] * 14), "nested deeper than"),  # a + b + ... nests to the left
        (balanced_sum(5), "more than 60 parts"),  # 63 parts, 6 deep
        ("$close\n+1", "characters not allowed"),
    ],
)  # fmt: skip
def test_malformed_and_hostile_expressions_get_a_clear_error(text: str, reason: str):
    with pytest.raises(ExpressionError) as caught:
        parse_expression(text)
    assert reason in str(caught.value)


def test_non_text_and_overlong_input_is_refused():
    with pytest.raises(ExpressionError, match="must be a string"):
        parse_expression(b"Mean($close, 5)")
    with pytest.raises(ExpressionError, match="longer than"):
        parse_expression("$close+" * (MAX_LENGTH // 7 + 1) + "1")


def test_vwap_only_where_the_bars_carry_it():
    assert parse_expression("$vwap").fields == {"vwap"}
    fields = ("open", "high", "low", "close", "volume")
    with pytest.raises(ExpressionError, match="unknown field \\$vwap"):
        parse_expression("$vwap - $close", fields)
