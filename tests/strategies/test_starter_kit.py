"""The starter kit's strategies follow the contract, checked by the kit's own local test."""

from __future__ import annotations

import importlib.util
import json

import pytest
import yaml

from app.config.registry import load_registry
from app.ledger.paths import TRADES, owner_dir
from app.market.replay import ReplayMarket
from app.runtime.competition import build_competition
from tests.conftest import REPO, error_lines

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


def test_the_factor_example_trades_on_qlib_features_in_a_real_replay(real_bars, tmp_path):
    """The kit's features() example, in the real sandbox on real bars: it gets its factor
    values from the host (it would say so and hold if it did not) and trades on them."""
    pytest.importorskip("qlib", reason="the qlib extra is not installed (make qlib)")
    registry = tmp_path / "registry.yaml"
    team = {"team_id": "factors", "name": "Factors", "initial_cash": 100_000,
            "strategy": str(KIT / "examples" / "factor_momentum.py"),
            "entry_point": "FactorMomentumStrategy", "params": {"rebalance_every": 10}}  # fmt: skip
    registry.write_text(yaml.safe_dump({"competition": {}, "teams": [team]}))
    market = ReplayMarket.load(real_bars)
    competition = build_competition(load_registry(registry), market, tmp_path / "data")
    assert competition.run(market.minutes()[:150]) == []
    folder = owner_dir(tmp_path / "data", "factors")
    errors = "\n".join(json.dumps(line) for line in error_lines(folder))
    assert "unavailable" not in errors
    assert "Error" not in errors
    trades = [json.loads(line) for line in (folder / TRADES).read_text().splitlines()]
    assert {t["side"] for t in trades} == {"buy", "sell"}  # it bought the top and rotated
