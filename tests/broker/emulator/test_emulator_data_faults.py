"""Faults of the market-data feed: a 429 with Retry-After, a burst of slow answers or of
dropped connections, and faults bound to a window of the emulator's clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from app.broker.emulator import parse_faults
from app.broker.emulator.faults import FaultBurst, FaultInjector, FaultWindow
from tests.conftest import Emu

BARS = "/v2/stocks/bars"
QUERY = {"symbols": "AAPL", "timeframe": "1Min", "start": "2026-03-12T13:30:00Z"}


def test_the_language_takes_retry_after_bursts_of_any_kind_and_windows() -> None:
    spec = parse_faults("429:0.5:2@data, burst429:3:1.5@data, burstslow:2:3, bursttimeout:1")
    assert spec.rules[0].argument == 2.0
    assert spec.bursts == (
        FaultBurst("429", 3, 1.5, "data"),
        FaultBurst("slow", 2, 3.0),
        FaultBurst("timeout", 1),
    )
    windowed = parse_faults("500:1@data/13:33-13:35,burst503:2/14:00-14:01")
    window = FaultWindow(datetime(2026, 1, 1, 13, 33).time(), datetime(2026, 1, 1, 13, 35).time())
    assert windowed.rules[0].window == window
    assert windowed.bursts[0].window is not None
    for bad, why in [
        ("burstslow:2", "argument"),
        ("500:1:3", "argument"),
        ("500:1/13:35-13:33", "window"),
        ("500:1/1335", "window"),
        ("burstfoo:1", "burst kind"),
    ]:
        with pytest.raises(ValueError, match=why):
            parse_faults(bad)


def test_a_window_follows_the_clock_it_is_given() -> None:
    now = [datetime(2026, 3, 12, 13, 32, tzinfo=UTC)]
    injector = FaultInjector(clock=lambda: now[0])
    injector.set("500:1@data/13:33-13:35,burst503:1/13:34-13:36")
    assert injector.decide("GET", BARS).status is None
    now[0] = now[0].replace(minute=33)
    assert injector.decide("GET", BARS).status == 500
    assert injector.decide("GET", "/v2/account").status is None  # not in the data scope
    now[0] = now[0].replace(minute=34)
    assert injector.decide("GET", "/v2/account").status == 503  # the burst, in its window
    assert injector.decide("GET", BARS).status == 500
    now[0] = now[0].replace(minute=35)
    assert injector.decide("GET", BARS).status is None


def test_a_429_can_say_when_to_come_back(emu: Emu) -> None:
    emu.advance(2)
    emu.faults("burst429:1:2@data")
    answer = emu.raw("GET", BARS, params=QUERY)
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "2"
    assert emu.raw("GET", "/v2/clock").status_code == 200  # trading is not in scope
    assert emu.raw("GET", BARS, params=QUERY).json()["bars"]["AAPL"]  # the burst is over


def test_a_burst_of_slow_answers_then_of_dropped_connections(emu: Emu) -> None:
    emu.advance(2)
    emu.faults("burstslow:1:0.5@data,bursttimeout:1:0.1@data")
    began = time.monotonic()
    assert emu.raw("GET", BARS, params=QUERY).status_code == 200
    assert time.monotonic() - began >= 0.5
    with pytest.raises(Exception, match=r"Connection|closed|aborted"):
        emu.raw("GET", BARS, params=QUERY)
    assert emu.raw("GET", BARS, params=QUERY).status_code == 200
    injected = emu.admin("GET", "state")["faults"]["injected"]
    assert (injected["slow"], injected["timeout"]) == (1, 1)


def test_the_emulators_clock_opens_and_closes_a_window(emu: Emu) -> None:
    emu.faults("503:1@data/13:32-13:34")
    emu.advance(1)  # now 13:31
    assert emu.raw("GET", BARS, params=QUERY).status_code == 200
    emu.advance(1)  # 13:32
    assert emu.raw("GET", BARS, params=QUERY).status_code == 503
    emu.advance(2)  # 13:34
    assert emu.raw("GET", BARS, params=QUERY).status_code == 200
