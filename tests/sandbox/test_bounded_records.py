"""Teams that flood their ledgers with legal output, through the real engine and sandbox.

Each hostile fixture returns what the wire lets through (strings of 1,000 characters, a
900 KB dict, 4,000 printed characters, a 5 MB exception message cut to 16,000) every
minute. Their ledgers keep every line within the stated caps and grow at most 64 KiB a
minute; the benign team beside them trades exactly as it does alone.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from app.config.registry import load_registry
from app.domain.bounds import (
    MAX_ERROR_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_PRINTED_CHARS,
    MAX_SIGNAL_CHARS,
)
from app.ledger.writer import MAX_TEAM_LINE_BYTES, TEAM_BYTES_PER_MINUTE
from app.market.replay import ReplayMarket
from app.runtime.competition import build_competition
from tests.conftest import FIXTURE_STRATEGIES, REPO, error_lines

HOSTILE = REPO / "tests" / "fixtures" / "hostile"
ATTACKERS = {
    "wide-dict": "ledger_wide_dict",
    "long-action": "ledger_long_action",
    "long-symbol": "ledger_long_symbol",
    "print-flood": "ledger_print_flood",
    "huge-exception": "ledger_huge_exception",
}
MINUTES = 16
BENIGN = (
    "scripted.py",
    "ScriptedStrategy",
    {
        "script": {
            "1": {"symbol": "AAPL", "action": "buy", "quantity": 3, "reason": "r" * 1000},
            "9": [{"symbol": "SPY", "action": "buy", "quantity": 2}],
            "12": {"symbol": "AAPL", "action": "sell", "quantity": 1},
        }
    },
    100_000,
)


def team_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*.jsonl"))


def run(registry: Path, market: ReplayMarket, data_dir: Path) -> dict[str, list[int]]:
    """Every team's ledger bytes after each minute (and after the close)."""
    competition = build_competition(load_registry(registry), market, data_dir)
    teams = list(competition.engine.books)
    sizes: dict[str, list[int]] = {team: [] for team in teams}

    def measure(_report: object = None) -> None:
        for team in teams:
            sizes[team].append(team_bytes(data_dir / "team" / team))

    assert competition.run(market.minutes()[:MINUTES], on_tick=measure) == []
    measure()
    return sizes


def lines(data_dir: Path, team: str, name: str) -> list[bytes]:
    path = data_dir / "team" / team / name
    return path.read_bytes().splitlines(keepends=True) if path.exists() else []


def records(data_dir: Path, team: str) -> list[dict]:
    return error_lines(data_dir / "team" / team)


@pytest.fixture(scope="module")
def market(real_bars: Path) -> ReplayMarket:
    return ReplayMarket.load(real_bars, ["AAPL", "SPY"], date(2026, 3, 12), date(2026, 3, 12))


@pytest.fixture(scope="module")
def flooded(
    market: ReplayMarket, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, list[int]]]:
    folder = tmp_path_factory.mktemp("flooded")
    registry = write(folder, {"benign": BENIGN} | {
        team: (str(HOSTILE / f"{name}.py"), "Attack", {}, 100_000)
        for team, name in ATTACKERS.items()
    })  # fmt: skip
    return folder / "data", run(registry, market, folder / "data")


def write(folder: Path, teams: dict[str, tuple]) -> Path:
    """A registry of {team: (strategy file, class, params, cash)}; absolute paths stay."""
    entries = [
        {"team_id": team, "name": team.title(), "strategy": str(FIXTURE_STRATEGIES / file),
         "entry_point": entry, "initial_cash": cash, "params": params}
        for team, (file, entry, params, cash) in teams.items()
    ]  # fmt: skip
    path = folder / "registry.yaml"
    path.write_text(yaml.safe_dump({"competition": {}, "teams": entries}, sort_keys=False))
    return path


def test_no_team_line_is_over_the_cap(flooded: tuple[Path, dict[str, list[int]]]) -> None:
    data_dir, _ = flooded
    for path in (data_dir / "team").rglob("*.jsonl"):
        longest = max(len(line) for line in path.read_bytes().splitlines(keepends=True))
        assert longest <= MAX_TEAM_LINE_BYTES, path


def test_each_hostile_team_grows_at_most_64_kib_a_minute(
    flooded: tuple[Path, dict[str, list[int]]],
) -> None:
    _, sizes = flooded
    for team in ATTACKERS:
        growth = [b - a for a, b in zip([0, *sizes[team]], sizes[team], strict=False)]
        assert len(growth) == MINUTES + 1
        assert max(growth) <= TEAM_BYTES_PER_MINUTE, (team, growth)
        assert sizes[team][-1] > 0


def test_the_text_kept_is_within_its_caps_and_still_says_what_was_wrong(
    flooded: tuple[Path, dict[str, list[int]]],
) -> None:
    data_dir, _ = flooded
    for team in ATTACKERS:
        for record in records(data_dir, team):
            limit = MAX_MESSAGE_CHARS if record["kind"] == "rejected_signal" else MAX_ERROR_CHARS
            assert len(record["message"]) <= limit
            assert len(record.get("printed") or "") <= MAX_PRINTED_CHARS
            assert len(record.get("signal") or "") <= MAX_SIGNAL_CHARS

    def messages(team: str, kind: str = "rejected_signal") -> list[str]:
        return [r["message"] for r in records(data_dir, team) if r["kind"] == kind]

    assert all(m.startswith("unknown field(s) '000kkk") for m in messages("wide-dict"))
    assert all(" and 897 more; allowed: " in m for m in messages("wide-dict"))
    assert len(messages("wide-dict")) == MINUTES
    assert all(m.startswith("'action' must be 'buy' or 'sell', got ['aaa") for m in messages(
        "long-action"))  # fmt: skip
    symbols = messages("long-symbol")
    assert symbols[0].startswith("unknown symbol 'SSS")
    assert symbols[1] == "unknown symbol 'NOPE': not in this competition's universe"
    faults = messages("huge-exception", "exception")
    assert len(faults) == MINUTES // 2
    assert all(m.startswith("ValueError: zzz") for m in faults)
    printed = [r["printed"] for r in records(data_dir, "huge-exception") if r["kind"] == "output"]
    assert printed[0].startswith("€€€")


def test_a_flood_past_the_quota_is_cut_and_noted_every_minute(
    flooded: tuple[Path, dict[str, list[int]]],
) -> None:
    data_dir, _ = flooded
    notes = [r for r in records(data_dir, "print-flood") if r["kind"] == "ledger_limit"]
    assert len(notes) == MINUTES
    assert all(note["dropped_lines"] > 0 for note in notes)


def test_the_benign_team_trades_as_it_does_alone(
    flooded: tuple[Path, dict[str, list[int]]],
    market: ReplayMarket,
    tmp_path: Path,
) -> None:
    data_dir, _ = flooded
    assert error_lines(data_dir / "team" / "benign") == []
    alone = tmp_path / "data"
    run(write(tmp_path, {"benign": BENIGN}), market, alone)
    for name in ("trades.jsonl", "portfolio/2026-03-12.jsonl"):
        assert lines(data_dir, "benign", name) == lines(alone, "benign", name), name
    assert len(lines(alone, "benign", "trades.jsonl")) == 3
