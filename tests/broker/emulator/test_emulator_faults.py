"""Fault injection: the language, its determinism, and every kind seen from a client."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
from alpaca.trading.requests import MarketOrderRequest

from app.broker.emulator import EmulatorServer, parse_faults
from app.broker.emulator.faults import FaultBurst, FaultInjector, FaultRule
from app.broker.simulator import FillModel, SimulatedBroker
from app.domain.models import Order, Side
from tests.conftest import HEADERS, OPEN, Emu, emulator_state

D = Decimal


def buy(symbol: str, qty: int, cid: str) -> MarketOrderRequest:
    return MarketOrderRequest(
        symbol=symbol,
        qty=qty,
        side=OrderSide.BUY,
        time_in_force=TimeInForce.DAY,
        client_order_id=cid,
    )


def order_body(cid: str, qty: int = 1) -> dict:
    return {
        "symbol": "SPY",
        "qty": qty,
        "side": "buy",
        "type": "market",
        "time_in_force": "day",
        "client_order_id": cid,
    }


def test_the_language_parses_and_refuses_clearly() -> None:
    spec = parse_faults(
        "429:0.1, 500:0.05,slow:0.1:1.5,timeout:0.02,partial:0.3,reject:0.02,"
        "burst429:5,503:0.2@data,seed:7"
    )
    assert spec.seed == 7
    assert spec.bursts == (FaultBurst("429", 5),)
    assert spec.rules[2] == FaultRule("slow", 0.1, 1.5)
    assert spec.rules[-1] == FaultRule("503", 0.2, None, "data")
    assert parse_faults("").rules == ()
    assert parse_faults(None).bursts == ()
    for bad, why in [
        ("418:0.1", "unknown kind"),
        ("429:2", "probability"),
        ("slow:0.1", "argument"),
        ("burst418:3", "burst kind"),
        ("429:0.1@nowhere", "unknown scope"),
        ("reject:0.1@data", "no scope"),
    ]:
        with pytest.raises(ValueError, match=why):
            parse_faults(bad)


def test_decisions_are_seeded_and_repeatable() -> None:
    def run(spec: str) -> list:
        injector = FaultInjector()
        injector.set(spec)
        return [injector.decide("GET", "/v2/account") for _ in range(300)]

    first = run("429:0.1,500:0.1,slow:0.2:0.5,seed:3")
    assert first == run("429:0.1,500:0.1,slow:0.2:0.5,seed:3")
    assert first != run("429:0.1,500:0.1,slow:0.2:0.5,seed:4")
    statuses = [f.status for f in first]
    assert 15 < statuses.count(429) < 50
    assert 10 < statuses.count(500) < 50
    assert 30 < sum(f.delay == 0.5 for f in first) < 100
    orders = FaultInjector()
    orders.set("partial:0.5,reject:0.5")
    assert [orders.for_order(f"o{i}") for i in range(20)] == [
        orders.for_order(f"o{i}") for i in range(20)
    ]


def test_429_has_alpacas_headers_and_body_and_alpaca_py_retries(emu: Emu) -> None:
    emu.faults("burst429:1")
    answer = emu.raw("GET", "/v2/account")
    assert answer.status_code == 429
    assert answer.json() == {"code": 42910000, "message": "rate limit exceeded"}
    for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert name in answer.headers  # case-insensitive, as HTTP headers are
    assert int(answer.headers["X-RateLimit-Reset"]) > time.time()
    emu.faults("burst429:2@submit")
    sent = emu.trading(retry_wait=0).submit_order(buy("SPY", 1, "after-429"))  # retried twice
    assert sent.client_order_id == "after-429"
    assert emu.admin("GET", "state")["orders"] == 1


def test_500_and_gateway_errors(emu: Emu) -> None:
    emu.faults("burst500:1,burst502:1")
    client = emu.trading()
    with pytest.raises(APIError) as caught:
        client.get_account()
    assert (caught.value.status_code, caught.value.code) == (500, 50010000)
    with pytest.raises(APIError) as caught:
        client.get_account()
    assert caught.value.status_code == 502
    with pytest.raises(ValueError, match="Expecting value"):  # HTML: APIError.code fails
        _ = caught.value.code
    assert client.get_account().status.value == "ACTIVE"


def test_504_after_the_fact_makes_alpaca_py_meet_its_own_duplicate(emu: Emu) -> None:
    emu.faults("burst504:1@submit")
    client = emu.trading(retry_wait=0)
    with pytest.raises(APIError) as caught:
        client.submit_order(buy("SPY", 1, "gw-1"))  # 504 (but applied), retried -> 422
    assert (caught.value.status_code, caught.value.code) == (422, 40010001)
    assert client.get_order_by_client_id("gw-1").status is OrderStatus.NEW
    assert emu.admin("GET", "state")["orders"] == 1


def test_slow_answers_wait(emu: Emu) -> None:
    emu.faults("slow:1:0.4@trading")
    began = time.monotonic()
    assert emu.trading().get_clock().is_open
    assert time.monotonic() - began >= 0.4
    assert emu.admin("GET", "state")["faults"]["injected"]["slow"] == 1


def test_timeout_applies_the_order_but_never_answers(emu: Emu) -> None:
    emu.faults("timeout:1:0.2@submit")
    with pytest.raises(requests.ConnectionError):
        emu.trading().submit_order(buy("SPY", 2, "lost-answer"))
    emu.faults("")
    found = emu.trading().get_order_by_client_id("lost-answer")
    assert found.qty == "2"
    assert found.status is OrderStatus.NEW
    emu.faults("timeout:1:1.0@submit")
    with pytest.raises(requests.ReadTimeout):  # a client with a shorter read timeout
        requests.post(
            f"{emu.url}/v2/orders", json=order_body("lost-2"), headers=HEADERS, timeout=0.3
        )
    time.sleep(0.8)
    emu.faults("")
    assert [o["client_order_id"] for o in emu.admin("GET", "orders")] == ["lost-answer", "lost-2"]


def test_partial_fills_follow_the_simulators_participation_cap(emu: Emu) -> None:
    share = "0.00002"
    emu.faults(f"partial:1:{share}")
    client = emu.trading()
    client.submit_order(buy("SPY", 100, "big-1"))
    emu.advance(6)
    order = client.get_order_by_client_id("big-1")
    reference = SimulatedBroker(FillModel(max_participation=D(share)))
    reference.submit(Order("big-1", "SPY", Side.BUY, D(100), submitted_at=OPEN))
    expected = []
    for n in range(6):
        at = OPEN + timedelta(minutes=n)
        reference.on_bars(at, emu.state.market.bars(at))
        expected += [e.fill for e in reference.poll() if e.fill]
    fills = [f for f in emu.admin("GET", "fills") if f["client_order_id"] == "big-1"]
    assert [(D(f["qty"]), D(f["price"])) for f in fills] == [
        (f.quantity, f.price) for f in expected
    ]
    assert len(fills) >= 2
    assert D(order.filled_qty) == sum(f.quantity for f in expected)
    assert order.status is (
        OrderStatus.FILLED if order.filled_qty == "100" else OrderStatus.PARTIALLY_FILLED
    )
    assert client.get_open_position("SPY").qty == order.filled_qty


def test_rejection_comes_after_acceptance(emu: Emu) -> None:
    emu.faults("reject:1")
    client = emu.trading()
    sent = client.submit_order(buy("SPY", 1, "doomed"))
    assert sent.status is OrderStatus.ACCEPTED
    emu.advance(2)
    order = client.get_order_by_client_id("doomed")
    assert order.status is OrderStatus.REJECTED
    assert order.filled_qty == "0"
    assert order.failed_at == OPEN + timedelta(minutes=1)
    assert client.get_all_positions() == []


def test_rate_limit_is_a_token_bucket_per_key(real_bars: Path) -> None:
    with EmulatorServer(emulator_state(real_bars, rate_limit=5)) as server:
        answers = [
            requests.get(f"{server.url}/v2/clock", headers=HEADERS, timeout=5) for _ in range(6)
        ]
        assert [a.status_code for a in answers] == [200] * 5 + [429]
        assert answers[0].headers["X-RateLimit-Limit"] == "5"
        assert answers[0].headers["X-RateLimit-Remaining"] == "4"
        assert answers[5].json()["code"] == 42910000
        other = {**HEADERS, "APCA-API-KEY-ID": "someone-else"}
        assert requests.get(f"{server.url}/v2/clock", headers=other, timeout=5).status_code == 401
