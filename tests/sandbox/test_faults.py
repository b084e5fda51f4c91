"""Faulty strategies (tests/fixtures/faults/) against a real SandboxRunner with a 1 s budget.

Every tick runs a well-behaved team next to the faulty one and checks that it got its
signal and that the whole run_tick took no longer than the budget plus 0.5 s. The faulty
team gets the documented error_kind; after a timeout its worker is gone (SIGKILL), the next
tick reports skipped=True while a fresh worker loads, and the tick after works again with
the strategy's state reset. A fault that does not kill the worker (an exception, a
MemoryError, junk output) leaves the instance and its state in place.

Fault fixtures misbehave only when the call's header says {"fault": True}, so the same
strategy can be seen recovering. Module-level and __init__ faults happen at every load.
"""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.domain.validation import TradingRules, parse_signals
from app.engine.ports import StrategyResult, TeamCall
from sandbox.host.supervisor import LoadOutcome, SandboxRunner, SandboxSettings, TeamCode
from sandbox.worker.guards import PRINT_LIMIT, TRUNCATION_NOTE

REPO = Path(__file__).resolve().parents[2]
FAULTS = REPO / "tests" / "fixtures" / "faults"
BUDGET = 1.0
SLACK = 0.5  # what a whole run_tick may take beyond the budget
MARKER_LOAD = "# fails here"
TICK = datetime(2026, 3, 12, 14, 3, tzinfo=UTC)
STAMPS = np.array(
    ["2026-03-12T14:00:00", "2026-03-12T14:01:00", "2026-03-12T14:02:00"], dtype="datetime64[s]"
)
CLOSES = np.array([10.0, 10.5, 10.25])
WINDOW = {
    "AAA": {
        "timestamp": STAMPS,
        "open": CLOSES - 0.25,
        "high": CLOSES + 0.5,
        "low": CLOSES - 0.5,
        "close": CLOSES,
        "volume": np.array([100.0, 200.0, 300.0]),
    }
}
PRICES = {"AAA": 10.25}
GOOD = """
class Good:
    def __init__(self, params=None):
        self.calls = 0

    def generate_signal(self, team, bars, current_prices):
        self.calls += 1
        close = float(bars["AAA"]["close"][-1])
        return {"symbol": "AAA", "action": "buy", "quantity": 2, "reason": f"close {close}"}
"""
GOOD_SIGNAL = {"symbol": "AAA", "action": "buy", "quantity": 2, "reason": "close 10.25"}
TIMEOUT_ERROR = "generate_signal did not finish within the 1 s budget: stopped"
LOAD_TIMEOUT_ERROR = "loading the strategy did not finish within the 1 s budget: stopped"


def header(team: str, fault: bool = False) -> dict[str, Any]:
    return {"id": team, "name": team, "cash": 10_000.0, "positions": {}, "params": {"fault": fault}}


def signal_of(calls: int) -> dict[str, Any]:
    """What a fault fixture returns when it behaves: its call count is its state."""
    return {"symbol": "AAA", "action": "buy", "quantity": calls}


def line_of(name: str, marker: str) -> int:
    lines = (FAULTS / f"{name}.py").read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if marker in line)


def fault_line(name: str) -> int:
    """The first line inside `if team["params"].get("fault"):` of a fault fixture."""
    return line_of(name, 'if team["params"].get("fault"):') + 1


@dataclass
class Bench:
    runner: SandboxRunner
    timings: dict[str, list[float]]

    def load(self, name: str) -> tuple[LoadOutcome, float]:
        code = TeamCode({"strategy.py": (FAULTS / f"{name}.py").read_text()}, "Fault", {}, "v1")
        started = time.monotonic()
        outcome = self.runner.load(name, code)
        elapsed = time.monotonic() - started
        assert elapsed <= BUDGET + SLACK, f"loading took {elapsed:.2f} s"
        return outcome, elapsed

    def tick(self, name: str, fault: bool = False) -> StrategyResult:
        """One tick of the good team and `name`; checks the good team and the wall time."""
        calls = [TeamCall("good", header("good")), TeamCall(name, header(name, fault))]
        started = time.monotonic()
        results = self.runner.run_tick(TICK, WINDOW, PRICES, calls)
        elapsed = time.monotonic() - started
        self.timings.setdefault(name, []).append(round(elapsed, 3))
        good = results["good"]
        assert (good.error, good.output) == (None, GOOD_SIGNAL), good
        assert elapsed <= BUDGET + SLACK, f"run_tick took {elapsed:.2f} s"
        return results[name]

    def pid(self, name: str) -> int:
        return self.runner.workers[name].pid


