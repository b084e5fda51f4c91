"""SandboxRunner as the engine sees it: loads that fail are results, printed text comes back
bounded, reloads and hot swaps replace (or keep) a team's instance, history requests travel
over the worker's channel, and every isolation layer is active in every worker."""

from __future__ import annotations

import re
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.domain.models import Bar
from app.engine.ports import StrategyResult, TeamCall
from app.market.store import BarStore
from app.strategies.history_api import HistoryAPI
from sandbox.host.supervisor import SandboxRunner, SandboxSettings, TeamCode
from sandbox.worker.guards import PRINT_LIMIT, TRUNCATION_NOTE
from sandbox.worker.hardening import LAYER_NAMES

BUDGET = 1.0
SLACK = 0.5
START = datetime(2026, 3, 12, 14, 0, tzinfo=UTC)
HISTORY_CLOSES = [100.0 + i for i in range(10)]  # AAA, minutes 14:00-14:09
TICK = START + timedelta(minutes=9)


def bars_of_history() -> list[dict[str, Bar]]:
    minutes = []
    for i, close in enumerate(HISTORY_CLOSES):
        at = START + timedelta(minutes=i)
        minutes.append(
            {"AAA": Bar("AAA", at, close - 0.5, close + 1.0, close - 1.0, close, 1000.0 + i)}
        )
    return minutes


def window_of(minutes: list[dict[str, Bar]], last: int = 3) -> dict[str, dict[str, np.ndarray]]:
    recent = [m["AAA"] for m in minutes[-last:]]
    stamps = np.array([b.timestamp.replace(tzinfo=None) for b in recent], dtype="datetime64[s]")
    names = ("open", "high", "low", "close", "volume")
    columns = {name: np.array([getattr(b, name) for b in recent]) for name in names}
    return {"AAA": {"timestamp": stamps, **columns}}


MINUTES = bars_of_history()
WINDOW = window_of(MINUTES)
PRICES = {"AAA": HISTORY_CLOSES[-1]}


def code(source: str, version: str = "v1", entry_point: str = "S", **params: Any) -> TeamCode:
    return TeamCode({"strategy.py": textwrap.dedent(source).lstrip()}, entry_point, params, version)


def call(team: str, **params: Any) -> TeamCall:
    header = {"id": team, "name": team, "cash": 5000.0, "positions": {}, "params": params}
    return TeamCall(team, header)


COUNTER = """
class S:
    def __init__(self, params=None):
        self.calls = 0
        self.tag = (params or {}).get("tag", "v1")

    def generate_signal(self, team, bars, current_prices):
        self.calls += 1
        return {"symbol": "AAA", "action": "buy", "quantity": self.calls, "reason": self.tag}
"""


def counted(calls: int, tag: str = "v1") -> dict[str, Any]:
    return {"symbol": "AAA", "action": "buy", "quantity": calls, "reason": tag}


@pytest.fixture(scope="module")
def runner() -> Iterator[SandboxRunner]:
    store = BarStore()
    for minute in MINUTES:
        store.append_minute(minute)
    sandbox = SandboxRunner(SandboxSettings(budget_seconds=BUDGET), history=HistoryAPI(store))
    try:
        yield sandbox
    finally:
        sandbox.close()


def tick(runner: SandboxRunner, *calls: TeamCall) -> dict[str, StrategyResult]:
    started = time.monotonic()
    results = runner.run_tick(TICK, WINDOW, PRICES, list(calls))
    assert time.monotonic() - started <= BUDGET + SLACK
    return results


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def wait_gone(pid: int) -> bool:
    deadline = time.monotonic() + 2
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    return not alive(pid)


# -- load failures are results -----------------------------------------------------------------


def test_load_failures_are_reported_per_team_never_raised(runner: SandboxRunner) -> None:
    codes = {
        "syntax": code(
            "class S:\n    def generate_signal(self, team, bars, prices)\n        pass\n"
        ),
        "missing": code(
            """
            class Other:
                def generate_signal(self, team, bars, current_prices):
                    return None
            """
        ),
        "bad-init": code(
            """
            class S:
                def __init__(self, params=None):
                    self.ratio = 1 / 0

                def generate_signal(self, team, bars, current_prices):
                    return None
            """
        ),
        "fine": code(COUNTER),
    }
    outcomes = runner.load_many(codes)
    assert (outcomes["syntax"].ok, outcomes["syntax"].kind) == (False, "rejected")
    assert outcomes["syntax"].error.startswith("strategy.py:2: syntax error: ")
    assert (outcomes["missing"].ok, outcomes["missing"].kind) == (False, "rejected")
    assert outcomes["missing"].error == "strategy.py: no class S in strategy.py (classes: Other)"
    assert (outcomes["bad-init"].ok, outcomes["bad-init"].kind) == (False, "exception")
    assert outcomes["bad-init"].error.splitlines() == [
        "ZeroDivisionError: division by zero",
        "  strategy.py:3 in __init__: self.ratio = 1 / 0",
    ]
    assert outcomes["fine"].ok

    results = tick(runner, *(call(team) for team in [*codes, "never-loaded"]))
    assert results["fine"].output == counted(1)
    assert results["syntax"].error_kind == "rejected"
    assert results["missing"].error_kind == "rejected"
    assert results["bad-init"].error_kind == "exception"
    for team in ("syntax", "missing", "bad-init"):
        assert results[team].error.startswith("restarting the strategy failed: ")
        assert (results[team].output, results[team].skipped) == (None, False)
    never = results["never-loaded"]
    assert (never.error, never.error_kind) == ("no strategy loaded", "load")


