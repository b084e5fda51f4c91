"""A replay with a hostile team of every kind beside two honest teams, on real minute data.

The honest teams' trades, snapshots and event lines must be byte-identical to a replay
without the hostile teams (metrics identical but for `rank`, which counts every team), every
hostile team must end faulted or disabled with a readable reason, the replay must exit 0,
and no team's ledger line may be over the cap the writer states.

Hostile teams: history requests the host cannot compute (no bypass needed), ledger floods
(no bypass needed), each guard bypass the red team found, the flood of 200 history requests
then a spin, a deeply nested source file, and compromised workers (a process speaking the
raw protocol in place of the sandboxed worker: what a bypass that reaches the channel gives)
sending forged frames, or a burst of requests with a forged result.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from app.cli import main
from app.ledger.writer import MAX_TEAM_LINE_BYTES
from sandbox.host.supervisor import SandboxRunner
from sandbox.host.worker_handle import WorkerProcess
from tests.conftest import error_lines

REPO = Path(__file__).resolve().parents[2]
HOSTILE = REPO / "tests" / "fixtures" / "hostile"
ROGUE = REPO / "tests" / "fixtures" / "rogue"
SESSION = "2026-03-12"
SYMBOLS = "AAPL,MSFT,NVDA,AMD,SPY,QQQ,TSLA,AMZN"
BUDGET = 1.0
HONEST = {
    "momentum": ("strategy_starter/strategy.py", "MomentumStrategy",
                 {"lookback": 30, "top": 3, "rebalance_every": 15}),
    "reversion": ("strategy_starter/examples/mean_reversion.py", "MeanReversionStrategy",
                  {"window": 30, "entry_z": 2.5, "position_dollars": 10000}),
}  # fmt: skip
# team -> (fixture, params, what its error log must say)
HOSTILE_TEAMS: dict[str, tuple[str, dict[str, Any], str]] = {
    "dates": ("history_date_overflow.py", {"catch": False}, "must be between 1900 and 2100"),
    "flood-spin": ("history_flood_then_spin.py", {}, "did not finish within the 1 s budget"),
    "wide-dict": ("ledger_wide_dict.py", {}, "unknown field"),
    "long-action": ("ledger_long_action.py", {}, "action"),
    "long-symbol": ("ledger_long_symbol.py", {}, "symbol"),
    "print-flood": ("ledger_print_flood.py", {}, "print output truncated"),
    "huge-raise": ("ledger_huge_exception.py", {}, "Error"),
    "get-origin": ("bypass_typing_get_origin_type.py", {}, "it is a metaclass (type)"),
    "lying-eq": ("bypass_lying_eq_agg_eval.py", {}, "agg('eval') is refused"),
    "lying-prefix": (
        "bypass_lying_startswith_to_json.py",
        {"out_file": "/tmp/x.json"},
        "agg('to_json') is refused",
    ),
    "user-format": ("bypass_userstring_format.py", {}, "UserString.format is refused"),
    "deep-source": ("", {}, "nested"),
}
# Compromised workers, started in place of the sandboxed worker for these teams.
ROGUES: dict[str, tuple[list[str], str]] = {
    "rogue-cpu": (["forged_frame.py", "cpu_ms_not_a_number"], "cpu_ms must be a number"),
    "rogue-deep": (["forged_frame.py", "output_1000_deep"], "nested more than 8 levels"),
    "rogue-printed": (["forged_frame.py", "printed_7_mb"], "exceeds 1,048,576"),
    "rogue-flood": (["flood_then_forge.py", str(BUDGET)], "the worker sent a frame the host"),
}
ROGUE_SOURCE = "class Rogue:\n    def generate_signal(self, team, bars, prices):\n        pass\n"


def deep_source(folder: Path) -> Path:
    """`X = 1+1+...` with 100,000 terms: it crashed the host's parser once."""
    path = folder / "deep.py"
    body = "class Deep:\n    def generate_signal(self, team, bars, prices):\n        return None\n"
    path.write_text("X = " + "+".join(["1"] * 100_000) + "\n\n" + body)
    return path


def team_entry(team: str, path: Path, entry: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"team_id": team, "name": team, "strategy": str(path), "entry_point": entry,
            "initial_cash": 100_000, "params": params}  # fmt: skip


