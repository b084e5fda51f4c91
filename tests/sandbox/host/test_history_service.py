"""A team's history requests can fail only for that team: never an exception in the host.

`team["api"]` requests are answered by the host from its bar store. Whatever a team asks —
dates the host cannot represent, huge counts, thousands of symbols, a symbol of 900
characters — the answer is an error the team reads, the tick returns, and the other teams'
calls are unaffected.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson
import pytest

from app.domain.models import Bar
from app.engine.ports import TeamCall, TeamCode
from app.market.store import BarStore
from app.strategies.history_api import HistoryAPI
from sandbox.host.history_server import MAX_ANSWER_BARS, answer
from sandbox.host.supervisor import SandboxRunner, SandboxSettings
from sandbox.wire.messages import ApiRequest

REPO = Path(__file__).resolve().parents[3]
HOSTILE = REPO / "tests" / "fixtures" / "hostile"
TICK = datetime(2026, 3, 12, 14, 5, tzinfo=UTC)
HONEST = """
class Honest:
    def __init__(self, params=None):
        pass

    def generate_signal(self, team, bars, current_prices):
        closes = team["api"].getLastN("AAA", 3)["close"]
        return {"symbol": "AAA", "action": "buy", "quantity": 1, "reason": str(len(closes))}
"""


def store() -> BarStore:
    bars = BarStore()
    for i in range(5):
        stamp = datetime(2026, 3, 12, 14, i, tzinfo=UTC)
        bars.append_minute({"AAA": Bar("AAA", stamp, 10.0, 10.0, 10.0, 10.0 + i, 1000.0)})
    return bars


def window() -> dict[str, dict[str, np.ndarray]]:
    stamps = np.array(["2026-03-12T14:04:00"], dtype="datetime64[s]")
    one = np.array([14.0])
    return {"AAA": {"timestamp": stamps, "open": one, "high": one, "low": one, "close": one,
                    "volume": one}}  # fmt: skip


def test_impossible_dates_are_the_asking_teams_error_and_the_tick_goes_on() -> None:
    runner = SandboxRunner(SandboxSettings(budget_seconds=2.0), history=HistoryAPI(store()))
    try:
        attack = (HOSTILE / "history_date_overflow.py").read_text()
        runner.load("attacker", TeamCode({"strategy.py": attack}, "Attack", {}, "v1"))
        runner.load("honest", TeamCode({"strategy.py": HONEST}, "Honest", {}, "v1"))
        calls = [TeamCall(t, {"id": t, "name": t, "cash": 1e5, "positions": {}, "params": {}})
                 for t in ("attacker", "honest")]  # fmt: skip
        for _minute in range(6):
            results = runner.run_tick(TICK, window(), {"AAA": 14.0}, calls)
            assert results["honest"].output["reason"] == "3", results["honest"]
            assert results["attacker"].error is None, results["attacker"].error
        printed = results["attacker"].printed.splitlines()
        assert len(printed) == 7
        assert all(line.startswith("refused: ") for line in printed), printed
        assert "between" in printed[0]
        assert "between" in printed[1]
        assert max(len(line) for line in printed) <= 200
    finally:
        runner.close()


class Exploding:
    """A history service with a bug: whatever it raises stays the asking team's problem."""

    def getLastN(self, symbol, n):  # noqa: N802
        raise ZeroDivisionError("a bug in the service")


def test_a_failing_service_answers_with_an_error_and_logs_it(caplog) -> None:
    reply = answer(Exploding(), ApiRequest("getLastN", ["AAA", 1]), team="t1")
    assert reply.error == "getLastN: the host could not answer (ZeroDivisionError)"
    assert "history getLastN for team t1 failed" in caplog.text


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("getDay", ["AAA", "9999-12-31"]),
        ("getRange", ["AAA", "0001-01-01T00:00:00+01:00", "2026-01-01T00:00:00Z"]),
        ("getDayMulti", [["AAA"], "9999-12-31"]),
        ("getLastN", ["AAA", 10**18]),
        ("getLastNMulti", [["A" * 900], 1]),
        ("getRange", ["AAA", {"year": 1}, []]),
        ("features", [["AAA"], ["Mean($close, 5)"] * 2000, 1]),
    ],
)
def test_each_request_the_red_team_sent_gets_a_readable_error(method: str, args: list) -> None:
    reply = answer(HistoryAPI(store()), ApiRequest(method, args), team="t1")
    assert reply.error is not None
    assert reply.error.startswith(f"{method}: ")
    assert "could not answer" not in reply.error  # refused by the checks, not by accident
    assert len(reply.error) <= 300


def wide_store(symbols: int, minutes: int) -> BarStore:
    bars = BarStore()
    start = datetime(2026, 3, 2, 14, 30, tzinfo=UTC).timestamp()
    for minute in range(minutes):
        stamp = datetime.fromtimestamp(start + 60 * minute, UTC)
        names = [f"S{i:03d}" for i in range(symbols)]
        bars.append_minute({s: Bar(s, stamp, 10.5, 11.25, 10.0, 10.75, 1500.0) for s in names})
    return bars


def test_a_request_for_too_many_bars_is_refused_before_the_answer_is_built() -> None:
    """The red team's getRangeMulti over every symbol cost the host a quarter of a second
    and 15 MB before the size check refused it: the bars are now counted first."""
    history = HistoryAPI(wide_store(500, 420))
    symbols = [f"S{i:03d}" for i in range(500)]
    reply = answer(history, ApiRequest("getLastNMulti", [symbols, 420]), team="t1")
    assert reply.error == (
        f"getLastNMulti: 210,000 bars are more than one answer holds ({MAX_ANSWER_BARS:,}): "
        "ask for fewer symbols or a shorter range"
    )
    served = answer(history, ApiRequest("getLastNMulti", [symbols[:10], 420]), team="t1")
    assert served.error is None
    assert len(orjson.loads(orjson.dumps(served.data))["S009"]["close"]) == 420
