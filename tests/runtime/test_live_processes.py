"""The live path as two real processes on loopback: `arena run --broker alpaca --market
alpaca` trading through alpaca-py against `arena emulator`, with injected faults, and
killed with SIGKILL again and again."""

from __future__ import annotations

import random
import signal
import subprocess
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from app.ledger.jsonl import read_jsonl
from tests.conftest import DAY, FIXTURE_STRATEGIES, trade_totals
from tests.runtime.live_processes import (
    EmulatorProcess,
    arena,
    check_books_against_emulator,
    host_args,
    kill_group,
    reconcile,
)

UNIVERSE = "AAPL,QQQ,SPY"
TEAMS = {  # five teams that trade every minute, netting and crossing on AAPL and SPY
    "alpha": {"symbols": ["AAPL", "SPY"], "step": 3},
    "beta": {"symbols": ["AAPL", "QQQ"], "step": 2, "high": 6},
    "gamma": {"symbols": ["SPY"], "step": 5, "high": 10},
    "delta": {"symbols": ["AAPL"], "step": 4, "high": 4},
    "epsilon": {"symbols": ["QQQ", "SPY"], "step": 1, "high": 3},
}
FAULTS = "seed:7,429:0.05,500:0.03,504:0.03,timeout:0.02:1,partial:0.2,reject:0.03"


def churn_registry(folder: Path) -> Path:
    teams = [
        {"team_id": team, "name": team.title(), "strategy": str(FIXTURE_STRATEGIES / "churn.py"),
         "entry_point": "ChurnStrategy", "initial_cash": 100_000, "params": params}
        for team, params in TEAMS.items()
    ]  # fmt: skip
    path = folder / "registry.yaml"
    path.write_text(yaml.safe_dump({"competition": {}, "teams": teams}, sort_keys=False))
    return path


@pytest.fixture
def bars(real_bars: Path) -> Path:
    return real_bars


def test_two_processes_with_injected_faults_end_with_books_equal_to_the_broker(bars, tmp_path):
    emulator = EmulatorProcess(bars, DAY.isoformat(), UNIVERSE, speed=4, faults=FAULTS)
    registry, data = churn_registry(tmp_path), tmp_path / "data"
    try:
        host = arena(*host_args(registry, data, UNIVERSE, "--duration", "25"),
                     env=emulator.host_env)  # fmt: skip
        output, _ = host.communicate(timeout=240)
        assert host.returncode == 0, output
        assert "bars=3" in output
        injected = emulator.get("/_emulator/state")["faults"]["injected"]
        emulator.set_faults("")  # the checks below read the emulator without faults
        settled = reconcile(emulator, registry, data, UNIVERSE, apply=True)  # the last orders
        assert settled.returncode == 0, settled.stdout + settled.stderr
        counts = check_books_against_emulator(emulator, data, list(TEAMS))
        assert counts["orders"] > 20
        assert sum(injected.values()) > 10, injected  # the run met real faults
        assert {"429", "500"} <= set(injected), injected
    finally:
        emulator.close()


FAILPOINTS = (  # app.runtime.failpoints: where a crash is most dangerous
    "journaled-not-sent",
    "sent-not-recorded",
    "fill-journaled-not-booked",
    "account-booked-not-teams",
)


