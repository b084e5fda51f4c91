"""The emulator's replay clock: steps over sessions, closes, gaps, and the speed mode."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import requests
from alpaca.trading.models import Clock, Order, Position, TradeAccount

from app.broker.emulator import EmulatorServer, load_state
from app.broker.emulator.clock import EmulatorClock, build_steps
from app.market.calendar import SessionCalendar
from tests.conftest import HEADERS, KEY, SECRET

MINUTE = timedelta(minutes=1)
THURSDAY = datetime(2026, 3, 12, 13, 30, tzinfo=UTC)
FRIDAY = datetime(2026, 3, 13, 13, 30, tzinfo=UTC)


def order_body(cid: str, **fields: object) -> dict:
    body = {"symbol": "SPY", "qty": 2, "side": "buy", "type": "market", "time_in_force": "day"}
    return {**body, "client_order_id": cid, **fields}


def test_steps_cover_every_session_minute_and_the_overnight_jump() -> None:
    calendar = SessionCalendar()
    minutes = calendar.session_minutes(date(2026, 3, 12)) + calendar.session_minutes(
        date(2026, 3, 13)
    )
    gapped = [m for m in minutes if m != THURSDAY + 100 * MINUTE]  # a minute without bars
    steps = build_steps(gapped, calendar)
    assert len(steps) == 1 + 390 + 1 + 390
    assert steps[0].now == THURSDAY
    assert steps[0].closes is None
    assert steps[101].closes == THURSDAY + 100 * MINUTE  # the gap is still a step
    close = steps[390]
    assert close.now == datetime(2026, 3, 12, 20, 0, tzinfo=UTC)
    assert close.session_end == date(2026, 3, 12)
    assert (steps[391].now, steps[391].closes, steps[391].session_end) == (FRIDAY, None, None)
    assert steps[392].closes == FRIDAY
    assert steps[-1].session_end == date(2026, 3, 13)


def test_minutes_outside_sessions_are_plain_steps() -> None:
    saturday = datetime(2026, 3, 14, 15, 0, tzinfo=UTC)
    clock = EmulatorClock([saturday, saturday + MINUTE, saturday + 2 * MINUTE])
    assert [s.closes for s in clock.steps[1:]] == [saturday + n * MINUTE for n in range(3)]
    assert not clock.is_open()
    assert all(s.session_end is None for s in clock.steps)
    assert clock.next_open_close() == (
        datetime(2026, 3, 16, 13, 30, tzinfo=UTC),
        datetime(2026, 3, 16, 20, 0, tzinfo=UTC),
    )


def test_two_sessions_expire_day_orders_and_roll_over(real_bars: Path) -> None:
    state = load_state(real_bars, start=date(2026, 3, 12), end=date(2026, 3, 13), symbols=["SPY"])
    state.submit(order_body("day-limit", type="limit", limit_price="1"))
    state.submit(order_body("long-2"))
    assert state.advance(until=datetime(2026, 3, 12, 20, 0, tzinfo=UTC)) == 390
    assert state.order_by_client_id("day-limit")["status"] == "expired"
    assert not state.clock.is_open()
    thursday_close = state.market.bars(THURSDAY + 389 * MINUTE)["SPY"].close
    state.submit(order_body("overnight", qty=1))  # sent after the close
    state.advance(1)
    assert state.now == FRIDAY
    assert state.clock.is_open()
    assert state.order_by_client_id("overnight")["status"] == "new"
    state.advance(1)
    overnight = state.order_by_client_id("overnight")
    friday_open = state.market.bars(FRIDAY)["SPY"].open
    assert Decimal(overnight["filled_avg_price"]) == Decimal(repr(friday_open))
    position = Position(**state.position("SPY"))
    assert position.qty == "3"
    assert Decimal(position.lastday_price) == Decimal(repr(thursday_close))
    account = TradeAccount(**state.account())
    assert account.last_equity != "100000"  # marked at Thursday's close


def test_speed_mode_moves_the_clock_by_itself(real_bars: Path) -> None:
    state = load_state(
        real_bars,
        start=date(2026, 3, 12),
        end=date(2026, 3, 12),
        symbols=["SPY"],
        speed=600,
        api_key=KEY,
        secret_key=SECRET,
    )
    with EmulatorServer(state) as server:
        time.sleep(0.3)
        clock = Clock(**requests.get(f"{server.url}/v2/clock", headers=HEADERS, timeout=5).json())
        assert clock.timestamp > THURSDAY
        assert state.clock.cursor > 10


def test_every_order_status_parses_in_alpaca_py(real_bars: Path) -> None:
    state = load_state(real_bars, start=date(2026, 3, 12), end=date(2026, 3, 12), symbols=["SPY"])
    accepted = Order(**state.submit(order_body("a")))
    state.submit(order_body("b", type="limit", limit_price="600.5"))
    state.submit(order_body("c", type="limit", limit_price="601"))
    state.cancel(state.order_by_client_id("c")["id"])
    state.advance(1)
    state.advance(until=datetime(2026, 3, 12, 20, 0, tzinfo=UTC))
    parsed = [Order(**o) for o in state.all_orders()]
    assert accepted.status.value == "accepted"
    assert [o.status.value for o in parsed] == ["filled", "expired", "canceled"]
    assert parsed[1].limit_price == "600.5"
    assert parsed[0].filled_avg_price is not None
