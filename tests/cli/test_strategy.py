"""`arena strategy check|test` and `arena doctor` through the real sandbox."""

from __future__ import annotations

import json
from pathlib import Path

from app.cli import main
from tests.conftest import REPO

STARTER = REPO / "strategy_starter" / "strategy.py"


def arena(*args: str | Path) -> int:
    return main([str(a) for a in args])


def test_check_passes_the_starter_strategy(capsys):
    assert arena("strategy", "check", STARTER) == 0
    assert "OK: " in capsys.readouterr().out


def test_check_lists_every_problem_with_its_line_and_exits_1(tmp_path, capsys):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import math\n"
        "import os\n"
        "class S:\n"
        "    def generate_signal(self, team, bars, prices):\n"
        "        import subprocess\n"
        "        return ().__class__\n"
    )
    assert arena("strategy", "check", bad) == 1
    out = capsys.readouterr().out.splitlines()
    problems = {line.split(": ", 1)[0]: line for line in out if line.startswith("bad.py:")}
    assert sorted(problems) == ["bad.py:2", "bad.py:5", "bad.py:6"]
    assert "import of os refused" in problems["bad.py:2"]
    assert "import of subprocess refused" in problems["bad.py:5"]
    assert "__class__" in problems["bad.py:6"]
    assert out[-1] == f"3 problem(s) in {bad}"


def test_check_applies_an_organisers_blacklist(tmp_path, capsys):
    uses_pandas = tmp_path / "p.py"
    uses_pandas.write_text(
        "import pandas\nclass S:\n    def generate_signal(self, team, bars, prices):\n"
        "        return None\n"
    )
    assert arena("strategy", "check", uses_pandas) == 0
    assert arena("strategy", "check", uses_pandas, "--block", "pandas") == 1
    assert "p.py:1" in capsys.readouterr().out


def test_test_runs_the_strategy_in_the_sandbox_over_real_bars(real_bars, capsys):
    code = arena("strategy", "test", STARTER, "--bars", real_bars, "--minutes", "40",
                 "--params", '{"rebalance_every": 5, "lookback": 3}', "--json")  # fmt: skip
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 40
    assert lines[0]["minute"] == "2026-03-12T13:31:00Z"
    trading = [line for line in lines if line["signals"]]
    assert len(trading) >= 2  # it rebalances every 5 minutes once it has 4 bars
    assert any(line["fills"] for line in lines)
    assert all(line["error"] is None for line in lines)


def test_test_reports_a_strategy_that_does_not_load(tmp_path, real_bars, capsys):
    broken = tmp_path / "broken.py"
    broken.write_text(
        "class S:\n    def __init__(self, params=None):\n        raise ValueError('no alpha')\n"
        "    def generate_signal(self, team, bars, prices):\n        return None\n"
    )
    assert arena("strategy", "test", broken, "--bars", real_bars, "--minutes", "3") == 1
    err = capsys.readouterr().err
    assert "did not load" in err
    assert "ValueError: no alpha" in err


def test_doctor_shows_every_layer_active_here(capsys):
    assert arena("doctor") == 0
    out = capsys.readouterr().out
    for layer in ("seccomp", "net_namespace", "uid", "chroot", "rlimits"):
        assert layer in out
    assert "NOT active" not in out
