"""Commands that act on a competition find it, or say there is none and where one is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from app.runtime.presence import mark_engine_running
from tests.conftest import FIXTURE_STRATEGIES

SWITCH = Path("control") / "kill-switch.json"
STRATEGY = FIXTURE_STRATEGIES / "scripted.py"


def arena(*args: str | Path) -> int:
    return main([str(a) for a in args])


def ledgers(data_dir: Path, *teams: str) -> Path:
    """What a competition that has ticked leaves: its teams' and the account's folders."""
    for team in teams:
        (data_dir / "team" / team).mkdir(parents=True)
    (data_dir / "account").mkdir(parents=True, exist_ok=True)
    return data_dir


@pytest.mark.parametrize(
    "command",
    [
        ("kill-switch", "block"),
        ("kill-switch", "flatten", "--yes"),
        ("kill-switch", "off"),
        ("print-global",),
        ("print-team", "momentum"),
        ("reconcile", "--universe", "AAPL", "--apply"),
    ],
)
def test_an_empty_data_dir_is_said_to_hold_no_competition(command, tmp_path, capsys):
    data = tmp_path / "data"
    assert arena(*command, "--data-dir", data) == 1
    err = capsys.readouterr().err
    assert f"no competition in {data} (no ledgers, no running engine)" in err
    assert len(err.strip().splitlines()) == 1
    assert not data.exists()  # nothing created where there is nothing to act on


@pytest.mark.parametrize("command", [("kill-switch", "block"), ("print-global",)])
def test_the_hint_names_the_demo_folder_inside(command, tmp_path, capsys):
    data = tmp_path / "data"
    ledgers(data / "demo", "momentum")  # what `make demo` leaves: data/demo, not data/
    assert arena(*command, "--data-dir", data) == 1
    err = capsys.readouterr().err
    assert f"pass --data-dir {data / 'demo'}" in err
    assert not (data / SWITCH).exists()


def test_a_running_engine_is_a_competition_before_its_first_ledger_line(tmp_path, capsys):
    data = tmp_path / "data"
    mark_engine_running(data)  # this process plays the engine
    assert arena("kill-switch", "block", "--data-dir", data) == 0
    assert (data / SWITCH).is_file()
    assert "acts at its next tick" in capsys.readouterr().out


def test_a_mark_left_by_a_dead_engine_is_not_a_running_one(tmp_path, capsys):
    data = tmp_path / "data"
    mark_engine_running(data)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    mark = data / "control" / "engine.json"
    mark.write_text(mark.read_text().replace(str(os.getpid()), dead.stdout.strip()))
    assert arena("kill-switch", "block", "--data-dir", data) == 1
    assert "no running engine" in capsys.readouterr().err


def test_ledgers_without_an_engine_are_thrown_and_said_not_running(tmp_path, capsys):
    data = ledgers(tmp_path / "data", "momentum")
    assert arena("kill-switch", "block", "--data-dir", data) == 0
    out = capsys.readouterr().out
    assert "no engine is running" in out
    assert (data / SWITCH).is_file()
    assert arena("print-team", "nobody", "--data-dir", data) == 1
    assert "no team 'nobody' in the competition" in capsys.readouterr().err


def test_a_key_issued_beside_the_demo_says_where_the_demo_is(tmp_path, capsys):
    data = tmp_path / "data"
    ledgers(data / "demo", "momentum")
    registry = tmp_path / "registry.yaml"
    registry.write_text(
        f"teams:\n  - {{team_id: momentum, name: M, strategy: {STRATEGY},"
        " entry_point: ScriptedStrategy, initial_cash: 1000}\n"
    )
    assert arena("teams", "rotate-key", "momentum", "--registry", registry,
                 "--data-dir", data) == 0  # fmt: skip
    out = " ".join(capsys.readouterr().out.split())
    assert f"holds no competition; one is in {data / 'demo'}" in out
