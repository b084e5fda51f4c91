"""A disk that fills up under a running host (decision 0029), as real processes: `arena run
--broker alpaca` against `arena emulator` over HTTP, the emulator's clock moved by the test
one minute per tick. Team alpha's ledger folder is a small tmpfs that the test fills while
the host trades (or, where this machine refuses the mount, its files are made immutable, or
the host's file size limit is lowered). The host must stop trading: exit 1 with one line
naming the file and the cause, nothing working at the broker, a hold; once the cause is
fixed, `arena run --resume` recovers exactly and trades on."""

from __future__ import annotations

import contextlib
import json
import queue
import re
import resource
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from app.ledger.jsonl import read_jsonl
from tests.conftest import DAY, FIXTURE_STRATEGIES
from tests.ledger.disk_faults import FILLER, fill, immutable, mutable, small_tmpfs
from tests.runtime.live_processes import (
    EmulatorProcess,
    arena,
    check_books_against_emulator,
    host_args,
    kill_group,
)

pytestmark = pytest.mark.slow

UNIVERSE = "AAPL,QQQ,SPY"
TEAMS = {
    "alpha": {"symbols": ["AAPL", "SPY"], "step": 3},
    "beta": {"symbols": ["AAPL", "QQQ"], "step": 2, "high": 6},
}
TICK = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\dZ bars=")
WORKING = {"new", "accepted", "pending_new", "partially_filled", "pending_cancel"}


def registry_of(folder: Path) -> Path:
    teams = [
        {"team_id": team, "name": team.title(), "strategy": str(FIXTURE_STRATEGIES / "churn.py"),
         "entry_point": "ChurnStrategy", "initial_cash": 100_000, "params": params}
        for team, params in TEAMS.items()
    ]  # fmt: skip
    path = folder / "registry.yaml"
    path.write_text(yaml.safe_dump({"competition": {}, "teams": teams}, sort_keys=False))
    return path


class FailingFolder:
    """A folder whose files stop taking writes at `trigger`, by the first way this machine
    allows: a small tmpfs filled to the last block, immutable files, or the host's file
    size limit (RLIMIT_FSIZE) at the size of the biggest ledger file."""

    def __init__(self, folder: Path, data: Path, stack: contextlib.ExitStack) -> None:
        self.folder, self.data = folder, data
        self.refused: list[str] = []
        why = stack.enter_context(small_tmpfs(folder))
        if why is None:
            self.way, self.cause = "tmpfs", "[Errno 28] No space left on device"
            return
        self.refused.append(f"tmpfs: {why}")
        probe = folder / ".probe"
        probe.touch()
        why = immutable(probe)
        mutable(probe)
        probe.unlink()
        if why is None:
            self.way, self.cause = "immutable", "[Errno 1] Operation not permitted"
            return
        self.refused.append(f"immutable file: {why}")
        self.way, self.cause = "fsize", "[Errno 27] File too large"

    def trigger(self, pid: int) -> None:
        if self.way == "tmpfs":
            fill(self.folder)
        elif self.way == "immutable":
            for path in self.folder.rglob("*.jsonl"):
                assert immutable(path) is None
        else:
            biggest = max(p.stat().st_size for p in self.data.rglob("*.jsonl"))
            try:
                resource.prlimit(pid, resource.RLIMIT_FSIZE, (biggest, resource.RLIM_INFINITY))
            except OSError as error:
                self.refused.append(f"RLIMIT_FSIZE: {error}")
                pytest.skip("NO WAY TO FAIL A WRITE HERE: " + "; ".join(self.refused))

    def fix(self) -> None:
        if self.way == "tmpfs":
            (self.folder / FILLER).unlink()
        elif self.way == "immutable":
            for path in self.folder.rglob("*.jsonl"):
                mutable(path)
        # fsize: the limit ended with the host's process


def drive(
    host: subprocess.Popen, emulator: EmulatorProcess, after_tick: Callable[[int], None]
) -> str:
    """Move the emulator's clock a minute per tick of the host (and whenever the host is
    quiet for a moment: the last fills), until the host exits; returns what it printed."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert host.stdout is not None
        for line in host.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    printed, started, ticks = [], False, 0
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1.0)
        except queue.Empty:
            if started and host.poll() is None:
                emulator.advance(1)
            continue
        if line is None:
            host.wait(timeout=30)
            return "".join(printed)
        printed.append(line)
        if line.startswith("Running on"):
            started = True
            emulator.advance(2)  # a minute is due two seconds after it closed
        elif TICK.match(line):
            ticks += 1
            after_tick(ticks)
            emulator.advance(1)
    kill_group(host)
    raise AssertionError("the host did not finish in time:\n" + "".join(printed))


def test_a_full_disk_under_a_running_host_stops_trading_and_resume_is_exact(real_bars, tmp_path):
    emulator = EmulatorProcess(real_bars, DAY.isoformat(), UNIVERSE, speed=0.0001)
    registry, data = registry_of(tmp_path), tmp_path / "data"
    with contextlib.ExitStack() as stack:
        stack.callback(emulator.close)
        disk = FailingFolder(data / "team" / "alpha", data, stack)
        emulator.advance(5)  # 09:35 New York
        host = arena(*host_args(registry, data, UNIVERSE, "--resume"), env=emulator.host_env)
        stack.callback(kill_group, host)
        output = drive(host, emulator, lambda n: n == 1 and disk.trigger(host.pid))
        assert host.returncode == 1, output
        assert "internal error" not in output, output
        [line] = [x for x in output.splitlines() if "ledger write failed" in x]
        assert line.startswith(f"arena: error: ledger write failed: {data}/"), line
        failed = line.removeprefix("arena: error: ledger write failed: ").split(": ")[0]
        if disk.way != "fsize":  # a size limit hits whichever file is biggest
            assert failed.startswith(f"{data}/team/alpha/"), line
        assert f"{failed}: {disk.cause} — trading stopped, " in line, line
        assert line.endswith("; trading held (HOLD.json); fix the cause, then "
                             "`arena run --resume`"), line  # fmt: skip
        orders = emulator.get("/_emulator/orders")
        assert [o for o in orders if o["status"] in WORKING] == [], orders
        journal = list(read_jsonl(data / "orders" / "journal.jsonl", allow_torn_tail=True))
        journaled = {r["client_order_id"] for r in journal if r["event"] == "submit"}
        assert {o["client_order_id"] for o in orders} <= journaled  # none sent unjournaled
        hold = json.loads((data / "HOLD.json").read_text())
        assert (hold["kind"], hold["file"], hold["cause"]) == ("write-failure", failed, disk.cause)

        disk.fix()
        again = arena(*host_args(registry, data, UNIVERSE, "--resume", "--duration", "2"),
                      env=emulator.host_env)  # fmt: skip
        stack.callback(kill_group, again)
        output = drive(again, emulator, lambda n: None)
        assert again.returncode == 0, output
        assert "hold lifted" in output, output
        assert not (data / "HOLD.json").exists()
        assert len([x for x in output.splitlines() if TICK.match(x)]) == 2, output
        counts = check_books_against_emulator(emulator, data, list(TEAMS))  # books = broker
        assert counts["orders"] >= 4, counts
