"""Corporate actions on the live path (decision 0030): the emulator announces a dividend and a
split over HTTP (alpaca-py's CorporateActionsClient), applies them to the account at the
ex-date's open and lists them as account activities; the host books the same into the teams'
books and the account's, and reconciliation finds the books, the positions and the cash
equal. A dividend the broker paid that the books lack holds trading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from alpaca.data.historical.corporate_actions import CorporateActionsClient

from app.broker.alpaca import AlpacaBroker, AlpacaLimits
from app.broker.emulator import EmulatorServer, load_state
from app.config.registry import load_registry
from app.market.alpaca import AlpacaMarketData
from app.market.alpaca_corporate import AlpacaCorporateActions
from app.market.corporate_file import load_actions
from app.runtime.competition import Competition, CompetitionPlan
from app.runtime.resume import record_opening_cash
from app.runtime.write_failure import TradingStoppedError
from tests.conftest import DAY, KEY, REPO, SECRET, Emu
from tests.ledger.disk_faults import immutable, mutable

ACTIONS = REPO / "tests" / "fixtures" / "corporate_actions" / "march_2026.csv"
EX_DAY = DAY + timedelta(days=1)
LATE = datetime(2026, 3, 12, 19, 55, tzinfo=UTC)  # 15:55 New York on the day before
EX_OPEN = datetime(2026, 3, 13, 13, 30, tzinfo=UTC)
SCRIPTS = {
    "alpha": {"0": [{"symbol": "AAPL", "action": "buy", "quantity": 10},
                    {"symbol": "SPY", "action": "buy", "quantity": 5}]},
    "beta": {"0": [{"symbol": "AAPL", "action": "sell", "quantity": 4},
                   {"symbol": "SPY", "action": "sell", "quantity": 3}]},
}  # fmt: skip


@pytest.fixture
def two_day_emulator(real_bars):
    state = load_state(
        real_bars,
        start=DAY,
        end=EX_DAY,
        symbols=("AAPL", "SPY"),
        api_key=KEY,
        secret_key=SECRET,
        allow_fractional=False,
        corporate_actions=tuple(load_actions(ACTIONS)),
    )
    with EmulatorServer(state) as server:
        state.advance(until=LATE)
        yield Emu(server)


def run_across_the_ex_date(emu: Emu, write_registry, tmp_path, host_knows: bool, at_open=None):
    teams = {t: ("scripted.py", "ScriptedStrategy", {"script": s}, 100_000)
             for t, s in SCRIPTS.items()}  # fmt: skip
    registry = load_registry(write_registry(teams, {"rules": {"allow_short": True}}))
    broker = AlpacaBroker(emu.trading(), AlpacaLimits(backoff_seconds=0.01))
    market = AlpacaMarketData(emu.data(), ["AAPL", "SPY"])
    client = CorporateActionsClient(KEY, SECRET, url_override=emu.url)
    feed = AlpacaCorporateActions(client, market.universe) if host_knows else None
    data = tmp_path / "data"
    record_opening_cash(data, broker)
    plan = CompetitionPlan(registry, market, data, broker, corporate_actions=feed)
    competition = Competition.open(plan)
    minutes = [LATE + timedelta(minutes=m) for m in range(4)]
    minutes += [EX_OPEN + timedelta(minutes=m) for m in range(3)]

    def ticks():
        for minute in minutes:
            emu.state.advance(until=minute + timedelta(minutes=1))  # the bar closes
            competition.engine.poll_fills(minute + timedelta(minutes=1))
            if minute == EX_OPEN and at_open is not None:
                at_open(data)
            yield minute

    problems = competition.run(ticks())
    return data, broker, registry, problems


def recover_dry(data, broker, registry):
    market = SimpleNamespace(universe=["AAPL", "SPY"])  # the books alone read no bars
    plan = CompetitionPlan(registry, market, data, broker, strategies=False)
    competition = Competition.open(plan)
    try:
        return competition.recover(broker, dry_run=True)
    finally:
        competition.close()


def test_the_books_follow_the_brokers_dividend_and_split_and_reconcile_exactly(
    two_day_emulator: Emu, write_registry, tmp_path
) -> None:
    emu = two_day_emulator
    data, broker, registry, problems = run_across_the_ex_date(emu, write_registry, tmp_path, True)
    assert problems == []  # teams sum to the account, the account equals the broker
    positions = emu.state.summary()["positions"]
    assert positions == {"AAPL": "6", "SPY": "3"}  # 6 after 10 - 4; 2 split 3 for 2
    kinds = sorted(a["activity_type"] for a in broker.corporate_activities())
    assert kinds == ["DIV", "SPLIT"]
    report = recover_dry(data, broker, registry)
    assert report.problems == []  # positions and cash, dividends and cash in lieu included
    assert not [n for n in report.redone if "not paid" in n]


def test_a_dividend_the_books_lack_holds_trading(
    two_day_emulator: Emu, write_registry, tmp_path
) -> None:
    emu = two_day_emulator
    data, broker, registry, problems = run_across_the_ex_date(emu, write_registry, tmp_path, False)
    assert any("SPY" in p for p in problems)  # the split moved the broker's position
    report = recover_dry(data, broker, registry)
    text = " ".join(report.problems)
    assert "DIV AAPL" in text
    assert "cash" in text
    assert Decimal(emu.state.summary()["cash"]) != Decimal(0)


def test_a_write_failure_while_an_action_is_booked_is_finished_by_resume(
    two_day_emulator: Emu, write_registry, tmp_path
) -> None:
    """The action is journaled (fsynced) before any owner's line: when beta's trades file
    refuses the write, trading stops, and recovery books what is missing, exactly."""
    refused: list[Path] = []

    def refuse_betas_trades(data: Path) -> None:
        target = data / "team" / "beta" / "trades.jsonl"
        why = immutable(target)
        if why is not None:
            pytest.skip(f"an immutable file is not available here: {why}")
        refused.append(target)

    emu = two_day_emulator
    try:
        with pytest.raises(TradingStoppedError, match=r"beta/trades\.jsonl"):
            run_across_the_ex_date(emu, write_registry, tmp_path, True, refuse_betas_trades)
    finally:
        for path in refused:
            mutable(path)
    data = tmp_path / "data"
    broker = AlpacaBroker(emu.trading(), AlpacaLimits(backoff_seconds=0.01))
    registry = load_registry(tmp_path / "registry.yaml")
    market = SimpleNamespace(universe=["AAPL", "SPY"])
    feed = AlpacaCorporateActions(CorporateActionsClient(KEY, SECRET, url_override=emu.url), [])
    plan = CompetitionPlan(registry, market, data, broker, corporate_actions=feed)
    competition = Competition.open(plan)  # as `arena run --resume` opens it
    try:
        report = competition.recover(broker)
    finally:
        competition.close()
    assert report.problems == []  # books, positions and cash equal the broker's
    assert any("beta: corporate action dividend-AAPL" in line for line in report.redone)
    assert "account: corporate action split-SPY-2026-03-13 (due)" in report.redone
    again = recover_dry(data, broker, registry)
    assert again.problems == []
    assert not [line for line in again.redone if "corporate action" in line]  # booked once
