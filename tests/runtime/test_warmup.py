"""Live starts with history: the bars before the host started reach the strategies' window,
and each finished session is fetched again, whole, into the bar lake."""

from __future__ import annotations

from datetime import timedelta

from app.broker.alpaca import AlpacaBroker, AlpacaLimits
from app.config.registry import load_registry
from app.market.alpaca import AlpacaMarketData
from app.runtime.competition import build_competition
from app.runtime.warmup import backfill_session, warm_history
from tests.conftest import DAY, OPEN, SYMBOLS


def competition_on(emu, write_registry, tmp_path):
    registry = write_registry({"alpha": ("scripted.py", "ScriptedStrategy", {}, 100_000)})
    broker = AlpacaBroker(emu.trading(), AlpacaLimits(backoff_seconds=0.01))
    market = AlpacaMarketData(emu.data(), SYMBOLS)
    competition = build_competition(load_registry(registry), market, tmp_path / "data", broker)
    return competition, market


def test_a_late_start_sees_the_session_so_far_in_its_window(emu, write_registry, tmp_path):
    competition, market = competition_on(emu, write_registry, tmp_path)
    emu.advance(30)  # the host starts half an hour into the session
    now = OPEN + timedelta(minutes=30)
    assert warm_history(competition, market.backfill, now) == 30
    window = competition.engine.history.window(390)
    assert len(window["AAPL"]["close"]) == 30
    assert str(window["AAPL"]["timestamp"][-1]).startswith("2026-03-12T13:59")
    assert competition.engine.prices["AAPL"] > 0
    emu.advance(1)  # the first live minute closes and follows on
    competition.engine.tick(now)
    assert len(competition.engine.history.window(390)["AAPL"]["close"]) == 31
    competition.run([])


def test_each_finished_session_is_fetched_whole_into_the_lake(emu, write_registry, tmp_path):
    competition, market = competition_on(emu, write_registry, tmp_path)
    emu.advance(390)  # the whole session has closed; the host saw none of it
    backfill_session(competition.lake, market.backfill, DAY)
    stored = competition.lake.read(DAY, DAY)
    aapl = stored[stored["symbol"] == "AAPL"]
    assert len(aapl) >= 385  # every bar the emulator has for the day (gaps are real)
    competition.run([])