@pytest.fixture(scope="module")
def bench() -> Iterator[Bench]:
    runner = SandboxRunner(SandboxSettings(budget_seconds=BUDGET))
    try:
        assert runner.load("good", TeamCode({"strategy.py": GOOD}, "Good", {}, "v1")).ok
        bench = Bench(runner, {})
        yield bench
    finally:
        runner.close()
    print("\nrun_tick wall times (s) per fault:", bench.timings)


def wait_gone(pid: int, within: float = 2.0) -> bool:
    """True once the process no longer exists (the zygote reaps its children at once)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return True
        time.sleep(0.01)
    return False


def assert_recovers_after_kill(bench: Bench, name: str, old_pid: int) -> None:
    """The next tick restarts the worker (skipped); the one after works, state reset."""
    assert wait_gone(old_pid), "the worker was not killed"
    restarting = bench.tick(name)
    assert (restarting.skipped, restarting.error, restarting.output) == (True, None, None)
    back = bench.tick(name)
    assert (back.error, back.output, back.skipped) == (None, signal_of(1), False)
    assert bench.pid(name) != old_pid


def assert_worker_kept(bench: Bench, name: str, pid: int, calls: int = 2) -> None:
    """A fault that is the team's own exception keeps the worker and the instance's state."""
    after = bench.tick(name)
    assert (after.error, after.output, after.skipped) == (None, signal_of(calls), False)
    assert bench.pid(name) == pid


def assert_team_traceback(error: str, name: str, line: int, where: str) -> None:
    """`Type: message` and only the team's own frames: file, line, function, source."""
    frames = error.splitlines()[1:]
    assert frames, error
    assert all(f.startswith("  strategy.py:") for f in frames), frames
    assert f"  strategy.py:{line} in {where}: " in error
    for host_detail in ("site-packages", "/sandbox/", "/app/", str(REPO), 'File "'):
        assert host_detail not in error


# -- stopped at the deadline -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["loop_forever", "big_power_gil", "busy_wait_clock"])
def test_a_call_that_overruns_is_killed_and_the_team_recovers(bench: Bench, name: str) -> None:
    outcome, _ = bench.load(name)
    assert outcome.ok, outcome.error
    pid = bench.pid(name)
    result = bench.tick(name, fault=True)
    assert (result.error_kind, result.error, result.output) == ("timeout", TIMEOUT_ERROR, None)
    assert BUDGET * 1000 - 50 <= result.duration_ms <= (BUDGET + SLACK) * 1000
    assert name not in bench.runner.workers  # dropped at once, respawned on the next tick
    assert_recovers_after_kill(bench, name, pid)


def test_unbounded_list_growth_is_stopped(bench: Bench) -> None:
    # With RLIMIT_AS at 1 GiB the list hits MemoryError after 0.6-3 s of page faults on this
    # machine: within a 1 s budget that is usually the deadline's SIGKILL. Either is a stop.
    name = "grow_list_memory"
    assert bench.load(name)[0].ok
    pid = bench.pid(name)
    result = bench.tick(name, fault=True)
    if result.error_kind == "timeout":
        assert result.error == TIMEOUT_ERROR
        assert_recovers_after_kill(bench, name, pid)
    else:
        assert result.error_kind == "memory"
        assert result.error.splitlines()[0] == "MemoryError: "
        assert_team_traceback(result.error, name, fault_line(name) + 2, "generate_signal")
        assert_worker_kept(bench, name, pid)


def test_a_module_level_infinite_loop_times_out_the_load(bench: Bench) -> None:
    name = "loop_in_module"
    outcome, elapsed = bench.load(name)
    assert (outcome.ok, outcome.kind, outcome.error) == (False, "timeout", LOAD_TIMEOUT_ERROR)
    assert elapsed >= BUDGET - 0.05
    assert name not in bench.runner.workers
    result = bench.tick(name)  # every tick tries a fresh worker, again within the budget
    assert result.error_kind == "timeout"
    assert result.error == "restarting the strategy failed: " + LOAD_TIMEOUT_ERROR


def test_an_init_infinite_loop_times_out_the_load(bench: Bench) -> None:
    name = "loop_in_init"
    outcome, _ = bench.load(name)
    assert (outcome.ok, outcome.kind, outcome.error) == (False, "timeout", LOAD_TIMEOUT_ERROR)
    result = bench.tick(name)
    assert (result.error_kind, result.skipped) == ("timeout", False)
    assert result.error == "restarting the strategy failed: " + LOAD_TIMEOUT_ERROR


