"""The organiser CLI, on the real data set and on broken input."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from app.cli import main
from app.ledger.jsonl import read_jsonl
from tests.conftest import REPO, trade_totals

REGISTRY = REPO / "team_registry.yaml"
TEAMS = ("momentum", "reversion", "benchmark")
SESSIONS = ("2026-03-12", "2026-03-13", "2026-03-20", "2026-03-23", "2026-03-24",
            "2026-03-25", "2026-03-26", "2026-03-27")  # fmt: skip


def arena(*args: str | Path) -> int:
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def replayed(real_bars: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo teams over all 8 real sessions, once for the module."""
    data_dir = tmp_path_factory.mktemp("replay") / "data"
    assert (
        arena(
            "replay", "--bars", real_bars, "--registry", REGISTRY, "--data-dir", data_dir, "--quiet"
        )
        == 0
    )
    return data_dir


def test_replay_of_the_real_data_writes_complete_ledgers_for_every_session(replayed: Path):
    minutes_per_day = {}
    for team in (*TEAMS, None):
        folder = replayed / "team" / team if team else replayed / "account"
        days = sorted(p.stem for p in (folder / "portfolio").glob("*.jsonl"))
        assert days == list(SESSIONS)
        minutes_per_day[team] = [
            sum(1 for _ in read_jsonl(folder / "portfolio" / f"{d}.jsonl")) for d in days
        ]
        assert (folder / "portfolio.parquet").exists()
        assert sum(1 for _ in read_jsonl(folder / "metrics.jsonl")) == sum(minutes_per_day[team])
    # Every tick writes one snapshot per owner; 390 regular-session minutes a day carry
    # at least one symbol's bar in this data set (see docs/decisions/0006).
    assert minutes_per_day["momentum"] == [390] * 8
    assert all(v == minutes_per_day["momentum"] for v in minutes_per_day.values())
    lake_days = sorted(p.name for p in (replayed / "bars").iterdir())
    assert lake_days == [f"date={d}" for d in SESSIONS]
    for team in TEAMS:
        assert sum(1 for _ in read_jsonl(replayed / "team" / team / "trades.jsonl")) > 0


def test_every_broker_fill_is_allocated_exactly_and_crossing_nets_to_zero(replayed: Path):
    fills: dict[str, Decimal] = defaultdict(Decimal)
    for fill in read_jsonl(replayed / "account" / "trades.jsonl"):
        fills[fill["client_order_id"]] += Decimal(fill["quantity"])
    totals = trade_totals(replayed, TEAMS)
    allocated, crossed, positions = totals.allocated, totals.crossed, totals.positions
    assert allocated == fills
    assert all(total == 0 for total in crossed.values())
    account = list(read_jsonl(replayed / "account" / "portfolio" / f"{SESSIONS[-1]}.jsonl"))[-1]
    assert {s: Decimal(p["quantity"]) for s, p in account["positions"].items()} == {
        s: q for s, q in positions.items() if q != 0
    }


def test_the_same_replay_twice_gives_byte_identical_trades(replayed: Path, real_bars, tmp_path):
    again = tmp_path / "again"
    assert (
        arena("replay", "--bars", real_bars, "--registry", REGISTRY, "--data-dir", again, "--quiet")
        == 0
    )
    for team in TEAMS:
        first = (replayed / "team" / team / "trades.jsonl").read_bytes()
        assert first == (again / "team" / team / "trades.jsonl").read_bytes()
    assert (replayed / "account" / "trades.jsonl").read_bytes() == (
        again / "account" / "trades.jsonl"
    ).read_bytes()


def test_print_team_and_print_global_read_the_ledgers(replayed: Path, capsys):
    assert arena("print-team", "momentum", "--data-dir", replayed) == 0
    team_out = capsys.readouterr().out
    assert "momentum at 2026-03-27T20:00:00Z" in team_out
    assert "trade id" in team_out
    assert arena("print-global", "--data-dir", replayed, "--registry", REGISTRY) == 0
    overall = capsys.readouterr().out
    for name in ("Momentum Mules", "Reversion Rabbits", "Buy-and-Hold Benchmark"):
        assert name in overall
    assert "Account at 2026-03-27T20:00:00Z" in overall


def test_replay_refuses_to_mix_into_an_earlier_run(replayed: Path, real_bars, capsys):
    assert arena("replay", "--bars", real_bars, "--data-dir", replayed, "--quiet") == 1
    err = capsys.readouterr().err
    assert err.startswith("arena: error: ")
    assert "--reset" in err
    assert "Traceback" not in err


