"""The data feed fails under a live run (decision 0028): the engine trading through alpaca-py
against the emulator over HTTP, whose bars endpoint answers 429/5xx for a few requests or
for a window of its clock. Retried failures cost nothing; a minute that cannot be fetched
is missing (an account event, every strategy told), then backfilled in time order."""

from __future__ import annotations

import ast
from datetime import timedelta

from app.broker.alpaca import AlpacaBroker, AlpacaLimits
from app.config.registry import load_registry
from app.ledger.jsonl import read_jsonl
from app.market.alpaca import AlpacaMarketData
from app.runtime.competition import build_competition
from tests.conftest import DAY, OPEN, SYMBOLS, Emu


def test_a_failing_feed_makes_missing_minutes_that_are_backfilled_in_order(
    emu: Emu, write_registry, tmp_path
):
    buy = {"symbol": "AAPL", "action": "buy", "quantity": 3}
    registry = write_registry(
        {
            "probe": ("window_probe.py", "WindowProbe", {}, 100_000),
            "buyer": ("scripted.py", "ScriptedStrategy", {"script": {"4": buy}}, 100_000),
        }
    )
    broker = AlpacaBroker(emu.trading(), AlpacaLimits(backoff_seconds=0.01))
    market = AlpacaMarketData(emu.data(), SYMBOLS, timeout_seconds=1.0, deadline_seconds=1.0)
    data = tmp_path / "data"
    competition = build_competition(load_registry(registry), market, data, broker=broker)
    for m in range(9):
        emu.advance(1)  # the emulator's clock reads 13:31+m: minute 13:30+m has closed
        if m == 1:  # a transient failure: retried within the tick
            emu.faults("burst500:1@data,burst429:1:0.1@data,503:1@data/13:35-13:37")
        competition.engine.tick(OPEN + timedelta(minutes=m))
    assert competition.run([]) == []  # the buy of a missing minute was booked as any other

    events = list(read_jsonl(data / "account" / "events.jsonl"))
    notes = [(e["kind"], e["message"][:20]) for e in events if e["kind"].startswith("minute_")]
    assert notes == [
        ("minute_missing", "2026-03-12T13:34:00Z"),
        ("minute_missing", "2026-03-12T13:35:00Z"),
        ("minute_backfilled", "2026-03-12T13:34:00Z"),
        ("minute_backfilled", "2026-03-12T13:35:00Z"),
    ]
    missing = next(e for e in events if e["kind"] == "minute_missing")
    assert "HTTP 503" in missing["message"]
    assert "attempts in" in missing["message"]
    assert market.failures > 2 + 2  # the transient two, then retries of the window's

    probe = read_jsonl(data / "team" / "probe" / "events.jsonl")
    calls = [ast.literal_eval(e["printed"]) for e in probe if e["kind"] == "output"]
    told = [(c["team"]["bars_missing"], len(c["team"]["missing_minutes"])) for c in calls]
    assert told == [(False, 0)] * 4 + [(True, 1), (True, 2)] + [(False, 0)] * 3
    assert [c["lengths"]["AAPL"] for c in calls] == [1, 2, 3, 4, 4, 4, 7, 8, 9]

    window = competition.engine.history.window(390)["AAPL"]["timestamp"]
    assert [str(t)[11:16] for t in window] == [f"13:{30 + m}" for m in range(9)]
    lake = competition.lake.read(DAY, DAY)
    aapl = lake[lake["symbol"] == "AAPL"]["timestamp"]
    assert [t.strftime("%H:%M") for t in aapl] == [f"13:{30 + m}" for m in range(9)]
    trades = list(read_jsonl(data / "team" / "buyer" / "trades.jsonl"))
    assert [t["quantity"] for t in trades] == ["3"]
