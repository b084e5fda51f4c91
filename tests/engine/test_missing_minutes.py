"""A minute whose bars could not be fetched is missing, not a gap (decision 0028): noted in
the account's events, told to every strategy, and backfilled in time order at the next
minute that can be fetched; the engine never stops for it."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import app.engine.feed
from app.config.registry import load_registry
from app.domain.models import Bar
from app.engine.ports import BarsUnavailableError, TeamCode
from app.ledger.jsonl import read_jsonl
from app.runtime.competition import Competition, build_competition
from app.strategies.sources import read_strategy_files
from tests.conftest import FIXTURE_STRATEGIES, ScriptedMarket, bar, minute


class FlakyMarket(ScriptedMarket):
    """Scripted bars whose source fails at chosen minutes (and can be asked again later)."""

    def __init__(
        self,
        bars: Mapping[datetime, Mapping[str, Bar]],
        failing: set[datetime],
        error: Exception | None = None,
    ) -> None:
        super().__init__(bars)
        self.failing = failing
        self.error = error or BarsUnavailableError("HTTP 503 (3 attempts in 15.0 s)")
        self.asked: list[tuple[datetime, datetime]] = []

    def bars(self, at: datetime) -> dict[str, Bar]:
        if at in self.failing:
            raise self.error
        return super().bars(at)

    def bars_since(self, first: datetime, at: datetime) -> dict[datetime, dict[str, Bar]]:
        self.asked.append((first, at))
        if at in self.failing:
            raise self.error
        return {m: super(FlakyMarket, self).bars(m) for m in self.minutes() if first <= m <= at}


class UnbackfillableMarket(FlakyMarket):
    bars_since = None  # type: ignore[assignment]  # a source that cannot ask for the past


def market_of(minutes: int, failing: set[int], cls: type = FlakyMarket, **kw) -> FlakyMarket:
    bars = {
        minute(14, i): {
            "AAA": bar("AAA", minute(14, i), 10 + i),
            "BBB": bar("BBB", minute(14, i), 20 + i),
        }
        for i in range(minutes)
    }
    return cls(bars, {minute(14, i) for i in failing}, **kw)


def run(write_registry, tmp_path: Path, market: FlakyMarket, script: dict | None = None):
    registry = write_registry(
        {
            "probe": ("window_probe.py", "WindowProbe", {}, 5000),
            "buyer": ("scripted.py", "ScriptedStrategy", {"script": script or {}}, 5000),
        }
    )
    competition = build_competition(load_registry(registry), market, tmp_path / "data")
    assert competition.run(market.minutes()) == []
    return competition


def account_notes(data_dir: Path, *kinds: str) -> list[dict]:
    events = read_jsonl(data_dir / "account" / "events.jsonl")
    return [e for e in events if e["kind"] in kinds]


def seen(data_dir: Path) -> list[dict]:
    events = read_jsonl(data_dir / "team" / "probe" / "events.jsonl")
    return [ast.literal_eval(e["printed"]) for e in events if e["kind"] == "output"]


def stamps(competition: Competition, symbol: str) -> list[str]:
    window = competition.engine.history.window(390)[symbol]["timestamp"]
    return [str(t) for t in window]


def test_a_missing_minute_is_noted_told_and_backfilled_in_order(write_registry, tmp_path):
    market = market_of(5, failing={1, 2})
    competition = run(write_registry, tmp_path, market)
    data = tmp_path / "data"
    notes = account_notes(data, "minute_missing", "minute_backfilled")
    assert [(n["kind"], n["message"][:20]) for n in notes] == [
        ("minute_missing", "2026-03-12T14:01:00Z"),
        ("minute_missing", "2026-03-12T14:02:00Z"),
        ("minute_backfilled", "2026-03-12T14:01:00Z"),
        ("minute_backfilled", "2026-03-12T14:02:00Z"),
    ]
    assert "HTTP 503" in notes[0]["message"]
    assert notes[2]["timestamp"] == "2026-03-12T14:04:00Z"  # noted at 14:03's tick
    assert "2 bars" in notes[2]["message"]
    # The one request that worked asked from the earliest missing minute.
    assert market.asked == [(minute(14, 1), minute(14, 2)), (minute(14, 1), minute(14, 3))]

    calls = seen(data)
    assert len(calls) == 5  # strategies are called in a missing minute too
    told = [(c["team"]["bars_missing"], c["team"]["missing_minutes"]) for c in calls]
    assert told == [
        (False, []),
        (True, ["2026-03-12T14:01:00Z"]),
        (True, ["2026-03-12T14:01:00Z", "2026-03-12T14:02:00Z"]),
        (False, []),
        (False, []),
    ]
    assert [c["lengths"]["AAA"] for c in calls] == [1, 1, 1, 4, 5]
    assert calls[2]["prices"] == {"AAA": 10.0, "BBB": 20.0}  # carried forward
    assert calls[3]["prices"] == {"AAA": 13.0, "BBB": 23.0}
    expected = [f"2026-03-12T14:0{i}:00" for i in range(5)]
    assert stamps(competition, "AAA") == stamps(competition, "BBB") == expected
    lake = competition.lake.read()
    assert len(lake) == 10  # the late bars reached the lake too


def test_signals_of_a_missing_minute_are_checked_at_the_carried_forward_price(
    write_registry, tmp_path
):
    market = market_of(4, failing={1})
    script = {"1": {"symbol": "AAA", "action": "buy", "quantity": 2}}
    run(write_registry, tmp_path, market, script)
    events = read_jsonl(tmp_path / "data" / "team" / "buyer" / "events.jsonl")
    accepted = [e for e in events if e["kind"] == "signal_accepted"]
    assert [e["timestamp"] for e in accepted] == ["2026-03-12T14:02:00Z"]
    trades = list(read_jsonl(tmp_path / "data" / "team" / "buyer" / "trades.jsonl"))
    assert [(t["quantity"], t["price"]) for t in trades] == [("2", "12")]  # 14:02's open


def test_a_minute_missing_beyond_the_bound_is_lost_and_still_told(
    write_registry, tmp_path, monkeypatch
):
    monkeypatch.setattr(app.engine.feed, "MAX_BACKFILL", timedelta(minutes=2))
    market = market_of(6, failing={1, 2, 3})
    competition = run(write_registry, tmp_path, market)
    notes = account_notes(tmp_path / "data", "minute_lost", "minute_backfilled")
    assert [(n["kind"], n["message"][:20]) for n in notes] == [
        ("minute_lost", "2026-03-12T14:01:00Z"),
        ("minute_backfilled", "2026-03-12T14:02:00Z"),
        ("minute_backfilled", "2026-03-12T14:03:00Z"),
    ]
    assert market.asked[-1] == (minute(14, 2), minute(14, 4))  # never further back
    calls = seen(tmp_path / "data")
    team = calls[4]["team"]
    assert (team["bars_missing"], team["missing_minutes"]) == (False, ["2026-03-12T14:01:00Z"])
    assert "2026-03-12T14:01:00" not in stamps(competition, "AAA")


@pytest.mark.parametrize(
    ("error", "cls"),
    [
        (RuntimeError("the adapter broke"), FlakyMarket),
        (BarsUnavailableError("HTTP 401 unauthorized (1 attempt in 0.0 s)"), UnbackfillableMarket),
    ],
)
def test_the_engine_never_stops_for_a_data_failure(write_registry, tmp_path, error, cls):
    market = market_of(4, failing={1}, cls=cls, error=error)
    competition = run(write_registry, tmp_path, market)
    notes = account_notes(tmp_path / "data", "minute_missing", "minute_lost", "minute_backfilled")
    assert notes[0]["kind"] == "minute_missing"
    assert str(error).split(" (")[0] in notes[0]["message"]
    if cls is UnbackfillableMarket:  # its next good minute cannot bring 14:01 back
        assert [n["kind"] for n in notes[1:]] == ["minute_lost"]
        assert "2026-03-12T14:01:00" not in stamps(competition, "AAA")
    else:
        assert [n["kind"] for n in notes[1:]] == ["minute_backfilled"]
        assert len(stamps(competition, "AAA")) == 4


def test_a_version_swapped_in_during_a_missing_minute_is_told_too(write_registry, tmp_path):
    registry = write_registry({"alpha": ("scripted.py", "ScriptedStrategy", {}, 5000)})
    market = market_of(5, failing={1, 2})
    competition = build_competition(load_registry(registry), market, tmp_path / "data")
    engine = competition.engine
    engine.tick(minute(14, 0))
    files = read_strategy_files(FIXTURE_STRATEGIES / "cautious.py")
    engine.stage_version("alpha", TeamCode(files, "CautiousStrategy", {}, "v2"))
    for m in range(1, 5):  # its smoke call comes in 14:01, a missing minute
        engine.tick(minute(14, m))
    assert competition.run([]) == []
    events = list(read_jsonl(tmp_path / "data" / "team" / "alpha" / "events.jsonl"))
    assert events[0]["kind"] == "version"
    printed = [e["printed"] for e in events if e["kind"] == "output"]
    assert printed[-1] == "sitting out; missing: ['2026-03-12T14:01:00Z', '2026-03-12T14:02:00Z']\n"
    trades = list(read_jsonl(tmp_path / "data" / "team" / "alpha" / "trades.jsonl"))
    assert [t["tick"] for t in trades] == ["2026-03-12T14:03:00Z"]


def test_a_minute_missing_at_the_close_is_not_fetched_across_the_night(write_registry, tmp_path):
    minutes = [minute(19, 58), minute(19, 59), minute(13, 30, day=13), minute(13, 31, day=13)]
    bars = {m: {"AAA": bar("AAA", m, 10.0), "BBB": bar("BBB", m, 20.0)} for m in minutes}
    market = FlakyMarket(bars, {minute(19, 59)})
    run(write_registry, tmp_path, market)
    notes = account_notes(tmp_path / "data", "minute_missing", "minute_lost", "minute_backfilled")
    assert [(n["kind"], n["message"][:20]) for n in notes] == [
        ("minute_missing", "2026-03-12T19:59:00Z"),
        ("minute_lost", "2026-03-12T19:59:00Z"),  # at the next morning's first tick
    ]
    assert market.asked == []  # the night was never asked for
    told = [c["team"]["missing_minutes"] for c in seen(tmp_path / "data")]
    assert told == [[], ["2026-03-12T19:59:00Z"], [], []]  # yesterday's is not today's
