"""`arena replay --continue` (issue 14, part 5; decision 0027): a replay in two parts writes
what one run writes, byte for byte, and a continuation that could not is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from app.cli import main
from tests.conftest import REPO

# The demo teams decide from the window: mean reversion keeps no state, momentum counts
# minutes to rebalance every 15 (a session's 390 minutes end on a multiple of 15), and the
# benchmark holds what it bought on the first session.
REGISTRY = REPO / "team_registry.yaml"
SYMBOLS = "AAPL,MSFT,QQQ,SPY"


def replay(bars: Path, data_dir: Path, *flags: str, registry: Path = REGISTRY) -> int:
    args = ["replay", "--bars", str(bars), "--registry", str(registry)]
    return main([*args, "--data-dir", str(data_dir), "--quiet", *flags])


def files_of(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def runs(real_bars: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Sessions 1-2 in one run; session 1, then --continue with session 2."""
    base = tmp_path_factory.mktemp("continue")
    one, parts = base / "one", base / "parts"
    assert replay(real_bars, one, "--symbols", SYMBOLS, "--end", "2026-03-13") == 0
    assert replay(real_bars, parts, "--symbols", SYMBOLS, "--end", "2026-03-12") == 0
    assert replay(real_bars, parts, "--continue", "--end", "2026-03-13") == 0  # its symbols
    return one, parts


def test_a_replay_in_two_parts_is_byte_identical_to_one_run(runs: tuple[Path, Path]) -> None:
    one, parts = runs
    whole, joined = files_of(one), files_of(parts)
    assert sorted(joined) == sorted(whole)
    for kind in (
        "team/momentum/trades.jsonl",
        "team/reversion/events.jsonl",
        "team/benchmark/portfolio/2026-03-13.jsonl",
        "team/momentum/portfolio.parquet",
        "team/momentum/metrics.jsonl",
        "account/trades.jsonl",
        "account/portfolio.parquet",
        "orders/journal.jsonl",
        "bars/date=2026-03-12/part-0930.parquet",
        "bars/date=2026-03-13/part-0930.parquet",
    ):
        assert kind in whole
    different = [name for name in whole if whole[name] != joined[name]]
    assert different == []
    second_day = [
        line for line in whole["account/trades.jsonl"].splitlines() if b"2026-03-13" in line
    ]
    assert second_day  # the second part traded


def _copy(runs: tuple[Path, Path], tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(runs[0], copy)
    return copy


def _refused(capsys: pytest.CaptureFixture[str], code: int) -> str:
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("arena: error: ")
    assert len(err.splitlines()) == 1
    return err


def test_continue_needs_an_earlier_replay(
    real_bars: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _refused(capsys, replay(real_bars, tmp_path / "empty", "--continue"))
    assert "holds no earlier replay" in err
    (tmp_path / "old" / "team").mkdir(parents=True)
    err = _refused(capsys, replay(real_bars, tmp_path / "old", "--continue"))
    assert "no replay record" in err


def test_continue_refuses_sessions_not_after_the_earlier_part(
    runs: tuple[Path, Path], real_bars: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = _copy(runs, tmp_path)
    before = files_of(copy)
    err = _refused(capsys, replay(real_bars, copy, "--continue", "--start", "2026-03-13"))
    assert "--start 2026-03-13 is not after the earlier part" in err
    assert files_of(copy) == before


def test_continue_refuses_another_team_set_or_settings(
    runs: tuple[Path, Path], real_bars: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = _copy(runs, tmp_path)
    before = files_of(copy)
    document = yaml.safe_load(REGISTRY.read_text())
    for team in document["teams"]:
        team["strategy"] = str(REPO / team["strategy"])
    changed = tmp_path / "changed.yaml"
    fewer = dict(document, teams=document["teams"][:2])
    changed.write_text(yaml.safe_dump(fewer))
    err = _refused(capsys, replay(real_bars, copy, "--continue", registry=changed))
    assert "teams differ from the earlier part's (gone: benchmark)" in err
    document["teams"][0]["params"]["lookback"] = 31
    changed.write_text(yaml.safe_dump(document))
    err = _refused(capsys, replay(real_bars, copy, "--continue", registry=changed))
    assert "team(s) momentum differ from the earlier part" in err
    err = _refused(capsys, replay(real_bars, copy, "--continue", "--hours", "extended"))
    assert "--hours regular" in err
    assert files_of(copy) == before


def test_continue_refuses_a_held_or_unfinished_run(
    runs: tuple[Path, Path], real_bars: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = _copy(runs, tmp_path)
    (copy / "HOLD.json").write_text(json.dumps({"problems": ["SPY: the books disagree"]}))
    err = _refused(capsys, replay(real_bars, copy, "--continue"))
    assert "trading is held" in err
    assert "SPY: the books disagree" in err
    (copy / "HOLD.json").unlink()
    record = copy / "account" / "replay.json"
    record.write_text(json.dumps(dict(json.loads(record.read_text()), finished=False)))
    err = _refused(capsys, replay(real_bars, copy, "--continue"))
    assert "did not finish" in err


def test_continue_and_reset_exclude_each_other(real_bars: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        replay(real_bars, tmp_path, "--continue", "--reset")


def test_a_second_run_without_a_flag_names_both_ways(
    runs: tuple[Path, Path], real_bars: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _refused(capsys, replay(real_bars, runs[0], "--symbols", SYMBOLS))
    assert "--reset" in err
    assert "--continue" in err
