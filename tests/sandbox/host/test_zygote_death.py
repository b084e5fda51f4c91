"""The zygote dying (and every worker with it) is a fault for the teams, never a crash of the
host; the next tick starts a new zygote and the teams recover."""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime

import numpy as np

from app.engine.ports import TeamCall, TeamCode
from sandbox.host.supervisor import SandboxRunner, SandboxSettings
from sandbox.wire.window import FIELDS

SOURCE = """
class S:
    def __init__(self, params=None):
        self.calls = 0

    def generate_signal(self, team, bars, current_prices):
        self.calls += 1
        return {"symbol": "AAA", "action": "buy", "quantity": self.calls}
"""
TICK = datetime(2026, 3, 12, 14, 0, tzinfo=UTC)
WINDOW = {
    "AAA": {
        f: np.array(["2026-03-12T14:00"], dtype="datetime64[s]") if f == "timestamp" else
        np.array([10.0])
        for f in FIELDS
    }
}  # fmt: skip
CALL = TeamCall("t", {"id": "t", "name": "t", "cash": 1.0, "positions": {}, "params": {}})


def tick(runner: SandboxRunner):
    return runner.run_tick(TICK, WINDOW, {"AAA": 10.0}, [CALL])["t"]


def test_a_dead_zygote_is_replaced_and_the_team_recovers() -> None:
    runner = SandboxRunner(SandboxSettings(budget_seconds=2.0))
    try:
        assert runner.load("t", TeamCode({"strategy.py": SOURCE}, "S", {}, "v1")).ok
        assert tick(runner).output["quantity"] == 1
        old = runner.zygote.pid
        os.kill(old, signal.SIGKILL)  # its workers die with it (parent-death signal)
        time.sleep(0.3)
        lost = tick(runner)
        assert lost.error_kind == "crash"  # a result, not an exception
        assert tick(runner).skipped  # restarting, on a new zygote
        assert runner.zygote.pid != old
        assert tick(runner).output["quantity"] == 1  # fresh state
    finally:
        runner.close()


LOOP = """
class S:
    def __init__(self, params=None):
        pass

    def generate_signal(self, team, bars, current_prices):
        while True:
            pass
"""


def test_a_mass_restart_stays_within_the_budget_and_is_spread_over_ticks() -> None:
    budget = 0.5
    runner = SandboxRunner(SandboxSettings(budget_seconds=budget))
    teams = [f"t{n}" for n in range(25)]
    calls = [TeamCall(t, {**CALL.header, "id": t}) for t in teams]
    try:
        outcomes = runner.load_many(
            {t: TeamCode({"strategy.py": LOOP}, "S", {}, "v1") for t in teams}
        )
        assert all(o.ok for o in outcomes.values())
        first = runner.run_tick(TICK, WINDOW, {"AAA": 10.0}, calls)
        assert {r.error_kind for r in first.values()} == {"timeout"}
        started = time.monotonic()
        second = runner.run_tick(TICK, WINDOW, {"AAA": 10.0}, calls)
        elapsed = time.monotonic() - started
        assert elapsed <= budget + 0.3  # forking replacements counts against the budget
        assert all(r.skipped for r in second.values())
        assert len(runner.workers) <= 20  # the other teams restart on a later tick
    finally:
        runner.close()