def test_time_sleep_is_refused_when_the_upload_is_checked(bench: Bench) -> None:
    name = "sleep_import"
    outcome, elapsed = bench.load(name)
    assert (outcome.ok, outcome.kind) == (False, "rejected")
    line = line_of(name, "# refused here")
    assert outcome.error.startswith(f"strategy.py:{line}: import of time refused: time is not")
    assert elapsed < BUDGET / 2
    result = bench.tick(name)
    assert result.error_kind == "rejected"
    assert "import of time refused" in (result.error or "")


# -- stopped by a limit or an exception; the worker lives on -----------------------------------


def test_a_huge_numpy_allocation_is_a_memory_error(bench: Bench) -> None:
    name = "numpy_huge_alloc"
    assert bench.load(name)[0].ok
    pid = bench.pid(name)
    result = bench.tick(name, fault=True)
    assert result.error_kind == "memory"
    first = result.error.splitlines()[0]
    assert first.startswith("MemoryError: Unable to allocate 74.5 GiB for an array")
    assert_team_traceback(result.error, name, fault_line(name), "generate_signal")
    assert_worker_kept(bench, name, pid)


def test_deep_recursion_is_a_recursion_error(bench: Bench) -> None:
    name = "deep_recursion"
    assert bench.load(name)[0].ok
    pid = bench.pid(name)
    result = bench.tick(name, fault=True)
    assert result.error_kind == "recursion"
    assert result.error.startswith("RecursionError: maximum recursion depth exceeded")
    assert_team_traceback(result.error, name, fault_line(name), "generate_signal")
    assert f"  strategy.py:{line_of(name, '# recurses here')} in dive: " in result.error
    assert_worker_kept(bench, name, pid)


def test_an_exception_in_generate_signal_is_reported_with_the_teams_line(bench: Bench) -> None:
    name = "raise_in_generate"
    assert bench.load(name)[0].ok
    pid = bench.pid(name)
    result = bench.tick(name, fault=True)
    assert result.error_kind == "exception"
    assert result.error.splitlines() == [
        "ValueError: the strategy failed on purpose",
        f"  strategy.py:{fault_line(name)} in generate_signal: "
        'raise ValueError("the strategy failed on purpose")',
    ]
    assert_worker_kept(bench, name, pid)


def test_an_exception_in_init_fails_the_load_with_the_teams_line(bench: Bench) -> None:
    name = "raise_in_init"
    outcome, _ = bench.load(name)
    assert (outcome.ok, outcome.kind) == (False, "exception")
    assert outcome.error.splitlines()[0] == "KeyError: 'missing_parameter'"
    assert_team_traceback(outcome.error, name, line_of(name, MARKER_LOAD), "__init__")
    result = bench.tick(name)
    assert result.error_kind == "exception"
    assert result.error.startswith("restarting the strategy failed: KeyError: 'missing_parameter'")


def test_an_exception_in_module_code_fails_the_load_with_the_teams_line(bench: Bench) -> None:
    name = "raise_in_module"
    outcome, _ = bench.load(name)
    assert (outcome.ok, outcome.kind) == (False, "exception")
    assert outcome.error.splitlines()[0] == "KeyError: 'ZZZ'"
    assert_team_traceback(outcome.error, name, line_of(name, MARKER_LOAD), "<module>")
    assert bench.tick(name).error_kind == "exception"


def test_a_fork_is_refused_statically(bench: Bench) -> None:
    name = "fork_import_os"
    outcome, _ = bench.load(name)
    assert (outcome.ok, outcome.kind) == (False, "rejected")
    line = line_of(name, "# refused here")
    assert outcome.error.startswith(f"strategy.py:{line}: import of os refused")
    assert bench.tick(name).error_kind == "rejected"


def test_a_fork_after_escaping_the_guards_is_refused_by_the_os(bench: Bench) -> None:
    name = "fork_escaped"
    assert bench.load(name)[0].ok
    pid = bench.pid(name)
    result = bench.tick(name, fault=True)
    assert result.error_kind == "exception"
    first = result.error.splitlines()[0]
    # The OS layer (seccomp) refuses fork; once the guard hole is closed, the guards refuse.
    assert first == "PermissionError: [Errno 1] Operation not permitted" or "refused" in first
    assert_worker_kept(bench, name, pid)


def test_megabytes_of_printing_are_truncated_and_the_call_succeeds(bench: Bench) -> None:
    name = "print_flood"
    assert bench.load(name)[0].ok
    note = TRUNCATION_NOTE.format(limit=PRINT_LIMIT)
    for _ in range(2):  # the limit is per call, not per worker
        result = bench.tick(name, fault=True)
        assert result.error is None
        assert result.output["symbol"] == "AAA"
        assert result.printed == "y" * PRINT_LIMIT + note
    assert bench.tick(name).printed == ""


