"""The starter kit's strategies follow the contract, checked by the kit's own local test."""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import REPO

KIT = REPO / "strategy_starter"


def local_test():
    spec = importlib.util.spec_from_file_location("starter_local_test", KIT / "test_strategy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("file", "entry_point"),
    [
        ("strategy.py", "MomentumStrategy"),
        ("examples/mean_reversion.py", "MeanReversionStrategy"),
        ("examples/buy_and_hold.py", "BuyAndHoldStrategy"),
    ],
)
def test_each_kit_strategy_trades_within_the_contract(file, entry_point):
    counts = local_test().run(KIT / file, entry_point)
    assert counts["minutes"] == 400
    assert counts["buys"] > 0


def test_the_local_test_catches_contract_breaks():
    check = local_test().check_signal
    prices = {"AAA": 1.0}
    assert check({"symbol": "AAA", "action": "buy", "quantity": 1}, prices) == []
    assert check({"symbol": "AAA", "action": "buy", "qty": 1}, prices)[0] == "unknown field 'qty'"
    assert check({"symbol": "ZZZ", "action": "sell", "quantity": 2.5}, prices) == [
        "unknown symbol 'ZZZ'",
        "quantity must be a positive whole number, got 2.5",
    ]
