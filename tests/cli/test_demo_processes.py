"""`arena demo` as a newcomer runs it (issue 15, items 4, 12, 15): twice in a row, each run
prints fresh keys and plays the registry's own strategies with nothing of the first left;
it keeps trading until stopped, and one Ctrl-C (or one SIGTERM) stops every process it
started (checked in the process table)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from app.config.registry import load_registry
from app.strategies.sources import read_strategy_files, version_of
from app.uploads.store import StrategyStore
from tests.conftest import REPO
from tests.runtime.live_processes import free_port, wait_until_answering

pytestmark = pytest.mark.slow


def keys_in(output: str) -> dict[str, str]:
    """The keys a run printed: the lines under "New API keys", `  owner key`."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if "New API keys" in line)
    found = {}
    for line in lines[start + 1 :]:
        if not line.startswith("  ") or len(line.split()) != 2:
            break
        owner, key = line.split()
        found[owner] = key
    return found


def start_demo(data_dir: Path, port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "app", "demo", "--data-dir", str(data_dir)]
    command += ["--registry", str(REPO / "team_registry.yaml"), "--port", str(port)]
    command += ["--speed", "20"]  # a quick demo for the test; the default is 1 a second
    env = {**os.environ, "COLUMNS": "160"}
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO
    )


def ledger_minutes(data_dir: Path) -> int:
    folder = data_dir / "account" / "portfolio"
    return sum(len(p.read_text().splitlines()) for p in folder.glob("*.jsonl"))


def wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.2)


def stop_and_check(process: subprocess.Popen, how: int) -> str:
    children = psutil.Process(process.pid).children(recursive=True)
    assert children, "the demo started its API server and sandbox workers"
    process.send_signal(how)
    output, _ = process.communicate(timeout=30)
    time.sleep(0.5)
    alive = [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert alive == [], [c.cmdline() for c in alive]
    return output


def test_one_sigterm_stops_the_demo_and_everything_it_started(tmp_path) -> None:
    data_dir = tmp_path / "demo"
    port = free_port()
    demo = start_demo(data_dir, port)
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/api/v1/leaderboard")
        wait_for(lambda: ledger_minutes(data_dir) >= 3)
    finally:
        stop_and_check(demo, signal.SIGTERM)
    assert demo.returncode == 0


def test_two_demos_in_a_row_are_fresh_and_one_ctrl_c_stops_everything(tmp_path) -> None:
    how = signal.SIGINT
    data_dir = tmp_path / "demo"
    port = free_port()
    first = start_demo(data_dir, port)
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/api/v1/leaderboard")
        wait_for(lambda: ledger_minutes(data_dir) >= 20)  # it is trading, not over
        # An upload and a control that the next demo must not inherit.
        StrategyStore(data_dir).save("reversion", "typo", {"typo.py": "x = 1\n"}, {},
                                     {"entry_point": "Nope"})  # fmt: skip
    finally:
        first_output = stop_and_check(first, how)
    first_keys = keys_in(first_output)
    assert {"momentum", "reversion", "organiser"} <= first_keys.keys(), first_output
    assert ledger_minutes(data_dir) < 390  # stopped mid-session: it had not finished by itself

    second = start_demo(data_dir, port)
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/api/v1/leaderboard")
        wait_for(lambda: ledger_minutes(data_dir) >= 5)
        assert not (data_dir / "strategies" / "reversion").exists()  # no earlier upload
    finally:
        second_output = stop_and_check(second, signal.SIGINT)
    second_keys = keys_in(second_output)
    assert second_keys.keys() == first_keys.keys()  # every key printed again ...
    assert set(second_keys.values()).isdisjoint(first_keys.values())  # ... and new
    registry = load_registry(REPO / "team_registry.yaml").team("reversion")
    own = version_of(read_strategy_files(registry.strategy))
    last = json.loads(
        (data_dir / "team" / "reversion" / "metrics.jsonl").read_text().splitlines()[-1]
    )
    assert last["strategy_version"] == own  # the registry's own strategy played
