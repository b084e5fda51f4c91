"""Only plain data leaves a worker; NaN stays recognisable; junk gets a clear message."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sandbox.worker.plain import MAX_DEPTH, MAX_ITEMS, NotPlainDataError, from_wire, to_wire


def test_plain_signals_pass_unchanged_and_numpy_scalars_become_python() -> None:
    signal = {
        "symbol": "AAA",
        "action": "buy",
        "quantity": np.int64(5),
        "limit_price": np.float64(1.5),
    }
    wired = to_wire([signal, None])
    assert wired == [{"symbol": "AAA", "action": "buy", "quantity": 5, "limit_price": 1.5}, None]
    assert type(wired[0]["quantity"]) is int


def test_non_finite_floats_survive_the_trip() -> None:
    back = from_wire(to_wire({"quantity": float("nan"), "limit_price": -math.inf}))
    assert math.isnan(back["quantity"])
    assert back["limit_price"] == -math.inf


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (object(), "contains a object"),
        ({1: "x"}, "key that is not a string"),
        ([0] * (MAX_ITEMS + 1), "too large"),
        ({"a": np.zeros(3)}, "contains a ndarray"),
    ],
)
def test_junk_is_refused_with_a_reason(output: object, message: str) -> None:
    with pytest.raises(NotPlainDataError, match=message):
        to_wire(output)


def test_deep_nesting_is_refused() -> None:
    nested: list = []
    for _ in range(MAX_DEPTH + 2):
        nested = [nested]
    with pytest.raises(NotPlainDataError, match="nested"):
        to_wire(nested)
