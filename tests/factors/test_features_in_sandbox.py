"""features() from inside the real sandbox: a strategy asks, the host evaluates, the answer
matches the host's own computation; a hostile or malformed expression is an error for that
team only, and the host's time is counted in the team's duration."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterator

import numpy as np
import pytest

from app.engine.ports import TeamCall, TeamCode
from app.factors.service import FactorService
from app.market.store import BarStore
from app.strategies.history_api import HistoryAPI
from sandbox.host.supervisor import SandboxRunner, SandboxSettings

pytest.importorskip("qlib", reason="the qlib extra is not installed (make qlib)")

MINUTES = 900
EXPRESSIONS = ["Mean($close, 20)", "Corr($close, $volume, 10)", "$close / Ref($close, 1) - 1"]

ASKER = """
class S:
    def __init__(self, params=None):
        self.expressions = params["expressions"]

    def generate_signal(self, team, bars, current_prices):
        answer = team["api"].features(["AAPL", "ARKK"], self.expressions, n=30)
        return {
            symbol: {
                text: [None if math.isnan(v) else float(v) for v in values]
                for text, values in columns.items() if text != "timestamp"
            }
            for symbol, columns in answer.items()
        }
"""

PROBER = """
class S:
    def __init__(self, params=None):
        self.tries = params["tries"]

    def generate_signal(self, team, bars, current_prices):
        refused = []
        for expression in self.tries:
            try:
                team["api"].features("SPY", expression)
                refused.append(None)
            except Exception as error:
                refused.append(str(error))
        return refused
"""


@pytest.fixture(scope="module")
def store(real_market) -> BarStore:
    bars = BarStore()
    for minute in real_market.minutes()[:MINUTES]:
        bars.append_minute(real_market.bars(minute))
    return bars


@pytest.fixture(scope="module")
def runner(store: BarStore) -> Iterator[SandboxRunner]:
    sandbox = SandboxRunner(
        SandboxSettings(budget_seconds=3.0), history=HistoryAPI(store, FactorService(store))
    )
    try:
        yield sandbox
    finally:
        sandbox.close()


def run(runner: SandboxRunner, team: str, source: str, store: BarStore, **params):
    code = TeamCode({"strategy.py": "import math\n" + textwrap.dedent(source)}, "S", params, "v1")
    assert runner.load(team, code).ok
    header = {"id": team, "name": team, "cash": 1e5, "positions": {}, "params": params}
    tick = store.last_n("SPY", 1)["timestamp"][0].astype(object)
    return runner.run_tick(tick, store.window(5), store.last_closes(), [TeamCall(team, header)])[
        team
    ]


def test_a_strategy_gets_what_the_host_computes(runner, store):
    result = run(runner, "asker", ASKER, store, expressions=EXPRESSIONS)
    assert result.error is None, result.error
    expected = FactorService(store).features(["AAPL", "ARKK"], EXPRESSIONS, n=30)
    for symbol, columns in result.output.items():
        for text in EXPRESSIONS:
            got = np.array([math.nan if v is None else v for v in columns[text]])
            np.testing.assert_array_equal(got, expected[symbol][text])
    assert result.duration_ms > 0


def test_hostile_and_malformed_expressions_are_errors_for_the_team_only(runner, store):
    tries = [
        '__import__("os").system("touch /tmp/pwned")',
        "(getattr)(Mean, 'mro')",
        "Mean($close, -5)",
        "ChangeInstrument(1, $close)",
        "Mean($close, 5)",  # a good one still answers afterwards
    ]
    result = run(runner, "prober", PROBER, store, tries=tries)
    assert result.error is None, result.error
    *refused, fine = result.output
    assert fine is None
    assert all(r and "FeatureError" not in r for r in refused)  # the reason, not a traceback
    assert "characters not allowed" in refused[0]
    assert "whole number of bars" in refused[2]
    assert "unknown operator 'ChangeInstrument'" in refused[3]
    again = run(runner, "asker2", ASKER, store, expressions=EXPRESSIONS[:1])
    assert again.error is None  # the host is fine
