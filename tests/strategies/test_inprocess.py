"""The in-process runner: loads strategies, turns every fault into a result."""

from __future__ import annotations

from datetime import UTC, datetime

from app.engine.ports import TeamCall
from app.strategies.inprocess import MAX_PRINTED_CHARS, InProcessRunner
from tests.conftest import FIXTURE_STRATEGIES

TICK = datetime(2026, 3, 12, 14, 0, tzinfo=UTC)


def call(runner: InProcessRunner, team: str = "t") -> object:
    header = {"id": team, "name": team, "cash": 1.0, "positions": {}, "params": {}}
    return runner.run_tick(TICK, {}, {"AAA": 1.0}, [TeamCall(team, header)])[team]


def test_a_load_failure_is_reported_on_each_call_not_raised(tmp_path):
    runner = InProcessRunner()
    runner.load("t", FIXTURE_STRATEGIES / "bad_init.py", "BadInit", {}, "v1")
    result = call(runner)
    assert result.error_kind == "load"
    assert "missing parameter 'alpha'" in result.error
    assert "bad_init.py:3" in result.error

    (tmp_path / "syntax.py").write_text("class S:\n    def generate_signal(self:\n")
    runner.load("t", tmp_path / "syntax.py", "S", {}, "v2")
    assert "syntax.py:2: syntax error" in call(runner).error

    runner.load("t", FIXTURE_STRATEGIES / "scripted.py", "Missing", {}, "v3")
    assert "no class named 'Missing'" in call(runner).error


def test_printing_is_captured_and_bounded(tmp_path):
    (tmp_path / "loud.py").write_text(
        "class Loud:\n"
        "    def __init__(self, params=None):\n        pass\n"
        "    def generate_signal(self, team, bars, prices):\n"
        "        print('x' * 100_000)\n        return None\n"
    )
    runner = InProcessRunner()
    runner.load("t", tmp_path / "loud.py", "Loud", {}, "v1")
    result = call(runner)
    assert result.error is None
    assert len(result.printed) == MAX_PRINTED_CHARS


def test_a_reload_replaces_the_instance_and_its_state():
    runner = InProcessRunner()
    params = {"script": {"1": {"symbol": "AAA", "action": "buy", "quantity": 1}}}
    runner.load("t", FIXTURE_STRATEGIES / "scripted.py", "ScriptedStrategy", params, "v1")
    assert call(runner).output is None
    assert call(runner).output == {"symbol": "AAA", "action": "buy", "quantity": 1}
    runner.load("t", FIXTURE_STRATEGIES / "scripted.py", "ScriptedStrategy", params, "v2")
    first = call(runner)
    assert first.output is None  # the new instance starts again at call 0
    assert first.version == "v2"