# -- printed output ----------------------------------------------------------------------------

PRINTER = """
class S:
    def __init__(self, params=None):
        pass

    def generate_signal(self, team, bars, current_prices):
        size = team["params"].get("size", 0)
        print("close", float(bars["AAA"]["close"][-1]))
        print("x" * size)
        if team["params"].get("fail"):
            raise RuntimeError("after printing")
        return None
"""


def test_printed_output_is_captured_per_call_and_bounded(runner: SandboxRunner) -> None:
    assert runner.load("printer", code(PRINTER)).ok
    small = tick(runner, call("printer", size=3))["printer"]
    assert small.error is None
    assert small.printed == "close 109.0\nxxx\n"

    big = tick(runner, call("printer", size=10 * PRINT_LIMIT))["printer"]
    assert big.error is None
    note = TRUNCATION_NOTE.format(limit=PRINT_LIMIT)
    assert big.printed == ("close 109.0\n" + "x" * PRINT_LIMIT)[:PRINT_LIMIT] + note

    failed = tick(runner, call("printer", size=2, fail=True))["printer"]
    assert failed.error_kind == "exception"
    assert failed.error.startswith("RuntimeError: after printing")
    assert failed.printed == "close 109.0\nxx\n"  # what it printed before raising

    again = tick(runner, call("printer"))["printer"]
    assert again.printed == "close 109.0\n\n"  # each call starts with an empty buffer


# -- reloads and hot swaps ---------------------------------------------------------------------


def test_a_reload_replaces_the_instance_and_resets_its_state(runner: SandboxRunner) -> None:
    assert runner.load("reload", code(COUNTER)).ok
    assert tick(runner, call("reload"))["reload"].output == counted(1)
    assert tick(runner, call("reload"))["reload"].output == counted(2)
    old_pid = runner.workers["reload"].pid

    assert runner.load("reload", code(COUNTER, "v2", tag="v2")).ok
    assert wait_gone(old_pid), "the old worker is still running"
    result = tick(runner, call("reload"))["reload"]
    assert (result.output, result.version) == (counted(1, "v2"), "v2")


def swap_smoke(team: str) -> tuple[datetime, dict, dict, TeamCall]:
    return TICK, WINDOW, PRICES, call(team)


@pytest.fixture
def running_v1(runner: SandboxRunner) -> str:
    """A team running COUNTER v1 that has answered twice (its state: calls == 2)."""
    team = "swap"
    assert runner.load(team, code(COUNTER)).ok
    tick(runner, call(team))
    assert tick(runner, call(team))[team].output == counted(2)
    return team


def assert_v1_still_runs(runner: SandboxRunner, team: str, pid: int) -> None:
    assert runner.workers[team].pid == pid
    result = tick(runner, call(team))[team]
    assert (result.output, result.version) == (counted(3), "v1")  # same instance, same state
    assert runner.code[team].version == "v1"  # what a restart would load


RAISES = """
class S:
    def __init__(self, params=None):
        pass

    def generate_signal(self, team, bars, current_prices):
        raise LookupError("v2 is broken")
"""
HANGS = """
class S:
    def __init__(self, params=None):
        pass

    def generate_signal(self, team, bars, current_prices):
        while True:
            pass
"""
REJECTED = """
import os


class S:
    def __init__(self, params=None):
        pass

    def generate_signal(self, team, bars, current_prices):
        return None
"""
BAD_INIT = """
class S:
    def __init__(self, params=None):
        raise ValueError("v2 cannot start")

    def generate_signal(self, team, bars, current_prices):
        return None
"""


