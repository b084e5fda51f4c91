"""The alpaca-py broker adapter against the emulator over HTTP: nothing sent twice, faults
survived, fills followed to the end."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from app.broker.alpaca import AlpacaBroker, AlpacaLimits
from app.domain.models import Order, OrderStatus, OrderType, Side
from tests.conftest import OPEN, Emu

D = Decimal


def broker(emu: Emu, **limits: object) -> AlpacaBroker:
    settings = {"backoff_seconds": 0.01, "timeout_seconds": 2.0, **limits}
    return AlpacaBroker(emu.trading(), AlpacaLimits(**settings))  # type: ignore[arg-type]


def order(cid: str, side: Side = Side.BUY, qty: int = 10, symbol: str = "AAPL", **extra) -> Order:
    return Order(cid, symbol, side, D(qty), submitted_at=OPEN + timedelta(minutes=1), **extra)


def accepted_ids(emu: Emu) -> list[str]:
    return [o["client_order_id"] for o in emu.state.all_orders()]


def test_an_order_is_followed_to_its_fill_at_the_emulators_price(emu: Emu):
    adapter = broker(emu)
    assert adapter.submit(order("a_1")).status is OrderStatus.NEW
    emu.advance(2)
    [event] = adapter.poll()
    assert event.status is OrderStatus.FILLED
    [emulated] = emu.state.all_fills()
    assert event.fill.quantity == D(10)
    assert event.fill.price == D(str(emulated["price"]))
    assert adapter.positions() == {"AAPL": D(10)}
    assert adapter.poll() == []  # a final order is not reported again


def test_sending_the_same_client_order_id_again_never_creates_a_second_order(emu: Emu):
    adapter = broker(emu)
    first = adapter.submit(order("dup_1"))
    again = broker(emu).submit(order("dup_1"))  # e.g. a restarted host re-sending
    assert first.status is OrderStatus.NEW
    assert again.status is OrderStatus.NEW  # the 422 duplicate means "it exists"
    assert accepted_ids(emu) == ["dup_1"]
    assert emu.state.summary()["duplicates_refused"] == 1


@pytest.mark.parametrize(
    "spec",
    ["timeout:1.0:0.5@submit", "burst429:3", "burst500:2", "burst503:2", "504:1.0@submit"],
)
def test_a_fault_on_submit_ends_in_exactly_one_order(emu: Emu, spec: str):
    emu.faults(spec)
    adapter = broker(emu, timeout_seconds=0.3)
    event = adapter.submit(order("fault_1"))
    emu.faults("")
    assert event.status is OrderStatus.NEW, event
    assert accepted_ids(emu) == ["fault_1"]
    emu.advance(2)
    assert [e.status for e in adapter.poll()] == [OrderStatus.FILLED]


def test_partial_fills_are_reported_piece_by_piece_and_sum_to_the_order(emu: Emu):
    emu.faults("partial:1.0:0.0001")
    adapter = broker(emu)
    adapter.submit(order("part_1", qty=200))
    events = []
    for _ in range(60):
        emu.advance(1)
        events += adapter.poll()
        if events and events[-1].status is OrderStatus.FILLED:
            break
    assert len(events) > 1
    assert {e.status for e in events[:-1]} == {OrderStatus.PARTIALLY_FILLED}
    assert events[-1].status is OrderStatus.FILLED
    assert sum(e.fill.quantity for e in events) == D(200)
    emulated = emu.state.all_fills()
    assert [D(str(f["qty"])) for f in emulated] == [e.fill.quantity for e in events]


def test_refusals_come_back_with_the_brokers_message(emu: Emu):
    adapter = broker(emu)
    adapter.submit(order("buy_1"))
    wash = adapter.submit(order("sell_1", side=Side.SELL, qty=1))
    assert wash.status is OrderStatus.REJECTED
    assert "wash trade" in wash.message
    limit = adapter.submit(order("lim_1", symbol="SPY", order_type=OrderType.LIMIT,
                                 limit_price=D("1")))  # fmt: skip
    assert limit.status is OrderStatus.NEW


def test_an_order_rejected_after_acceptance_is_reported_rejected(emu: Emu):
    emu.faults("reject:1.0")
    adapter = broker(emu)
    assert adapter.submit(order("rej_1")).status is OrderStatus.NEW
    emu.faults("")
    emu.advance(1)
    [event] = adapter.poll()
    assert event.status is OrderStatus.REJECTED


def test_every_request_is_paced_by_one_shared_limit(emu: Emu):
    slept: list[float] = []
    adapter = AlpacaBroker(emu.trading(), AlpacaLimits(requests_per_minute=3),
                           sleep=slept.append)  # fmt: skip
    for n in range(3):
        adapter.submit(order(f"pace_{n}", symbol=("AAPL", "QQQ", "SPY")[n]))
    assert slept == []
    with pytest.raises(RuntimeError):  # the fake sleep never frees the window
        _submit_with_bounded_sleep(adapter, emu)
    assert slept
    assert adapter.requests == 3


def _submit_with_bounded_sleep(adapter: AlpacaBroker, emu: Emu) -> None:
    calls = {"n": 0}
    original = adapter._pacer.sleep

    def bounded(seconds: float) -> None:
        original(seconds)
        calls["n"] += 1
        if calls["n"] > 3:
            raise RuntimeError("still paced")

    adapter._pacer.sleep = bounded
    adapter.submit(order("pace_4", symbol="SPY", side=Side.BUY))


def test_assets_the_broker_will_not_lend_or_split_are_named(emu: Emu):
    not_shortable, not_fractionable = broker(emu).asset_limits(["AAPL", "QQQ", "SPY"])
    assert not_shortable == frozenset({"QQQ"})  # the test emulator's QQQ is not shortable
    assert not_fractionable == frozenset()
