"""`arena replay` over inputs as people have them (issue 14, part 4): one summary of what was
understood, the regular session by default, extended hours only when asked (and traded in
the regular session only), a misread refused naming the flags."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from app.cli import main
from app.domain.timefmt import parse_rfc3339
from app.ledger.jsonl import read_jsonl
from app.market.calendar import SessionCalendar
from tests.conftest import REPO

INPUTS = REPO / "tests" / "fixtures" / "replay_inputs"
CHURN = {"churn": ("churn.py", "ChurnStrategy", {"symbols": ["AAA", "BBB"]}, 100_000)}


def replay(registry: Path, data_dir: Path, bars: Path, *flags: str) -> int:
    args = ["replay", "--bars", str(bars), "--registry", str(registry)]
    return main([*args, "--data-dir", str(data_dir), "--quiet", *flags])


def stamps(path: Path) -> list[str]:
    return [line["timestamp"] for line in read_jsonl(path)] if path.exists() else []


def in_session(stamp: str) -> bool:
    return SessionCalendar().is_session_minute(parse_rfc3339(stamp))


def test_all_hours_bars_are_replayed_in_the_regular_session_with_one_summary(
    write_registry: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert replay(write_registry(CHURN), data, INPUTS / "all_hours") == 0
    out = capsys.readouterr().out
    assert out.count("Read ") == 1
    assert "4 minutes before the regular session (pre-market)" in out
    snapshots = stamps(data / "team" / "churn" / "portfolio" / "2026-03-12.jsonl")
    # A snapshot is stamped when its minute closed: 09:31 for the 09:30 bar, ..., 16:00.
    assert len(snapshots) == 16
    assert (snapshots[0], snapshots[-1]) == ("2026-03-12T13:31:00Z", "2026-03-12T20:00:00Z")
    fills = stamps(data / "account" / "trades.jsonl")
    assert fills
    assert all(in_session(stamp) for stamp in fills)


def test_extended_hours_are_seen_but_traded_in_the_regular_session_only(
    write_registry: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert replay(write_registry(CHURN), data, INPUTS / "all_hours", "--hours", "extended") == 0
    assert "extended hours" in capsys.readouterr().out
    snapshots = stamps(data / "team" / "churn" / "portfolio" / "2026-03-12.jsonl")
    assert len(snapshots) == 24
    assert (snapshots[0], snapshots[-1]) == ("2026-03-12T08:01:00Z", "2026-03-13T00:00:00Z")
    fills = stamps(data / "account" / "trades.jsonl")
    assert fills
    assert all(in_session(stamp) for stamp in fills)  # none before 09:30 nor after 15:59
    events = list(read_jsonl(data / "team" / "churn" / "events.jsonl"))
    expired = {e["timestamp"] for e in events if e["kind"] == "expired"}
    assert "2026-03-12T20:00:00Z" in expired  # 15:59's signals
    assert "2026-03-12T20:01:00Z" in expired  # 16:00's, after hours
    assert "2026-03-12T08:01:00Z" in expired  # 04:00's, pre-market
    early = [e["message"] for e in events
             if e["kind"] == "expired" and e["timestamp"] == "2026-03-12T08:01:00Z"]  # fmt: skip
    assert early
    assert all("outside the regular session" in m for m in early)


def test_a_misread_input_is_refused_naming_the_flags_and_read_with_them(
    write_registry: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = write_registry(CHURN)
    assert replay(registry, tmp_path / "no", INPUTS / "alpha_vantage") == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("arena: error: ")
    assert "--tz America/New_York --labels end" in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "no").exists()  # refused before anything was written
    flags = ("--tz", "America/New_York", "--labels", "end")
    assert replay(registry, tmp_path / "yes", INPUTS / "alpha_vantage", *flags) == 0
    out = capsys.readouterr().out
    assert "timestamps read as America/New_York time" in out
    assert "newest first" in out
