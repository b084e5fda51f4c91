"""Pro-rata allocation by largest remainder: exact sums, multiples of the quantum, ties."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.allocation import allocate_pro_rata, fee_quantum

D = Decimal
ONE = D(1)
NANO = D("0.000000001")
CENT = D("0.01")


def parts(total: str, weights: list[str], quantum: Decimal = ONE) -> list[Decimal]:
    return allocate_pro_rata(D(total), [D(w) for w in weights], quantum)


# --- hand-worked cases -----------------------------------------------------------------


def test_an_exact_split() -> None:
    assert parts("100", ["1", "3"]) == [D(25), D(75)]


def test_the_largest_remainder_gets_the_leftover_unit() -> None:
    # 10 over 1:2:4 → exact 1.43, 2.86, 5.71 → floors 1, 2, 5 (8); 2 units left:
    # remainders 3/7, 6/7, 5/7 → the second and the third get one → 1, 3, 6.
    assert parts("10", ["1", "2", "4"]) == [D(1), D(3), D(6)]


def test_ties_go_to_the_earlier_position() -> None:
    assert parts("1", ["1", "1", "1"]) == [D(1), D(0), D(0)]
    assert parts("2", ["1", "1", "1"]) == [D(1), D(1), D(0)]
    assert parts("5", ["2", "2"]) == [D(3), D(2)]


def test_the_same_input_always_gives_the_same_output() -> None:
    first = parts("1000", ["3", "7", "11", "7"], NANO)
    assert all(parts("1000", ["3", "7", "11", "7"], NANO) == first for _ in range(5))


def test_fractional_quantum() -> None:
    # 1 over three equal weights in nano units: 333333334, 333333333, 333333333.
    assert parts("1", ["1", "1", "1"], NANO) == [
        D("0.333333334"),
        D("0.333333333"),
        D("0.333333333"),
    ]


def test_cents() -> None:
    # 0.05 over 1:1 → 3 cents and 2 cents (tie → first).
    assert parts("0.05", ["1", "1"], CENT) == [D("0.03"), D("0.02")]


def test_fractional_weights_are_exact_ratios() -> None:
    # 0.5 : 1.5 = 1 : 3.
    assert parts("8", ["0.5", "1.5"]) == [D(2), D(6)]
    assert parts("3", ["0.000000001", "0.000000002"]) == [D(1), D(2)]


def test_a_zero_weight_gets_nothing() -> None:
    assert parts("7", ["0", "1", "0", "1"]) == [D(0), D(4), D(0), D(3)]


def test_a_single_weight_gets_everything() -> None:
    assert parts("123.456", ["0.7"], D("0.001")) == [D("123.456")]


def test_zero_total_gives_zeros_even_over_zero_weights() -> None:
    assert parts("0", ["3", "4"]) == [D(0), D(0)]
    assert parts("0", ["0", "0"]) == [D(0), D(0)]
    assert parts("0", []) == []


def test_a_positive_total_over_zero_weights_is_an_error() -> None:
    with pytest.raises(ValueError, match="zero weights"):
        parts("5", ["0", "0"])
    with pytest.raises(ValueError, match="zero weights"):
        parts("5", [])


def test_a_total_that_is_not_a_multiple_of_the_quantum_is_an_error() -> None:
    with pytest.raises(ValueError, match="not a multiple of the quantum"):
        parts("2.5", ["1", "1"])
    with pytest.raises(ValueError, match="not a multiple of the quantum"):
        parts("0.005", ["1"], CENT)


def test_negative_totals_or_weights_are_errors() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        parts("-1", ["1"])
    with pytest.raises(ValueError, match="non-negative"):
        parts("1", ["1", "-1"])


# --- fee quantum -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fee", "quantum"),
    [
        ("0", "0.01"),
        ("1", "0.01"),
        ("100", "0.01"),
        ("1.5", "0.01"),
        ("1.23", "0.01"),
        ("1.230", "0.01"),  # trailing zeros do not make the unit finer
        ("0.005", "0.001"),
        ("0.0001", "0.0001"),
    ],
)
def test_fee_quantum_is_cents_or_finer(fee: str, quantum: str) -> None:
    assert fee_quantum(D(fee)) == D(quantum)
    # The fee itself is always a whole number of its quantum.
    allocate_pro_rata(D(fee), [ONE], fee_quantum(D(fee)))


# --- properties ------------------------------------------------------------------------

quanta = st.sampled_from([ONE, CENT, D("0.0001"), NANO])
weights_st = st.lists(
    st.one_of(
        st.integers(0, 10**6).map(D),
        st.integers(0, 10**12).map(lambda n: D(n) * NANO),
    ),
    min_size=1,
    max_size=12,
).filter(lambda ws: any(w > 0 for w in ws))


@settings(max_examples=300, deadline=None)
@given(units=st.integers(0, 10**12), quantum=quanta, weights=weights_st)
def test_pro_rata_properties(units: int, quantum: Decimal, weights: list[Decimal]) -> None:
    total = units * quantum
    result = allocate_pro_rata(total, weights, quantum)
    assert len(result) == len(weights)
    assert sum(result, D(0)) == total  # exactly
    weight_sum = sum((Fraction(w) for w in weights), Fraction(0))
    for part, weight in zip(result, weights, strict=True):
        assert part >= 0
        assert (part / quantum) == (part / quantum).to_integral_value()  # a multiple
        exact = Fraction(total) * Fraction(weight) / weight_sum
        assert abs(Fraction(part) - exact) < Fraction(quantum)  # within one quantum
        if weight == 0:
            assert part == 0
    # Deterministic.
    assert allocate_pro_rata(total, list(weights), quantum) == result


@settings(max_examples=200, deadline=None)
@given(units=st.integers(1, 10**6), weights=weights_st)
def test_scaling_all_weights_does_not_change_the_split(units: int, weights: list[Decimal]) -> None:
    total = units * NANO
    assert allocate_pro_rata(total, weights, NANO) == allocate_pro_rata(
        total, [w * 1000 for w in weights], NANO
    )


@settings(max_examples=200, deadline=None)
@given(units=st.integers(0, 1000), count=st.integers(1, 8))
def test_equal_weights_differ_by_at_most_one_unit_earlier_first(units: int, count: int) -> None:
    result = allocate_pro_rata(D(units), [ONE] * count, ONE)
    assert max(result) - min(result) <= 1
    assert result == sorted(result, reverse=True)


def test_a_team_waiting_for_whole_shares_gets_whole_shares_and_the_fraction_goes_elsewhere() -> (
    None
):
    """Issue 13, observation 3: in a competition that allows fractions, a partial fill of
    a block with a whole-share team and a fractional team is split so the whole-share team
    keeps whole shares; the parts still sum exactly to the fill."""
    from app.domain.allocation import allocate_pro_rata, allocate_whole_first

    quantum = Decimal("0.000000001")
    waiting = [Decimal("2130"), Decimal("7.5")]
    assert allocate_pro_rata(Decimal(1000), waiting, quantum)[0] == Decimal("996.491228070")
    assert allocate_whole_first(Decimal(1000), waiting, [True, False], quantum) == [
        Decimal(996),
        Decimal(4),
    ]
    # Only whole-share teams: whole parts, the last unit to the largest remainder.
    assert allocate_whole_first(Decimal(5), [Decimal(3), Decimal(4)], [True, True], quantum) == [
        Decimal(2),
        Decimal(3),
    ]
    # A fraction no fractional team has room for still lands somewhere: the sum is exact.
    odd = allocate_whole_first(Decimal("5.5"), [Decimal(3), Decimal(4)], [True, True], quantum)
    assert sum(odd) == Decimal("5.5")
