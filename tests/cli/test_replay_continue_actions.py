"""`arena replay --continue` books the corporate actions the earlier part booked (decision
0027): the replay record holds a fingerprint of the --actions file's content, and a
continuation without that file, or with another, is refused in one line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from app.cli import main
from app.ledger.jsonl import read_jsonl
from app.runtime.replay_record import actions_print
from tests.conftest import REPO

YAHOO = REPO / "tests" / "fixtures" / "replay_inputs" / "yahoo"  # 2026-03-12 and 03-13
SCRIPT = {"0": [{"symbol": "MSFT", "action": "buy", "quantity": 4}]}
HEADER = "symbol,kind,ex_date,amount\n"


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def _refused(capsys: pytest.CaptureFixture[str], code: int) -> str:
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    return err


def test_a_continuation_books_the_same_actions_file_or_is_refused(
    write_registry: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = write_registry(
        {"alpha": ("scripted.py", "ScriptedStrategy", {"script": SCRIPT}, 10_000)}
    )
    side, other = tmp_path / "actions.csv", tmp_path / "other.csv"
    side.write_text(HEADER + "MSFT,dividend,2026-03-13,0.5\n")
    other.write_text(HEADER + "MSFT,dividend,2026-03-13,0.6\n")
    data = tmp_path / "data"
    base = ["replay", "--bars", str(YAHOO), "--registry", str(registry)]
    base += ["--data-dir", str(data), "--quiet"]
    assert main([*base, "--actions", str(side), "--end", "2026-03-12"]) == 0
    record_file = data / "account" / "replay.json"
    assert json.loads(record_file.read_text())["actions"] == actions_print(side)
    before = _files(data)

    err = _refused(capsys, main([*base, "--continue"]))
    assert f"replayed with an --actions file (content {actions_print(side)})" in err
    err = _refused(capsys, main([*base, "--continue", "--actions", str(other)]))
    assert f"this one's content differs ({actions_print(other)})" in err
    written = record_file.read_text()
    record = json.loads(written)
    record_file.write_text(json.dumps(dict(record, actions=None)))
    err = _refused(capsys, main([*base, "--continue", "--actions", str(side)]))
    assert "the earlier part was replayed without --actions" in err
    record_file.write_text(json.dumps({k: v for k, v in record.items() if k != "actions"}))
    err = _refused(capsys, main([*base, "--continue", "--actions", str(side)]))
    assert "not a replay record this version reads" in err
    assert "--actions" in err
    record_file.write_text(written)
    assert _files(data) == before

    assert main([*base, "--continue", "--actions", str(side)]) == 0
    lines = read_jsonl(data / "team" / "alpha" / "trades.jsonl")
    assert "dividend-MSFT-2026-03-13-0.5" in {r.get("action_id") for r in lines}
    assert json.loads(record_file.read_text())["actions"] == actions_print(side)


def test_a_replay_without_an_actions_file_records_none(tmp_path: Path) -> None:
    assert actions_print(None) is None
    side = tmp_path / "a.csv"
    side.write_text(HEADER)
    first = actions_print(side)
    side.write_text(HEADER + "MSFT,dividend,2026-03-13,0.5\n")
    assert actions_print(side) != first
    with pytest.raises(ValueError, match=r"--actions .*missing\.csv: cannot read"):
        actions_print(tmp_path / "missing.csv")
