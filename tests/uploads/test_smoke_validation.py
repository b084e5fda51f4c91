"""Issue 15, item 8: the upload's smoke call checks what the strategy returned with the
engine's own validator: a schema error refuses the upload with a hint, a rule refusal
(cash, holdings, the universe) is a warning in the report."""

from __future__ import annotations

import pytest

from app.market.lake import BarLake
from app.uploads.pipeline import UploadPipeline
from app.uploads.store import StrategyStore
from sandbox.host.supervisor import SandboxSettings

RETURNS = """
class Strategy:
    def __init__(self, params):
        pass

    def generate_signal(self, team, bars, current_prices):
        symbol = sorted(current_prices)[0]
        return {SIGNAL}
"""


def source(signal: str) -> bytes:
    return RETURNS.replace("{SIGNAL}", signal).encode()


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    data = tmp_path_factory.mktemp("smoke") / "data"
    pipeline = UploadPipeline(StrategyStore(data), BarLake(data), SandboxSettings(2.0))
    yield pipeline
    pipeline.close()


def test_a_misspelt_field_refuses_the_upload_with_a_hint(pipeline):
    outcome = pipeline.accept(
        "alpha", "s.py", source('{"symbol": symbol, "action": "buy", "qty": 1}'), None, {}
    )
    assert not outcome.accepted
    assert outcome.problems == [
        "smoke test: signal 0: unknown field(s) 'qty' — did you mean 'quantity'? allowed: "
        "action, limit_price, order_type, quantity, reason, symbol"
    ]
    assert pipeline.store.versions("alpha") == []


@pytest.mark.parametrize(
    ("signal", "problem"),
    [
        ('{"symbol": symbol, "action": "purchase", "quantity": 1}', "'action' must be 'buy'"),
        ('{"symbol": symbol, "action": "buy", "quantity": "1"}', "'quantity' must be a number"),
        ('{"symbol": symbol, "action": "buy"}', "'quantity' must be a number"),
        ('"buy"', "generate_signal returned str"),
    ],
    ids=["wrong-value", "wrong-type", "missing", "not-a-signal"],
)
def test_a_schema_error_refuses_the_upload(pipeline, signal, problem):
    outcome = pipeline.accept("beta", "s.py", source(signal), None, {})
    assert not outcome.accepted
    assert problem in outcome.problems[0], outcome.problems


def test_a_rule_refusal_is_a_warning_and_the_upload_is_stored(pipeline):
    signals = (
        '[{"symbol": symbol, "action": "buy", "quantity": 10**9},'
        ' {"symbol": symbol, "action": "sell", "quantity": 5},'
        ' {"symbol": "NOPE", "action": "buy", "quantity": 1}]'
    )
    outcome = pipeline.accept("gamma", "s.py", source(signals), None, {})
    assert outcome.accepted, outcome.problems
    warnings = outcome.report["smoke"]["warnings"]
    assert [w.split(":")[0] for w in warnings] == ["signal 0", "signal 1", "signal 2"]
    assert "insufficient cash" in warnings[0]
    assert "only 0 available" in warnings[1]
    assert "unknown symbol 'NOPE'" in warnings[2]