def test_bad_rows_are_reported_with_file_and_line_and_the_replay_goes_on(tmp_path, capsys):
    bars = tmp_path / "bars"
    bars.mkdir()
    rows = ["timestamp,open,high,low,close,volume"]
    for m in range(10):
        rows.append(f"2026-03-12T14:{m:02d}:00Z,10,10.5,9.5,10.0{m},1000")
    rows[4] = "2026-03-12T14:02:00Z,10,9.0,11.0,10,1000"  # high < low
    rows[6] = "2026-03-12T14:04:00Z,10,10.5,9.5,ten,1000"  # unparsable close
    (bars / "AAA.csv").write_text("\n".join(rows) + "\n")
    code = arena(
        "replay", "--bars", bars, "--registry", REGISTRY, "--data-dir", tmp_path / "data", "--quiet"
    )
    assert code == 0
    err = capsys.readouterr().err
    assert "AAA.csv:5" in err
    assert "AAA.csv:7" in err
    snapshots = list(
        read_jsonl(tmp_path / "data" / "team" / "momentum" / "portfolio" / "2026-03-12.jsonl")
    )
    assert len(snapshots) == 8  # 10 rows, 2 skipped


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("replay", "--bars", "/nonexistent/bars"), "/nonexistent/bars"),
        (("teams", "list", "--registry", "/nonexistent/registry.yaml"), "no such registry file"),
        (("print-team", "nobody", "--data-dir", "/nonexistent"), "no competition in /nonexistent"),
        (("run", "--market", "bogus", "--duration", "1"), "--market must be"),
    ],
)
def test_user_errors_are_one_line_and_exit_1(args, expected, capsys, tmp_path):
    assert arena(*args) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("arena: error: ")
    assert expected in err
    assert len(err.splitlines()) == 1


def test_a_bad_registry_lists_every_problem(tmp_path, capsys):
    registry = tmp_path / "registry.yaml"
    registry.write_text(
        "teams:\n"
        "  - {team_id: Bad Id, name: X, strategy: nope.py, entry_point: S, initial_cash: 10}\n"
        "  - {team_id: ok, name: Y, strategy: nope.py, entry_point: S, initial_cash: -5,"
        " colour: red}\n"
    )
    assert arena("teams", "list", "--registry", registry) == 1
    err = capsys.readouterr().err
    assert "teams.0.team_id" in err
    assert "teams.1.initial_cash" in err
    assert "teams.1.colour: unknown key" in err


def test_teams_list_shows_the_registry(capsys):
    assert arena("teams", "list", "--registry", REGISTRY) == 0
    out = capsys.readouterr().out
    for team in TEAMS:
        assert team in out


def test_python_dash_m_app_is_the_same_cli():
    result = subprocess.run(
        [sys.executable, "-m", "app", "teams", "list", "--registry", str(REGISTRY)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "momentum" in result.stdout


def test_the_demo_runs_a_short_synthetic_competition(tmp_path, capsys):
    code = arena(
        "demo",
        "--minutes",
        "30",
        "--speed",
        "10000",
        "--data-dir",
        tmp_path / "demo",
        "--registry",
        REGISTRY,
        "--no-serve",
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "Leaderboard final" in out
    snapshots = list(read_jsonl(tmp_path / "demo" / "account" / "portfolio" / "2026-03-02.jsonl"))
    assert len(snapshots) == 30


def test_every_ledger_line_carries_an_rfc3339_utc_timestamp(replayed: Path):
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$")
    files = list(replayed.rglob("*.jsonl"))
    assert len(files) >= 4 * 8 + 10
    for path in files:
        for record in read_jsonl(path):
            assert stamp.match(record["timestamp"]), (path, record)


def test_kill_switch_needs_confirmation_to_flatten_and_can_be_released(tmp_path, capsys):
    data = str(tmp_path / "data")
    (tmp_path / "data" / "team" / "alpha").mkdir(parents=True)  # a competition's ledgers
    assert main(["kill-switch", "flatten", "--data-dir", data]) == 1  # stdin is not a tty
    assert "confirm with --yes" in capsys.readouterr().err
    assert not (tmp_path / "data" / "control" / "kill-switch.json").exists()
    assert main(["kill-switch", "flatten", "--yes", "--data-dir", data]) == 0
    switch = (tmp_path / "data" / "control" / "kill-switch.json").read_text()
    assert '"mode": "flatten"' in switch
    assert main(["kill-switch", "off", "--data-dir", data]) == 0
    assert not (tmp_path / "data" / "control" / "kill-switch.json").exists()
