"""Live starts with history: the bars before the host started reach the strategies' window
(retried when the data feed fails, and said plainly when it cannot be fetched), and each
finished session is fetched again, whole, into the bar lake."""

from __future__ import annotations

import itertools
import time
from datetime import timedelta

import numpy as np

from app.broker.alpaca import AlpacaBroker, AlpacaLimits
from app.config.registry import load_registry
from app.market.alpaca import AlpacaMarketData
from app.runtime.competition import build_competition
from app.runtime.live import alpaca_clock
from app.runtime.warmup import backfill_session, warm_history
from tests.conftest import DAY, OPEN, SYMBOLS


def competition_on(emu, write_registry, tmp_path, deadline: float = 60.0):
    registry = write_registry({"alpha": ("scripted.py", "ScriptedStrategy", {}, 100_000)})
    broker = AlpacaBroker(emu.trading(), AlpacaLimits(backoff_seconds=0.01))
    market = AlpacaMarketData(emu.data(), SYMBOLS, backfill_deadline_seconds=deadline)
    competition = build_competition(load_registry(registry), market, tmp_path / "data", broker)
    return competition, market


def test_a_late_start_sees_the_session_so_far_in_its_window(emu, write_registry, tmp_path):
    competition, market = competition_on(emu, write_registry, tmp_path)
    emu.advance(30)  # the host starts half an hour into the session
    now = OPEN + timedelta(minutes=30)
    warmup = warm_history(competition, market.backfill, now)
    assert warmup.minutes == 30
    assert warmup.describe() == "30 minutes of the previous and current session"
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


def test_a_restart_after_a_429_retries_and_warms_the_whole_history(emu, write_registry, tmp_path):
    competition, market = competition_on(emu, write_registry, tmp_path)
    emu.advance(30)
    emu.faults("burst429:2:0.2@data,burst503:1@data")
    warmup = warm_history(competition, market.backfill, OPEN + timedelta(minutes=30))
    assert warmup.minutes == 30  # not "0 minutes"
    assert len(competition.engine.history.window(390)["AAPL"]["close"]) == 30
    assert market.failures == 3
    competition.run([])


def test_a_history_that_cannot_be_fetched_is_said_so_not_zero_minutes(
    emu, write_registry, tmp_path
):
    competition, market = competition_on(emu, write_registry, tmp_path, deadline=0.6)
    emu.advance(30)
    emu.faults("429:1:0.1@data")
    warmup = warm_history(competition, market.backfill, OPEN + timedelta(minutes=30))
    assert (warmup.minutes, warmup.start) == (0, OPEN - timedelta(days=1))  # the session before
    assert warmup.describe().startswith("could not be fetched (HTTP 429 rate limit exceeded")
    assert "attempts in" in warmup.describe()
    assert "empty window" in warmup.describe()
    emu.faults("")
    emu.advance(1)  # the feed is back: the first live minute starts the window
    competition.engine.tick(OPEN + timedelta(minutes=30))
    assert len(competition.engine.history.window(390)["AAPL"]["close"]) == 1
    competition.run([])


def test_a_day_end_backfill_that_fails_keeps_what_the_lake_has(emu, write_registry, tmp_path):
    competition, market = competition_on(emu, write_registry, tmp_path)
    emu.advance(390)
    emu.faults("500:1@data")
    started = time.monotonic()
    backfill_session(competition.lake, market.backfill, DAY, deadline_seconds=0.5)  # logged
    assert time.monotonic() - started < 1.0  # its own deadline, not the warm-up's 60 s
    assert competition.lake.read(DAY, DAY).empty
    competition.run([])


def never_wait(seconds: float) -> None:
    raise AssertionError(f"the clock waited {seconds} s: it started at a minute not yet due")


def test_minutes_that_pass_during_the_warm_up_are_ticked_not_lost(emu, write_registry, tmp_path):
    """The clock starts at the first minute the warm-up did not cover: a start that takes
    three minutes (a slow warm-up, a recovery) ticks them late, and the window has no hole;
    a minute whose bars closed less than the clock's delay ago is left to the clock."""
    competition, market = competition_on(emu, write_registry, tmp_path)
    emu.advance(30)  # 14:00:00 on the broker's clock
    clock = alpaca_clock(emu.trading().get_clock, sleep=never_wait)
    warmup = warm_history(competition, market.backfill, clock.now() - clock.delay)
    assert warmup.minutes == 29  # 13:59 closed 0 s ago: not yet published
    assert warmup.until == OPEN + timedelta(minutes=29)
    emu.advance(3)  # the start took three minutes more
    ticks = clock.ticks(start=warmup.until)
    for minute in itertools.islice(ticks, 3):  # due already: no waiting
        competition.engine.tick(minute)
    stamps = competition.engine.history.window(390)["AAPL"]["timestamp"]
    gaps = {int(step) for step in np.diff(stamps.astype("datetime64[s]").astype(np.int64))}
    assert gaps == {60}  # every minute from 13:30 to 14:01, once
    assert str(stamps[-1]).startswith("2026-03-12T14:01")
    competition.run([])
