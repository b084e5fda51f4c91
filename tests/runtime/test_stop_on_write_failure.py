"""A failed write stops trading cleanly (decision 0029), in one process against the
emulator: no new order, the working ones cancelled, a hold, one line naming the file and
the cause; a recovery once the cause is fixed is exact and lifts the hold. The day end's
Parquet fold and bar lake are writes like any other."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from app.broker.alpaca import AlpacaBroker, AlpacaLimits
from app.cli.live import _refuse_if_held
from app.config.registry import load_registry
from app.domain.models import OrderEvent, OrderStatus
from app.engine.books import check_against_broker
from app.engine.stop import LedgerWriteError, StopOutcome, stop_trading
from app.ledger import jsonl
from app.ledger.jsonl import read_jsonl
from app.ledger.small_files import write_json_atomic
from app.market.alpaca import AlpacaMarketData
from app.runtime.competition import Competition, build_competition
from app.runtime.resume import hold_path, opening_cash, record_opening_cash, resume
from app.runtime.write_failure import TradingStoppedError, held_after_write_failure, stopped
from tests.conftest import OPEN, SYMBOLS, Emu, ScriptedMarket, bar, minute
from tests.ledger.disk_faults import FailingWrites

ENOSPC = "[Errno 28] No space left on device"


def buy(qty: int, symbol: str = "AAPL") -> dict:
    return {"symbol": symbol, "action": "buy", "quantity": qty}


@pytest.fixture
def registry(write_registry) -> Path:
    return write_registry(
        {
            "alpha": ("scripted.py", "ScriptedStrategy",
                      {"script": {"0": buy(10), "1": buy(4, "SPY"), "2": buy(1)}}, 100_000),
            "beta": ("scripted.py", "ScriptedStrategy", {"script": {"0": buy(6)}}, 100_000),
        }
    )  # fmt: skip


def start(emu: Emu, registry: Path, data: Path) -> tuple[Competition, AlpacaBroker]:
    broker = AlpacaBroker(emu.trading(), AlpacaLimits(backoff_seconds=0.01, recovery_seconds=5))
    market = AlpacaMarketData(emu.data(), SYMBOLS)
    if opening_cash(data) is None:
        record_opening_cash(data, broker)
    return build_competition(load_registry(registry), market, data, broker=broker), broker


def minutes(emu: Emu, disk: FailingWrites, fail_at: int) -> Iterator[datetime]:
    """Three minutes, the emulator's clock a step ahead of each; the disk fails from one on."""
    for m in range(3):
        emu.advance(1)
        disk.armed = m == fail_at
        yield OPEN + timedelta(minutes=m)


def broker_orders(emu: Emu) -> dict[str, str]:
    return {o["client_order_id"]: o["status"] for o in emu.raw("GET", "/_emulator/orders").json()}


def recover_after_the_fix(emu: Emu, registry: Path, data: Path) -> list[str]:
    """The cause fixed, `arena run --resume`'s recovery: exact, the hold lifted; returns
    what recovery said about the orders."""
    again, broker = start(emu, registry, data)
    try:
        report = resume(again, broker)
        assert report.ok, report.lines()
        assert not hold_path(data).exists()
        engine = again.engine
        assert check_against_broker(engine.books, engine.account, broker.positions()) == []
        assert {s: p.quantity for s, p in engine.books["alpha"].portfolio.positions.items()} == {
            "AAPL": 10
        }
        assert engine.books["beta"].portfolio.positions["AAPL"].quantity == 6
    finally:
        again.close()
    second, broker = start(emu, registry, data)
    assert resume(second, broker).orders == []  # nothing is booked twice
    second.close()
    return report.orders


def test_a_ledger_full_after_the_orders_went_out_cancels_them_and_holds(
    emu, registry, tmp_path, monkeypatch
):
    data = tmp_path / "data"
    competition, _ = start(emu, registry, data)
    snapshots = data / "team" / "alpha" / "portfolio" / "2026-03-12.jsonl"
    disk = FailingWrites("team/alpha/portfolio/2026-03-12.jsonl", armed=False)
    monkeypatch.setattr(jsonl, "os", disk)
    with pytest.raises(TradingStoppedError) as caught:
        competition.run(minutes(emu, disk, fail_at=1))  # minute 1 sends SPY, then snapshots
    assert str(caught.value) == (
        f"ledger write failed: {snapshots}: {ENOSPC} — trading stopped, working orders "
        "cancelled (1); trading held (HOLD.json); fix the cause, then `arena run --resume`"
    )
    orders = broker_orders(emu)
    assert sorted(orders.values()) == ["canceled", "filled"]  # nothing left working
    assert orders["alpha_202603121331_SPY_o"] == "canceled"
    assert not any("1332" in order for order in orders)  # no order after the failure
    hold = json.loads(hold_path(data).read_text())
    assert hold["kind"] == "write-failure"
    assert hold["file"] == str(snapshots)
    journal = list(read_jsonl(data / "orders" / "journal.jsonl"))
    assert journal[-1]["event"] == "submit"  # nothing written after the failure
    assert journal[-1]["client_order_id"] == "alpha_202603121331_SPY_o"

    monkeypatch.undo()  # the cause is fixed
    told = recover_after_the_fix(emu, registry, data)
    assert any("alpha_202603121331_SPY_o: canceled" in line for line in told), told


