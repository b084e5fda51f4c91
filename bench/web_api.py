"""HTTP API throughput while the engine replays: requests per second and p99 latency for the
public leaderboard and one team's status, 64 concurrent clients on loopback (wrk), one
uvicorn worker (`arena serve`), and `arena replay` writing the ledgers of 20 teams over the
real data at the same time.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from rich.console import Console
from rich.table import Table

from app.web.keys import ORGANISER, KeyStore
from bench.replay_throughput import DATA, write_registry

REPO = Path(__file__).resolve().parents[1]
TEAMS = 20
REPLAY_SPEED = float(os.environ.get("ARENA_BENCH_REPLAY_SPEED", "20"))  # minutes per second
CONNECTIONS, THREADS, SECONDS, WARMUP_SECONDS = 64, 1, 10, 3  # 1 thread: 2 cores are shared
STEADY_TICKS = 30
TARGETS = {"leaderboard": (2000, 50.0), "team status": (1000, 50.0)}  # req/s, p99 ms


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def arena(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "app", *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_until_up(url: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer") from None
            time.sleep(0.2)


def wrk(url: str, key: str | None, seconds: int = SECONDS) -> dict[str, float]:
    """Requests per second and the 99th percentile of latency, as wrk measured them."""
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", url]
    if key:
        command[1:1] = ["-H", f"X-API-Key: {key}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p99 = _ms(re.search(r"99%\s+([\d.]+\w+)", output).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {"rate": rate, "p99": p99, "non2xx": float(errors.group(1)) if errors else 0.0}


def _ms(text: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run(console: Console) -> list[dict[str, Any]]:
    folder = Path(tempfile.mkdtemp(prefix="arena-web-bench-"))
    registry = write_registry(folder, TEAMS)
    data = folder / "data"
    replay = arena("replay", "--bars", str(DATA), "--registry", str(registry),
                   "--data-dir", str(data), "--speed", str(REPLAY_SPEED), "--quiet")  # fmt: skip
    port = free_port()
    keys = KeyStore(data).ensure(["team-000", ORGANISER])
    server = arena("serve", "--data-dir", str(data), "--registry", str(registry),
                   "--port", str(port))  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/api/v1/leaderboard")
        metrics = data / "team" / "team-000" / "metrics.jsonl"
        while not metrics.exists() or metrics.read_bytes().count(b"\n") < STEADY_TICKS:
            time.sleep(0.5)  # the replay has loaded its data, started its workers and ticks
        rows = []
        for name, path, key in (
            ("leaderboard", "/api/v1/leaderboard", None),
            ("team status", "/api/v1/team/team-000", keys["team-000"]),
        ):
            wrk(base + path, key, WARMUP_SECONDS)  # first requests pay for lazy imports
            result = wrk(base + path, key)
            rows.append({"name": name, **result, "replaying": replay.poll() is None})
        return rows
    finally:
        server.terminate()
        replay.terminate()
        server.wait()
        replay.wait()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    console = Console(width=120)
    if not shutil.which("wrk"):
        console.print("[red]wrk is needed (Debian package wrk)[/]")
        raise SystemExit(1)
    rows = run(console)
    table = Table(title=f"HTTP API under load: {CONNECTIONS} connections (wrk), one uvicorn "
                  f"worker, {TEAMS} teams replaying")  # fmt: skip
    for column in ("endpoint", "req/s", "p99 ms", "non-2xx", "engine replaying", "target"):
        table.add_column(column, justify="right")
    for row in rows:
        rate_target, p99_target = TARGETS[row["name"]]
        ok = row["rate"] >= rate_target and row["p99"] <= p99_target
        table.add_row(row["name"], f"{row['rate']:,.0f}", f"{row['p99']:.1f}",
                      f"{row['non2xx']:.0f}", "yes" if row["replaying"] else "NO",
                      f"{'PASS' if ok else 'FAIL'} (≥ {rate_target:,} req/s, p99 ≤ "
                      f"{p99_target:g} ms)")  # fmt: skip
    console.print(table)
    console.print(f"{SECONDS} s per endpoint; machine: {os.cpu_count()} cores, load average "
                  f"{os.getloadavg()[0]:.1f} (the replay and the server share them).")  # fmt: skip


if __name__ == "__main__":
    main()
