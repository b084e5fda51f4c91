"""The host trusts nothing a worker sends: a compromised worker beside two honest ones.

A guard bypass hands a team its worker's channel, so the host must survive any bytes on it.
The rogue workers here are processes that speak the raw protocol (tests/fixtures/rogue/),
started in place of a sandboxed worker for their team; the honest teams run in the real
sandbox in the same ticks. Whatever the rogue sends, the tick returns within the budget, the
honest teams get their results, and the rogue's minute is a fault with a readable reason.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.domain.models import Bar
from app.engine.ports import StrategyResult, TeamCall, TeamCode
from app.market.store import BarStore
from app.strategies.history_api import HistoryAPI
from sandbox.host.supervisor import SandboxRunner, SandboxSettings
from sandbox.host.worker_handle import WorkerProcess
from sandbox.wire.messages import MAX_ERROR_CHARS, MAX_PRINTED_CHARS

REPO = Path(__file__).resolve().parents[3]
ROGUE = REPO / "tests" / "fixtures" / "rogue"
BUDGET = 1.0
MARGIN = 0.5  # scheduling slack on a busy 2-core machine
TICK = datetime(2026, 3, 12, 14, 5, tzinfo=UTC)
HONEST = """
class Honest:
    def __init__(self, params=None):
        self.calls = 0

    def generate_signal(self, team, bars, current_prices):
        self.calls += 1
        recent = team["api"].getLastN("AAA", 3)["close"]
        return {"symbol": "AAA", "action": "buy", "quantity": 1, "reason": f"call {self.calls}"}
