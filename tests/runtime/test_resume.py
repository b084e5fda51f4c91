"""Recovery on start, in one process against the emulator: missed fills are learned from
the broker, open orders are canceled and settled, orders that never left are closed, and a
corrupted book holds trading until a reconciliation finds it equal to the broker again."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from app.broker.alpaca import AlpacaBroker, AlpacaLimits
from app.config.registry import load_registry
from app.ledger.jsonl import read_jsonl
from app.market.alpaca import AlpacaMarketData
from app.runtime.competition import Competition, CompetitionPlan, build_competition
from app.runtime.resume import held_problems, hold_path, opening_cash, record_opening_cash, resume
from tests.conftest import OPEN, SYMBOLS, Emu, error_lines

D = Decimal


def buy(qty: int, symbol: str = "AAPL") -> dict:
    return {"symbol": symbol, "action": "buy", "quantity": qty}


@pytest.fixture
def registry(write_registry) -> Path:
    return write_registry(
        {
            "alpha": ("scripted.py", "ScriptedStrategy",
                      {"script": {"0": buy(10), "2": buy(4, "SPY")}}, 100_000),
            "beta": ("scripted.py", "ScriptedStrategy", {"script": {"0": buy(6)}}, 100_000),
        }
    )  # fmt: skip


def start(emu: Emu, registry: Path, data: Path) -> tuple[Competition, AlpacaBroker]:
    broker = AlpacaBroker(emu.trading(), AlpacaLimits(backoff_seconds=0.01, recovery_seconds=5))
    market = AlpacaMarketData(emu.data(), SYMBOLS)
    if opening_cash(data) is None:
        record_opening_cash(data, broker)  # as `arena run` does when a competition starts
    return build_competition(load_registry(registry), market, data, broker=broker), broker


def crash(competition: Competition) -> None:
    """What a kill leaves: nothing is finished, folded or checked; files stay as written."""
    competition.close()


def trade(emu: Emu, competition: Competition, minutes: int) -> None:
    for m in range(minutes):
        emu.advance(1)
        competition.engine.tick(OPEN + timedelta(minutes=m))


def team_position(data: Path, team: str, symbol: str) -> Decimal:
    path = data / "team" / team / "trades.jsonl"
    total = D(0)
    for t in read_jsonl(path) if path.exists() else []:
        if t["symbol"] == symbol:
            total += D(t["quantity"]) * (1 if t["side"] == "buy" else -1)
    return total


def drop_lines(path: Path, keep: callable) -> int:
    lines = path.read_text().splitlines(keepends=True)
    kept = [line for line in lines if keep(json.loads(line))]
    path.write_text("".join(kept))
    return len(lines) - len(kept)


def test_a_fill_the_host_never_saw_is_learned_from_the_broker(emu, registry, tmp_path):
    data = tmp_path / "data"
    competition, _ = start(emu, registry, data)
    trade(emu, competition, 1)  # the orders go out at minute 0
    crash(competition)
    emu.advance(1)  # ... and fill while the host is down
    competition, broker = start(emu, registry, data)
    report = resume(competition, broker)
    assert report.ok, report.lines()
    assert any("missed fill of 16" in line for line in report.orders)  # 10 + 6 AAPL
    assert team_position(data, "alpha", "AAPL") == 10
    assert team_position(data, "beta", "AAPL") == 6
    journal = list(read_jsonl(data / "orders" / "journal.jsonl"))
    assert [r["status"] for r in journal if r["event"] == "outcome"] == ["filled"]
    crash(competition)
    again, broker = start(emu, registry, data)
    assert resume(again, broker).orders == []  # nothing is booked twice
    assert team_position(data, "alpha", "AAPL") == 10
    crash(again)


def test_ledger_lines_lost_after_their_journal_record_are_written_again(emu, registry, tmp_path):
    data = tmp_path / "data"
    competition, _ = start(emu, registry, data)
    trade(emu, competition, 3)
    crash(competition)
    # As if the host died between the fill's journal record and beta's ledger line.
    assert drop_lines(data / "team" / "beta" / "trades.jsonl", lambda r: False) == 1
    competition, broker = start(emu, registry, data)
    report = resume(competition, broker)
    assert report.ok, report.lines()
    assert any(line.startswith("beta trade beta_") for line in report.redone)
    assert team_position(data, "beta", "AAPL") == 6
    crash(competition)


def test_an_open_order_is_canceled_and_one_that_never_left_is_closed(emu, registry, tmp_path):
    data = tmp_path / "data"
    competition, _ = start(emu, registry, data)
    trade(emu, competition, 1)  # AAPL orders open at the emulator (no bar since)
    journal = data / "orders" / "journal.jsonl"
    never_sent = dict(next(r for r in read_jsonl(journal) if r["event"] == "submit"))
    never_sent["client_order_id"] = "alpha_202603121300_SPY_o"
    never_sent["symbol"] = "SPY"
    competition.ledger.journal(never_sent)  # journaled, then the host died before sending
    crash(competition)
    competition, broker = start(emu, registry, data)
    report = resume(competition, broker)
    assert report.ok, report.lines()
    outcomes = {
        r["client_order_id"]: r["status"] for r in read_jsonl(journal) if r["event"] == "outcome"
    }
    assert outcomes["alpha_202603121300_SPY_o"] == "rejected"
    assert "canceled" in outcomes.values()
    told = [e["message"] for e in error_lines(data / "team" / "beta")]
    assert any("host restarted" in m and "6 AAPL" in m for m in told)
    crash(competition)


def test_a_corrupted_book_holds_trading_until_reconciled(emu, registry, tmp_path):
    data = tmp_path / "data"
    competition, _ = start(emu, registry, data)
    trade(emu, competition, 3)
    crash(competition)
    trades = data / "team" / "alpha" / "trades.jsonl"
    original = trades.read_text()
    phantom = dict(json.loads(original.splitlines()[0]), trade_id="alpha_phantom", quantity="7")
    trades.write_text(original + json.dumps(phantom) + "\n")  # a book that lies

    competition, broker = start(emu, registry, data)
    dry = resume(competition, broker, dry_run=True)
    assert not dry.ok
    assert any("AAPL: the teams hold 23, the account book 16" in p for p in dry.problems)
    assert not hold_path(data).exists()  # a dry run writes nothing
    report = resume(competition, broker)
    assert not report.ok
    assert held_problems(data) == report.problems
    crash(competition)

    trades.write_text(original)  # the organiser repairs the book
    competition, broker = start(emu, registry, data)
    assert resume(competition, broker).ok
    assert held_problems(data) is None  # the hold is lifted
    crash(competition)


def test_cash_that_does_not_add_up_holds_trading(emu, registry, tmp_path):
    data = tmp_path / "data"
    competition, _ = start(emu, registry, data)
    trade(emu, competition, 3)
    crash(competition)
    competition, broker = start(emu, registry, data)
    assert resume(competition, broker).ok  # the books and the cash agree
    crash(competition)
    account = data / "account" / "trades.jsonl"
    lines = account.read_text().splitlines()
    fill = json.loads(lines[0])
    fill["price"] = str(D(fill["price"]) + D("0.05"))  # a fill booked five cents too dear
    account.write_text("\n".join([json.dumps(fill), *lines[1:]]) + "\n")
    competition, broker = start(emu, registry, data)
    report = resume(competition, broker)
    assert [p for p in report.problems if p.startswith("cash: the broker holds")], report.lines()
    assert held_problems(data)
    crash(competition)


def test_metrics_and_the_last_minute_go_on_where_they_stopped(emu, registry, tmp_path):
    data = tmp_path / "data"
    competition, _ = start(emu, registry, data)
    trade(emu, competition, 4)
    before = competition.engine.books["alpha"].tracker.snapshot()
    crash(competition)
    competition, broker = start(emu, registry, data)
    assert resume(competition, broker).ok
    engine = competition.engine
    assert engine.last_minute == OPEN + timedelta(minutes=3)
    after = engine.books["alpha"].tracker.snapshot()
    assert after.minutes == before.minutes == 4
    assert after.trades == before.trades
    assert after.max_drawdown_pct == before.max_drawdown_pct
    crash(competition)


def test_a_reconciliation_opens_the_books_without_starting_any_strategy(emu, registry, tmp_path):
    """`arena reconcile` compares books with the broker: no sandbox, no strategy is loaded."""
    import psutil

    data = tmp_path / "data"
    competition, broker = start(emu, registry, data)
    trade(emu, competition, 2)
    emu.advance(1)
    competition.run([])  # a clean stop: the last fills are booked
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    market = AlpacaMarketData(emu.data(), SYMBOLS)
    plan = CompetitionPlan(load_registry(registry), market, data, broker, strategies=False)
    books = Competition.open(plan)
    try:
        started = {p.pid for p in psutil.Process().children(recursive=True)} - before
        report = books.recover(broker, dry_run=True)
    finally:
        books.close()
    assert started == set()
    assert books.load_outcomes == {}
    assert report.ok, report.lines()
    assert report.trades_read > 0
    assert team_position(data, "alpha", "AAPL") == 10


def test_after_a_recovery_the_last_snapshot_holds_what_it_booked(emu, registry, tmp_path):
    """A fill booked by recovery is in a snapshot before anyone reads the books (0023)."""
    data = tmp_path / "data"
    competition, _ = start(emu, registry, data)
    trade(emu, competition, 1)  # the orders go out at minute 0; the snapshot holds none
    crash(competition)
    emu.advance(1)  # ... and fill while the host is down
    competition, broker = start(emu, registry, data)
    assert resume(competition, broker).ok
    crash(competition)
    for team, expected in (("alpha", 10), ("beta", 6)):
        days = sorted((data / "team" / team / "portfolio").glob("*.jsonl"))
        last = list(read_jsonl(days[-1]))[-1]
        assert (
            D(last["positions"]["AAPL"]["quantity"])
            == expected
            == team_position(data, team, "AAPL")
        )


def test_a_signal_of_the_sessions_last_minute_never_reaches_the_broker(
    emu, write_registry, tmp_path
):
    """Live as in replay (0023): the 15:59 tick runs after the close; its orders would fill
    the next morning. They expire instead, and the team is told."""
    script = {"0": buy(10)}  # its first call is the session's last minute
    path = write_registry(
        {"alpha": ("scripted.py", "ScriptedStrategy", {"script": script}, 100_000)}
    )
    competition, _broker = start(emu, path, tmp_path / "data")
    emu.advance(390)  # the whole session has closed
    competition.engine.tick(OPEN + timedelta(minutes=389))  # 15:59 New York
    competition.run([])
    assert emu.state.summary()["orders"] == 0
    expired = [
        e for e in error_lines(tmp_path / "data" / "team" / "alpha") if e["kind"] == "expired"
    ]
    assert len(expired) == 1
    assert "10 AAPL expired" in expired[0]["message"]