def test_sigkill_at_twenty_random_moments_loses_and_duplicates_nothing(bars, tmp_path):
    """The host is killed (with its sandbox) and restarted with --resume 24 times: at random
    moments, and at each failpoint (between journaling an order and sending it, between
    journaling a fill and its ledger lines...). At the end the ledgers are whole, nothing
    was sent twice, and the books equal the broker's."""
    emulator = EmulatorProcess(bars, DAY.isoformat(), UNIVERSE, speed=3)
    registry, data = churn_registry(tmp_path), tmp_path / "data"
    draw = random.Random(20261121)
    outputs: list[str] = []
    try:
        for kill in range(24):
            env = dict(emulator.host_env)
            if kill % 2:  # a failpoint: the host kills itself at the n-th time it gets there
                env["ARENA_FAILPOINTS"] = f"{FAILPOINTS[kill // 2 % 4]}:{draw.randint(1, 4)}"
            host = arena(*host_args(registry, data, UNIVERSE, "--resume"), env=env)
            if kill % 2:
                try:
                    host.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    pytest.fail(f"failpoint {env['ARENA_FAILPOINTS']} was never reached")
                assert host.returncode == -signal.SIGKILL, host.stdout.read()
            else:
                time.sleep(draw.uniform(0.8, 4.0))  # start-up, recovery, or mid-tick
                assert host.poll() is None, f"the host stopped by itself: {host.stdout.read()}"
            kill_group(host)
            outputs.append(host.stdout.read())
        final = arena(*host_args(registry, data, UNIVERSE, "--resume", "--duration", "3"),
                      env=emulator.host_env)  # fmt: skip
        output, _ = final.communicate(timeout=120)
        assert final.returncode == 0, output
        recovered = "".join(outputs) + output
        assert "redo: " in recovered  # some ledger lines were written from the journal
        assert "missed fill" in recovered  # some fills were learned from the broker
        assert "never reached the broker" in recovered or "rejected" in recovered
        settled = reconcile(emulator, registry, data, UNIVERSE, apply=True)
        assert settled.returncode == 0, settled.stdout + settled.stderr
        counts = check_books_against_emulator(emulator, data, list(TEAMS))
        assert counts["orders"] > 20
        for team in TEAMS:  # what anyone reads (the last snapshot) holds every trade (0023)
            assert last_snapshot_positions(data / "team" / team) == (
                trade_totals(data, [team]).positions
            ), team
    finally:
        emulator.close()


def last_snapshot_positions(folder: Path) -> dict[str, Decimal]:
    day = sorted((folder / "portfolio").glob("*.jsonl"))[-1]
    last = list(read_jsonl(day))[-1]
    return {
        s: Decimal(p["quantity"]) for s, p in last["positions"].items() if Decimal(p["quantity"])
    }


def test_dry_run_journals_and_books_but_sends_nothing_to_the_broker(bars, tmp_path):
    emulator = EmulatorProcess(bars, DAY.isoformat(), UNIVERSE, speed=4)
    registry, data = churn_registry(tmp_path), tmp_path / "data"
    try:
        host = arena(*host_args(registry, data, UNIVERSE, "--dry-run", "--duration", "6"),
                     env=emulator.host_env)  # fmt: skip
        output, _ = host.communicate(timeout=120)
        assert host.returncode == 0, output
        assert "DRY RUN" in output
        assert emulator.get("/_emulator/orders") == []
        journal = (data / "orders" / "journal.jsonl").read_text()
        assert '"event":"submit"' in journal
        assert (data / "team" / "alpha" / "trades.jsonl").stat().st_size > 0
    finally:
        emulator.close()


def test_the_sessions_last_minute_never_reaches_the_broker_however_late_its_tick(bars, tmp_path):
    """The broker clock runs minute M at M + 1 min + 2 s, so the 15:59 tick always comes
    after the close (here: after the jump to the next open). Its signals expire (0023)."""
    day2 = (DAY + timedelta(days=1)).isoformat()
    emulator = EmulatorProcess(bars, DAY.isoformat(), UNIVERSE, speed=1, end=day2)
    registry, data = churn_registry(tmp_path), tmp_path / "data"
    try:
        emulator.advance(385)  # 15:55 New York
        host = arena(*host_args(registry, data, UNIVERSE, "--duration", "8"),
                     env=emulator.host_env)  # fmt: skip
        output, _ = host.communicate(timeout=180)
        assert host.returncode == 0, output
        sent = [o["client_order_id"] for o in emulator.get("/_emulator/orders")]
        assert any("1958" in cid for cid in sent), sent  # the minutes before traded
        assert not any("1959" in cid for cid in sent), sent
        # Each 15:59 signal expired: for the session's last minute, or while waiting for the
        # host's 15:58 order still working (a catch-up tick); nothing of it was sent.
        expired = [e for team in TEAMS for e in read_jsonl(data / "team" / team / "events.jsonl")
                   if e["kind"] == "expired"]  # fmt: skip
        assert expired
        assert {e["timestamp"] for e in expired} == {f"{DAY}T20:00:00Z"}
    finally:
        emulator.close()
