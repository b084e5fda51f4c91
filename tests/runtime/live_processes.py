"""Real processes for the live-path tests: `arena emulator` and `arena run` on loopback.

Both run as `python -m app ...` in their own process groups, so a test can SIGKILL the
host together with its sandbox zygote and workers, as a crash of the machine's host
process would leave them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

from app.ledger.jsonl import read_jsonl
from tests.conftest import trade_totals

ROOT = Path(__file__).resolve().parents[2]
KEY, SECRET = "emulator-key", "emulator-secret"
HEADERS = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def arena(*args: str, env: dict[str, str] | None = None, **kwargs: Any) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        **kwargs,
    )


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the process and everything it started (its own process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


class EmulatorProcess:
    """`arena emulator` over one replayed session, its clock running at `speed`."""

    def __init__(
        self, bars: Path, day: str, symbols: str, speed: float, faults: str = "", end: str = ""
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = ["emulator", "--bars", str(bars), "--start", day, "--end", end or day,
                "--symbols", symbols, "--port", str(self.port), "--speed", str(speed)]  # fmt: skip
        if faults:
            args += ["--faults", faults]
        self.process = arena(*args)
        self.admin = requests.Session()
        self.admin.headers.update(HEADERS)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.admin.get(self.url + "/_emulator/state", timeout=10).raise_for_status()
                return
            except requests.RequestException:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    output = self.process.stdout.read() if self.process.stdout else ""
                    raise RuntimeError(f"the emulator did not start: {output}") from None
                time.sleep(0.1)

    @property
    def host_env(self) -> dict[str, str]:
        """What `arena run` needs to trade through alpaca-py against this emulator."""
        return {
            "ARENA_ALPACA_API_KEY": KEY,
            "ARENA_ALPACA_SECRET_KEY": SECRET,
            "ARENA_ALPACA_TRADING_URL": self.url,
            "ARENA_ALPACA_DATA_URL": self.url,
            "ARENA_ALPACA_REQUESTS_PER_MINUTE": "100000",  # the replay runs faster than life
        }

    def get(self, path: str) -> Any:
        return self.admin.get(self.url + path, timeout=10).json()

    def advance(self, minutes: int) -> None:
        answer = self.admin.post(
            self.url + "/_emulator/advance", params={"minutes": minutes}, timeout=10
        )
        answer.raise_for_status()

    def set_faults(self, spec: str) -> None:
        answer = self.admin.post(self.url + "/_emulator/faults", params={"spec": spec}, timeout=10)
        answer.raise_for_status()

    def close(self) -> None:
        self.admin.close()
        kill_group(self.process)


def host_args(registry: Path, data_dir: Path, universe: str, *extra: str) -> list[str]:
    return ["run", "--broker", "alpaca", "--market", "alpaca", "--universe", universe,
            "--registry", str(registry), "--data-dir", str(data_dir), "--no-serve",
            *extra]  # fmt: skip


def reconcile(emulator: EmulatorProcess, registry: Path, data_dir: Path, universe: str,
              apply: bool) -> subprocess.CompletedProcess:  # fmt: skip
    args = ["reconcile", "--universe", universe, "--registry", str(registry),
            "--data-dir", str(data_dir)] + (["--apply"] if apply else [])  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **emulator.host_env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def ledger_files(data_dir: Path) -> list[Path]:
    return sorted(data_dir.rglob("*.jsonl"))


def check_books_against_emulator(emulator: EmulatorProcess, data_dir: Path, teams: list[str]):
    """Nothing twice at the broker, every fill allocated exactly, teams' positions = broker's.

    Every ledger file is read strictly: a torn or corrupt line fails the test.
    """
    for path in ledger_files(data_dir):
        list(read_jsonl(path))  # raises on any torn or corrupt line
    orders = emulator.get("/_emulator/orders")
    ids = [o["client_order_id"] for o in orders]
    duplicates = [i for i, n in Counter(ids).items() if n > 1]
    assert duplicates == [], f"orders created twice: {duplicates}"
    fills: dict[str, Decimal] = defaultdict(Decimal)
    for fill in emulator.get("/_emulator/fills"):
        fills[fill["client_order_id"]] += Decimal(str(fill["qty"]))
    for team in teams:
        path = data_dir / "team" / team / "trades.jsonl"
        trade_ids = [t["trade_id"] for t in read_jsonl(path)] if path.exists() else []
        assert len(trade_ids) == len(set(trade_ids)), f"{team}: a trade booked twice"
    totals = trade_totals(data_dir, teams)
    allocated, crossed, positions = totals.allocated, totals.crossed, totals.positions
    assert dict(allocated) == {k: v for k, v in fills.items() if v}, "allocations != fills"
    assert all(v == 0 for v in crossed.values()), "crossed quantity does not net to zero"
    account = list(read_jsonl(data_dir / "account" / "trades.jsonl"))
    executions = [t["execution_id"] for t in account]
    assert len(executions) == len(set(executions)), "an account fill booked twice"
    broker = {p["symbol"]: Decimal(str(p["qty"])) for p in emulator.get("/v2/positions")}
    ours = {s: q for s, q in positions.items() if q != 0}
    assert ours == {s: q for s, q in broker.items() if q != 0}, (ours, broker)
    return {"orders": len(ids), "fills": len(fills), "trades": sum(1 for _ in allocated)}


def wait_until_answering(url: str, seconds: float = 30.0) -> requests.Response:
    """GET `url` until a server answers it (any status), or fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return requests.get(url, timeout=2)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing answered {url} within {seconds:g} s") from None
            time.sleep(0.2)
