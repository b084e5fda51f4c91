"""A new version replaces the running one at a tick boundary, only if it passes its smoke call."""

from __future__ import annotations

from app.config.registry import load_registry
from app.engine.ports import TeamCode
from app.runtime.competition import build_competition
from app.strategies.sources import read_strategy_files
from tests.conftest import FIXTURE_STRATEGIES, ScriptedMarket, bar, minute
from tests.engine.test_engine import lines

BUY_2 = {"symbol": "AAA", "action": "buy", "quantity": 2}


def scripted(script: dict, version: str) -> TeamCode:
    files = read_strategy_files(FIXTURE_STRATEGIES / "scripted.py")
    return TeamCode(files, "ScriptedStrategy", {"script": script}, version)


def test_a_version_goes_live_at_the_next_tick_and_a_failing_one_never_does(
    write_registry, tmp_path
):
    registry = write_registry(
        {"alpha": ("scripted.py", "ScriptedStrategy",
                   {"script": {"0": {"symbol": "AAA", "action": "buy", "quantity": 1}}}, 1000)}
    )  # fmt: skip
    minutes = [minute(14, m) for m in range(8)]
    market = ScriptedMarket({m: {"AAA": bar("AAA", m, 10.0)} for m in minutes})
    competition = build_competition(load_registry(registry), market, tmp_path / "data")
    engine = competition.engine
    for m in minutes[:3]:
        engine.tick(m)
    # v2: its smoke call is its first minute (call 0), which buys 2 (decision 0031).
    engine.stage_version("alpha", scripted({"0": BUY_2}, "v2"))
    engine.tick(minutes[3])
    engine.stage_version("alpha", TeamCode(
        read_strategy_files(FIXTURE_STRATEGIES / "raising.py"), "RaisingStrategy", {}, "v3"
    ))  # fmt: skip
    for m in minutes[4:]:
        engine.tick(m)
    assert competition.run([]) == []

    trades = lines(tmp_path / "data", "alpha", "trades")
    assert [(t["tick"], t["quantity"], t["strategy_version"]) for t in trades] == [
        ("2026-03-12T14:00:00Z", "1", trades[0]["strategy_version"]),
        ("2026-03-12T14:03:00Z", "2", "v2"),
    ]
    assert trades[0]["strategy_version"] not in ("v2", "v3")  # the registry's content hash
    notes = [(e["kind"], e["message"]) for e in lines(tmp_path / "data", "alpha", "errors")]
    assert notes[0] == ("version", "version v2 is live from this minute")
    assert notes[1][0] == "version_rejected"
    assert "KeyError: 'NOPE'" in notes[1][1]  # v3 failed its smoke call; v2 kept running
    assert engine.books["alpha"].version == "v2"
    assert engine.books["alpha"].enabled


def test_the_smoke_call_is_the_new_versions_first_minute(write_registry, tmp_path):
    """Issue 15 item 1: the call that tested a version on the instance the engine keeps is
    that version's first minute: its signals trade and its printed output is kept, so a
    stateful strategy's calls and the host's books agree (decision 0031)."""
    registry = write_registry({"alpha": ("scripted.py", "ScriptedStrategy", {}, 1000)})
    minutes = [minute(14, m) for m in range(6)]
    market = ScriptedMarket({m: {"AAA": bar("AAA", m, 10.0)} for m in minutes})
    competition = build_competition(load_registry(registry), market, tmp_path / "data")
    engine = competition.engine
    engine.tick(minutes[0])
    files = read_strategy_files(FIXTURE_STRATEGIES / "counting.py")
    engine.stage_version("alpha", TeamCode(files, "CountingStrategy", {"buy_on": [1, 2]}, "v2"))
    for m in minutes[1:]:
        engine.tick(m)
    assert competition.run([]) == []

    events = lines(tmp_path / "data", "alpha", "events")
    printed = [(e["timestamp"], e["printed"]) for e in events if e["kind"] == "output"]
    assert printed[:2] == [
        ("2026-03-12T14:02:00Z", "call 1\n"),
        ("2026-03-12T14:03:00Z", "call 2\n"),
    ]
    accepted = [e["timestamp"] for e in events if e["kind"] == "signal_accepted"]
    assert accepted == ["2026-03-12T14:02:00Z", "2026-03-12T14:03:00Z"]
    trades = lines(tmp_path / "data", "alpha", "trades")
    assert [(t["quantity"], t["strategy_version"]) for t in trades] == [("1", "v2"), ("1", "v2")]