def registry(folder: Path, hostile: bool) -> Path:
    teams = [
        team_entry(t, REPO / path, entry, params) for t, (path, entry, params) in HONEST.items()
    ]
    if hostile:
        for team, (fixture, params, _) in HOSTILE_TEAMS.items():
            path = deep_source(folder) if not fixture else HOSTILE / fixture
            entry = "Deep" if not fixture else "Attack"
            teams.append(team_entry(team, path, entry, params))
        rogue = folder / "rogue.py"
        rogue.write_text(ROGUE_SOURCE)
        for team in ROGUES:
            teams.append(team_entry(team, rogue, "Rogue", {}))
    document = {
        "competition": {"name": "hostile replay", "window_minutes": 120,
                        "sandbox": {"budget_seconds": BUDGET}},
        "teams": teams,
    }  # fmt: skip
    path = folder / ("hostile.yaml" if hostile else "honest.yaml")
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.fixture(scope="module")
def replays(real_bars: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same session replayed twice: honest teams alone, and with the hostile ones."""
    folder = tmp_path_factory.mktemp("hostile-replay")
    started: list[subprocess.Popen] = []
    spawning: dict[str, str] = {}
    original_begin, original_spawn = SandboxRunner._begin, SandboxRunner._spawn

    def begin(self: SandboxRunner, team_id: str, code: Any) -> Any:
        spawning[id(self)] = team_id
        return original_begin(self, team_id, code)

    def spawn(self: SandboxRunner, config: dict[str, Any]) -> Any:
        team = spawning.get(id(self), "")
        if team not in ROGUES:
            return original_spawn(self, config)
        import socket

        host_end, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        script, *args = ROGUES[team][0]
        process = subprocess.Popen(
            [sys.executable, str(ROGUE / script), str(worker_end.fileno()), *args],
            pass_fds=(worker_end.fileno(),),
            cwd=REPO,
            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
            stderr=subprocess.DEVNULL,
        )
        worker_end.close()
        started.append(process)
        return WorkerProcess(process.pid), host_end

    outcome: dict[str, Path] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SandboxRunner, "_begin", begin)
        patch.setattr(SandboxRunner, "_spawn", spawn)
        try:
            for name, hostile in (("honest", False), ("hostile", True)):
                data = folder / name / "data"
                code = main(["replay", "--bars", str(real_bars), "--registry",
                             str(registry(folder, hostile)), "--data-dir", str(data),
                             "--start", SESSION, "--end", SESSION, "--symbols", SYMBOLS,
                             "--quiet"])  # fmt: skip
                assert code == 0, f"the {name} replay exited {code}"
                outcome[name] = data
        finally:
            for process in started:
                process.kill()
                process.wait()
    return outcome


def team_files(data: Path, team: str) -> dict[str, bytes]:
    folder = data / "team" / team
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*.jsonl"))}  # fmt: skip


def without_rank(lines: bytes) -> list[dict[str, Any]]:
    return [{k: v for k, v in orjson.loads(line).items() if k != "rank"}
            for line in lines.splitlines()]  # fmt: skip


@pytest.mark.parametrize("team", sorted(HONEST))
def test_honest_teams_ledgers_are_untouched_by_the_hostile_ones(replays, team: str) -> None:
    alone, beside = team_files(replays["honest"], team), team_files(replays["hostile"], team)
    assert sorted(alone) == sorted(beside)
    assert b"".join(alone[f] for f in alone if f.startswith("trades")) != b""  # they traded
    for name in alone:
        if name == "metrics.jsonl":
            assert without_rank(alone[name]) == without_rank(beside[name])
        else:
            assert alone[name] == beside[name], f"{team}/{name} differs"


@pytest.mark.parametrize("team", sorted(HOSTILE_TEAMS) + sorted(ROGUES))
def test_each_hostile_team_is_faulted_or_disabled_with_a_readable_reason(replays, team) -> None:
    expected = {**{t: e for t, (_, _, e) in HOSTILE_TEAMS.items()},
                **{t: e for t, (_, e) in ROGUES.items()}}[team]  # fmt: skip
    lines = error_lines(replays["hostile"] / "team" / team)
    faults = [line for line in lines if line["kind"] not in ("output", "version")]
    assert faults, f"{team} was never faulted"
    assert any(expected in str(line.get("message", "")) + str(line.get("printed", ""))
               for line in lines), [line.get("message") for line in faults][:3]  # fmt: skip
    assert all(line["message"] for line in faults)  # every fault says why
    assert not any(o for line in lines if line["kind"] == "rejected_signal"
                   for o in [line.get("signal")] if o and "forged" in str(o))  # fmt: skip
    trades = replays["hostile"] / "team" / team / "trades.jsonl"
    assert not trades.exists() or trades.read_bytes() == b""


def test_no_team_ledger_line_is_over_the_cap(replays) -> None:
    for path in (replays["hostile"] / "team").rglob("*.jsonl"):
        longest = max((len(line) for line in path.read_bytes().splitlines()), default=0)
        assert longest <= MAX_TEAM_LINE_BYTES, (path, longest)
