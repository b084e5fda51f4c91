"""Exact numbers for the books: one spelling per value, and floats taken at their word."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal


def canonical(number: Decimal) -> Decimal:
    """`436.0` → `436`, `10.3000` → `10.3`, `1E+3` → `1000`: one spelling per value."""
    if number == number.to_integral_value():
        return Decimal(int(number))
    # Strip trailing zeros from the exact fixed-point text: normalize() would round to
    # the context's 28 digits and could turn 1.000…0001 into a whole share.
    return Decimal(format(number, "f").rstrip("0").rstrip("."))


PRICE_QUANTUM = Decimal("0.000001")  # a price in the books: at most 6 decimals (0024)


def price_from_float(value: float) -> Decimal:
    """A market-data float as the decimal it was published as (`258.64`, not 258.6399…),
    at most 6 decimals (half-even): a float from a CSV (`275.07501220703125`) is its
    published price plus noise, and the books hold every product of it exactly."""
    price = Decimal(repr(value))
    if price.is_finite() and price.as_tuple().exponent < -6:  # type: ignore[operator]
        price = price.quantize(PRICE_QUANTUM, rounding=ROUND_HALF_EVEN)
    return canonical(price)