@pytest.mark.parametrize("name", ["huge_exception_message", "deep_recursion"])
def test_error_text_reaching_the_host_is_bounded(bench: Bench, name: str) -> None:
    # Set-up failures raise RuntimeError, which raises=AssertionError does not excuse.
    if not bench.load(name)[0].ok:
        raise RuntimeError(f"could not load {name}")
    result = bench.tick(name, fault=True)
    if result.error_kind not in ("exception", "recursion"):
        raise RuntimeError(f"unexpected outcome {result}")
    assert len(result.error) <= 16 * 1024, f"{len(result.error):,} characters of error text"


def test_a_strategy_that_keeps_its_windows_keeps_working(bench: Bench) -> None:
    name = "keep_every_window"
    if not bench.load(name)[0].ok:
        raise RuntimeError(f"could not load {name}")
    for calls in range(1, 41):
        result = bench.tick(name)
        assert (result.error_kind, result.output) == (None, signal_of(calls)), (calls, result)


# -- junk output -------------------------------------------------------------------------------

REFERENCE = {"AAA": Decimal("10.25")}

# (fixture, the error the team gets (None: plain data, for the host's validation), what
# validation says about the output, or None)
JUNK: dict[str, tuple[str | None, str | None]] = {
    "return_int": (None, "generate_signal returned int; expected a dict, a list of dicts"),
    "return_str": (None, "generate_signal returned str; expected a dict, a list of dicts"),
    "return_set": ("generate_signal returned bad data: output contains a set; return dicts", None),
    "return_object": ("generate_signal returned bad data: output contains a Fault; return", None),
    "return_ndarray": ("generate_signal returned bad data: output contains a ndarray; ret", None),
    "return_generator": ("generate_signal returned bad data: output contains a generator", None),
    "return_million_signals": (
        "generate_signal returned bad data: output is too large (more than 10,000 items)",
        None,
    ),
    "return_deep_nesting": (
        "generate_signal returned bad data: output is nested more than 8 levels deep",
        None,
    ),
}


@pytest.mark.parametrize("name", sorted(JUNK))
def test_junk_output_is_refused_or_left_to_validation(bench: Bench, name: str) -> None:
    error, rejection = JUNK[name]
    assert bench.load(name)[0].ok
    pid = bench.pid(name)
    result = bench.tick(name, fault=True)
    if error is None:  # plain data: it reaches the host as it was, and validation refuses it
        assert (result.error, result.error_kind) == (None, None)
        intents, rejections = parse_signals(name, result.output, REFERENCE, TradingRules())
        assert intents == []
        assert rejection is not None
        assert rejections[0].reason.startswith(rejection)
    else:
        assert (result.error_kind, result.output) == ("output", None)
        assert result.error.startswith(error), result.error
    assert_worker_kept(bench, name, pid)


def test_nan_and_infinity_reach_the_host_as_such_so_validation_can_say_so(bench: Bench) -> None:
    name = "return_nan_inf"
    assert bench.load(name)[0].ok
    result = bench.tick(name, fault=True)
    assert result.error is None
    nan_signal, inf_signal = result.output
    assert math.isnan(nan_signal["quantity"])
    assert inf_signal["limit_price"] == math.inf
    _, rejections = parse_signals(name, result.output, REFERENCE, TradingRules())
    assert [r.reason for r in rejections] == [
        "'quantity' must be a finite number, got nan",
        "'limit_price' must be a finite number, got inf",
    ]


# -- killed from outside -----------------------------------------------------------------------


def test_a_worker_killed_from_outside_is_a_crash_and_the_team_recovers(bench: Bench) -> None:
    name = "killed_from_outside"
    assert bench.load(name)[0].ok
    assert bench.tick(name).output == signal_of(1)
    pid = bench.pid(name)
    os.kill(pid, signal.SIGKILL)  # a worker this test's runner started
    assert wait_gone(pid)
    crashed = bench.tick(name)
    assert (crashed.error_kind, crashed.output) == ("crash", None)
    assert crashed.error in (
        "the worker died",
        "the worker died (crash, or killed by a limit)",
    ) or crashed.error.startswith("the worker's channel failed")
    assert_recovers_after_kill(bench, name, pid)


def test_every_fault_fixture_is_exercised_and_documented() -> None:
    import ast

    files = {p.stem for p in FAULTS.glob("*.py")}
    source = Path(__file__).read_text()
    for name in files:
        assert f'"{name}"' in source, f"{name}.py is not used by any test"
        assert ast.get_docstring(ast.parse((FAULTS / f"{name}.py").read_text())), name
