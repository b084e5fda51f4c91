"""Only plain data leaves a worker; NaN stays recognisable; junk gets a clear message."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sandbox.wire.messages import plain_data
from sandbox.worker.plain import MAX_DEPTH, MAX_ITEMS, MAX_STRING, NotPlainDataError, to_wire


def from_wire(value: object) -> object:
    """What the host makes of it (sandbox.wire.messages decodes every result this way)."""
    return plain_data(value, MAX_DEPTH + 1, MAX_ITEMS, "output")


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


# -- a team's subclasses cannot lie to the encoder --------------------------------------------


class DeepStr(str):
    """Slicing (what an encoder cutting long strings does) returns a deep list instead."""

    def __getitem__(self, key):
        nested: list = []
        for _ in range(10_000):
            nested = [nested]
        return nested

    def __len__(self):
        return 1


class HugeDict(dict):
    def items(self):
        return [(f"k{i}", i) for i in range(10 * MAX_ITEMS)]


class LyingList(list):
    def __iter__(self):
        return iter([[[[[[[[[[[1]]]]]]]]]]])

    def __len__(self):
        return 0


class LyingFloat(float):
    def __float__(self):
        return 1e300


class LyingInt(int):
    def __index__(self):
        return 10**400

    def __int__(self):
        return 10**400


def test_a_str_subclass_is_sent_as_its_own_characters_cut_to_the_limit() -> None:
    wired = to_wire({"symbol": DeepStr("A" * (MAX_STRING + 5)), "action": "buy"})
    assert wired == {"symbol": "A" * MAX_STRING, "action": "buy"}
    assert type(wired["symbol"]) is str


def test_containers_are_read_with_their_base_types_own_methods() -> None:
    assert to_wire(HugeDict(a=1)) == {"a": 1}
    assert to_wire(LyingList([1, 2])) == [1, 2]
    assert to_wire((1, 2)) == [1, 2]
    assert type(to_wire(HugeDict(a=1))) is dict


def test_numbers_are_sent_as_their_own_values() -> None:
    assert to_wire([LyingFloat(2.5), LyingInt(7)]) == [2.5, 7]
    assert [type(v) for v in to_wire([LyingFloat(2.5), LyingInt(7)])] == [float, int]


def test_keys_must_be_strings_even_in_a_subclass() -> None:
    class Keyed(dict):
        pass

    with pytest.raises(NotPlainDataError, match="key that is not a string"):
        to_wire(Keyed({1: 2}))


def test_nesting_a_million_deep_is_refused_without_recursion() -> None:
    nested: list = []
    for _ in range(1_000_000):
        nested = [nested]
    with pytest.raises(NotPlainDataError, match="nested"):
        to_wire(nested)


def test_the_host_sees_the_strategys_keys_in_the_strategys_order() -> None:
    signal = {"symbol": "AAA", "action": "buy", "quantity": 1, "reason": "r", "z": {"b": 1, "a": 2}}
    assert list(from_wire(to_wire(signal))) == ["symbol", "action", "quantity", "reason", "z"]
    assert list(from_wire(to_wire(signal))["z"]) == ["b", "a"]