def test_a_journal_that_cannot_be_written_sends_nothing_more(emu, registry, tmp_path, monkeypatch):
    data = tmp_path / "data"
    competition, _ = start(emu, registry, data)
    journal = data / "orders" / "journal.jsonl"
    disk = FailingWrites("orders/journal.jsonl", armed=False)
    monkeypatch.setattr(jsonl, "os", disk)
    with pytest.raises(TradingStoppedError) as caught:
        competition.run(minutes(emu, disk, fail_at=1))  # the AAPL fill's record fails
    assert str(caught.value).startswith(
        f"ledger write failed: {journal}: {ENOSPC} — trading stopped, no order was working; "
    )
    assert list(broker_orders(emu)) == ["net_202603121330_AAPL_o"]  # SPY never went out

    monkeypatch.undo()
    told = recover_after_the_fix(emu, registry, data)
    assert any("missed fill of 16" in line for line in told), told  # learned from the broker


@pytest.mark.parametrize(
    ("module", "function", "written"),
    [
        ("app.ledger.fold", "_write_parquet", "team/alpha/portfolio.parquet"),
        ("app.market.lake", "_replace_part", "bars/date=2026-03-12/part-0930.parquet"),
    ],
)
def test_the_day_end_fold_and_bar_lake_are_writes_too(
    module, function, written, write_registry, tmp_path, monkeypatch
):
    registry = write_registry(
        {"alpha": ("scripted.py", "ScriptedStrategy", {"script": {"0": buy(1)}}, 100_000)}
    )
    market = ScriptedMarket({minute(13, 30 + m): {"AAPL": bar("AAPL", minute(13, 30 + m), 100)}
                             for m in range(3)})  # fmt: skip
    data = tmp_path / "data"
    competition = build_competition(load_registry(registry), market, data)  # the simulator

    def full(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(f"{module}.{function}", full)
    with pytest.raises(TradingStoppedError) as caught:
        competition.run(market.minutes())
    assert str(caught.value) == (
        f"ledger write failed: {data / written}: {ENOSPC} — trading stopped, no order was "
        "working; fix the cause and run again"
    )
    assert not hold_path(data).exists()  # a simulated broker's orders end with the run
    trades = list(read_jsonl(data / "team" / "alpha" / "trades.jsonl"))
    assert [t["quantity"] for t in trades] == ["1"]  # the day's JSONL stays whole


class Broker:
    """The two calls a stop makes: cancel_all, then poll until the cancels are final."""

    def __init__(self, answers: list[list[OrderEvent]], cancel_error: Exception | None = None):
        self.answers = answers
        self.cancel_error = cancel_error
        self.cancels = 0

    def cancel_all(self) -> None:
        self.cancels += 1
        if self.cancel_error is not None:
            raise self.cancel_error

    def poll(self) -> list[OrderEvent]:
        return self.answers.pop(0) if self.answers else []


def test_a_stop_cancels_and_says_what_became_of_each_working_order():
    events = [[OrderEvent("a", OrderStatus.CANCELED)], [OrderEvent("b", OrderStatus.FILLED)]]
    assert stop_trading([], Broker([])).describe() == "no order was working"
    ended = stop_trading(["a", "b"], Broker(events), sleep=lambda _s: None)
    assert ended.describe() == "working orders ended (1 canceled, 1 filled)"
    both = [[OrderEvent("a", OrderStatus.CANCELED), OrderEvent("b", OrderStatus.CANCELED)]]
    assert stop_trading(["a", "b"], Broker(both)).describe() == "working orders cancelled (2)"
    clock = iter(range(100))
    left = stop_trading(["a"], Broker([]), 3, monotonic=lambda: next(clock), sleep=lambda _: None)
    assert left.describe() == "1 order(s) (a) still working after the cancels"
    refused = stop_trading(["a"], Broker([], ConnectionError("connection refused")))
    assert refused.describe() == "cancelling failed (connection refused): 1 order(s) (a) may " \
        "still be working"  # fmt: skip


def test_only_a_reconciliations_hold_refuses_resume(tmp_path, capsys):
    failure = LedgerWriteError(tmp_path / "x.jsonl", OSError(28, "No space left on device"))
    line = str(stopped(tmp_path, failure, StopOutcome(), live=True))
    assert line.endswith("no order was working; trading held (HOLD.json); fix the cause, then "
                         "`arena run --resume`")  # fmt: skip
    assert held_after_write_failure(tmp_path) == str(tmp_path / "x.jsonl")
    _refuse_if_held(tmp_path)  # recovery decides: it lifts the hold if the books are right
    assert "recovering the books" in capsys.readouterr().out
    write_json_atomic(hold_path(tmp_path), {"problems": ["AAPL: the teams hold 23"]})
    assert held_after_write_failure(tmp_path) is None
    with pytest.raises(ValueError, match="trading is held until the books match the broker"):
        _refuse_if_held(tmp_path)


def test_a_hold_that_cannot_be_written_is_said_in_the_line(tmp_path):
    occupied = tmp_path / "data"
    occupied.write_text("a file where the data directory should be")
    failure = LedgerWriteError(occupied / "x.jsonl", OSError(28, "No space left on device"))
    line = str(stopped(occupied, failure, StopOutcome(), live=True))
    assert "no order was working; no hold written ([Errno " in line, line
    assert line.endswith("fix the cause, then `arena run --resume`")