"""


def window() -> dict[str, dict[str, np.ndarray]]:
    stamps = np.arange(
        np.datetime64("2026-03-12T14:00:00"), np.datetime64("2026-03-12T14:05:00"), 60
    ).astype("datetime64[s]")
    close = np.array([10.0, 10.5, 10.25, 11.0, 11.5])
    return {"AAA": {"timestamp": stamps, "open": close, "high": close, "low": close,
                    "close": close, "volume": np.full(5, 1000.0)}}  # fmt: skip


def history() -> HistoryAPI:
    store = BarStore()
    for i in range(5):
        stamp = datetime(2026, 3, 12, 14, i, tzinfo=UTC)
        store.append_minute({"AAA": Bar("AAA", stamp, 10.0, 10.0, 10.0, 10.0 + i, 1000.0)})
    return HistoryAPI(store)


class RogueRunner(SandboxRunner):
    """A real runner, except that the teams in `rogues` get a rogue process as their worker."""

    def __init__(self, rogues: dict[str, list[str]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rogues = rogues
        self.started: list[subprocess.Popen] = []
        self._spawning = ""

    def _begin(self, team_id: str, code: TeamCode) -> Any:
        self._spawning = team_id
        return super()._begin(team_id, code)

    def _spawn(self, config: dict[str, Any]) -> Any:
        if self._spawning not in self.rogues:
            return super()._spawn(config)
        import socket

        host_end, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        script, *args = self.rogues[self._spawning]
        process = subprocess.Popen(
            [sys.executable, str(ROGUE / script), str(worker_end.fileno()), *args],
            pass_fds=(worker_end.fileno(),),
            cwd=REPO,
            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        )
        worker_end.close()
        self.started.append(process)
        return WorkerProcess(process.pid), host_end

    def close(self) -> None:
        super().close()
        for process in self.started:
            process.kill()
            process.wait()


@pytest.fixture
def make_runner() -> Iterator[Any]:
    runners: list[RogueRunner] = []

    def make(rogues: dict[str, list[str]]) -> RogueRunner:
        runner = RogueRunner(rogues, settings=SandboxSettings(budget_seconds=BUDGET))
        runner.history = history()
        runners.append(runner)
        honest = TeamCode({"strategy.py": HONEST}, "Honest", {}, "v1")
        rogue = TeamCode({"strategy.py": HONEST}, "Honest", {}, "rogue")
        codes = {"honest-a": honest, "honest-b": honest} | dict.fromkeys(rogues, rogue)
        outcomes = runner.load_many(codes)
        assert all(o.ok for o in outcomes.values()), outcomes
        return runner

    yield make
    for runner in runners:
        runner.close()


def tick(runner: RogueRunner, teams: list[str]) -> tuple[dict[str, StrategyResult], float]:
    calls = [TeamCall(t, {"id": t, "name": t, "cash": 1e5, "positions": {}, "params": {}})
             for t in teams]  # fmt: skip
    started = time.monotonic()
    bars = window()
    results = runner.run_tick(TICK, bars, {"AAA": 11.5}, calls)
    return results, time.monotonic() - started


def assert_honest(results: dict[str, StrategyResult], call: int) -> None:
    for team in ("honest-a", "honest-b"):
        result = results[team]
        assert result.error is None, (team, result.error_kind, result.error)
        assert result.output == {
            "symbol": "AAA", "action": "buy", "quantity": 1, "reason": f"call {call}"
        }  # fmt: skip


FORGED: dict[str, str] = {
    "cpu_ms_not_a_number": "cpu_ms",
    "output_1000_deep": "nested more than",
    "printed_7_mb": "exceeds 1,048,576",
    "printed_100_kb": "printed has 100,000 characters",
    "unknown_op": "'shell'",
    "extra_field": "pid",
    "unknown_kind": "kind",
    "error_not_text": "error",
    "output_key_7000": "exceeds 1,048,576",
    "negative_cpu_ms": "cpu_ms",
    "nan_tag_not_text": "$float",
    "not_json": "not JSON",
    "json_array": "not a JSON object",
}


@pytest.mark.parametrize("forgery", sorted(FORGED))
def test_a_forged_frame_is_the_rogue_teams_fault_and_nobody_elses(make_runner, forgery) -> None:
    runner = make_runner({"rogue": ["forged_frame.py", forgery]})
    results, took = tick(runner, ["honest-a", "rogue", "honest-b"])
    assert took < BUDGET + MARGIN
    assert_honest(results, 1)
    rogue = results["rogue"]
    assert (rogue.error_kind, rogue.output) == ("protocol", None), rogue
    assert "the worker sent a frame the host refuses" in (rogue.error or "")
    assert FORGED[forgery] in (rogue.error or ""), rogue.error
    assert len(rogue.error or "") <= MAX_ERROR_CHARS
    assert len(rogue.printed) <= MAX_PRINTED_CHARS
    # The rogue worker was dropped; the next minute restarts it and the others go on.
    results, _took = tick(runner, ["honest-a", "rogue", "honest-b"])
    assert_honest(results, 2)
    assert results["rogue"].skipped


def test_a_flood_of_requests_and_a_forged_result_delay_nobody(make_runner) -> None:
    """480 requests and a result in one burst, answers drained just before the deadline."""
    runner = make_runner({"rogue": ["flood_then_forge.py", str(BUDGET)]})
    for call in range(1, 4):
        results, took = tick(runner, ["honest-a", "rogue", "honest-b"])
        assert took < BUDGET + MARGIN
        assert_honest(results, call)
        rogue = results["rogue"]
        assert rogue.output is None, rogue
        assert "FORGED" not in rogue.printed
        assert rogue.error_kind in ("protocol", None)
        assert rogue.skipped == (rogue.error is None)


def test_nothing_is_accepted_after_the_deadline(make_runner) -> None:
    runner = make_runner({"rogue": ["late_result.py", str(BUDGET)]})
    results, took = tick(runner, ["honest-a", "rogue", "honest-b"])
    assert took < BUDGET + MARGIN
    assert_honest(results, 1)
    assert results["rogue"].error_kind == "timeout"
    assert "LATE" not in results["rogue"].printed