@pytest.mark.parametrize(
    ("source", "kind", "error_start"),
    [
        (RAISES, "smoke-exception", "LookupError: v2 is broken\n  strategy.py:6 in generate"),
        (HANGS, "smoke-timeout", "generate_signal did not finish within the 1 s budget"),
        (REJECTED, "rejected", "strategy.py:1: import of os refused"),
        (BAD_INIT, "exception", "ValueError: v2 cannot start\n  strategy.py:3 in __init__"),
    ],
    ids=["raises", "times-out", "rejected", "bad-init"],
)
def test_a_failed_hot_swap_keeps_the_old_version_running(
    runner: SandboxRunner, running_v1: str, source: str, kind: str, error_start: str
) -> None:
    team = running_v1
    pid = runner.workers[team].pid
    started = time.monotonic()
    outcome = runner.swap(team, code(source, "v2"), smoke=swap_smoke(team))
    assert time.monotonic() - started <= 2 * BUDGET + SLACK  # load, then one smoke call
    assert (outcome.ok, outcome.kind) == (False, kind)
    assert outcome.error.startswith(error_start), outcome.error
    assert_v1_still_runs(runner, team, pid)


def test_a_hot_swap_that_passes_its_smoke_test_replaces_the_old_version(
    runner: SandboxRunner, running_v1: str
) -> None:
    team = running_v1
    old_pid = runner.workers[team].pid
    outcome = runner.swap(team, code(COUNTER, "v2", tag="v2"), smoke=swap_smoke(team))
    assert outcome.ok, outcome.error
    assert outcome.first is not None  # the smoke call's result: the version's first minute
    assert outcome.first.output == counted(1, "v2")
    assert wait_gone(old_pid)
    assert runner.code[team].version == "v2"
    result = tick(runner, call(team))[team]
    # The smoke call was the new instance's first: this tick is its second.
    assert (result.output, result.version) == (counted(2, "v2"), "v2")


# -- history through the channel ---------------------------------------------------------------

HISTORIAN = """
class S:
    def __init__(self, params=None):
        pass

    def generate_signal(self, team, bars, current_prices):
        api = team["api"]
        last = api.getLastN("AAA", 3)
        multi = api.getLastNMulti(["AAA", "ZZZ"], 2)
        day = api.getDay("AAA", "2026-03-12")
        try:
            api.getLastN("AAA", 0)
            refused = None
        except Exception as error:
            refused = str(error)
        return {
            "closes": [float(c) for c in last["close"]],
            "stamps": [str(t) for t in last["timestamp"]],
            "writeable": bool(last["close"].flags.writeable),
            "multi": {s: [float(c) for c in cols["close"]] for s, cols in multi.items()},
            "day": len(day["close"]),
            "refused": refused,
        }
"""


def test_history_requests_are_answered_through_the_channel(runner: SandboxRunner) -> None:
    assert runner.load("historian", code(HISTORIAN)).ok
    result = tick(runner, call("historian"))["historian"]
    assert result.error is None, result.error
    assert result.output == {
        "closes": HISTORY_CLOSES[-3:],
        "stamps": ["2026-03-12T14:07:00", "2026-03-12T14:08:00", "2026-03-12T14:09:00"],
        "writeable": False,
        "multi": {"AAA": HISTORY_CLOSES[-2:], "ZZZ": []},
        "day": len(HISTORY_CLOSES),
        "refused": "getLastN: n must be an integer from 1 to 10000, got 0",
    }


def test_without_a_history_source_the_api_says_so() -> None:
    bare = SandboxRunner(SandboxSettings(budget_seconds=BUDGET))
    try:
        source = """
        class S:
            def __init__(self, params=None):
                pass

            def generate_signal(self, team, bars, current_prices):
                team["api"].getLastN("AAA", 3)
        """
        assert bare.load("t", code(source)).ok
        result = tick(bare, call("t"))["t"]
        assert result.error_kind == "exception"
        assert result.error.startswith("HistoryError: history is not available in this run")
    finally:
        bare.close()


# -- the layers ---------------------------------------------------------------------------------


def test_every_worker_reports_every_isolation_layer_active(runner: SandboxRunner) -> None:
    outcomes = runner.load_many({f"layers-{i}": code(COUNTER) for i in range(3)})
    uids = set()
    for team, outcome in outcomes.items():
        assert outcome.ok, outcome.error
        layers = {layer["name"]: layer for layer in outcome.layers}
        assert list(layers) == list(LAYER_NAMES)
        inactive = {name: layer["detail"] for name, layer in layers.items() if not layer["active"]}
        assert inactive == {}, f"{team}: inactive layers {inactive}"
        assert layers["net_namespace"]["detail"].endswith("loopback down")
        fds = layers["fds"]["detail"]
        assert re.fullmatch(r"closed \d+ inherited fds; only channel fd \d+ is open", fds)
        assert "FSIZE=0/0" in layers["rlimits"]["detail"]
        uids.add(layers["uid"]["detail"].split()[0])
        status = Path(f"/proc/{runner.workers[team].pid}/status").read_text()
        real_uid = next(ln.split()[1] for ln in status.splitlines() if ln.startswith("Uid:"))
        assert layers["uid"]["detail"].startswith(f"uid={real_uid} ")
        assert int(real_uid) >= runner.settings.uid_base
    assert len(uids) == 3  # one uid per team
