"""A continued replay books what one run books at the new part's first session, corporate
actions included (decision 0027): a split and a dividend whose ex-date falls on a trading
day the input does not hold, between the two parts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from app.config.registry import load_registry
from app.domain.corporate import ActionKind, CorporateAction
from app.market.corporate_file import ActionList
from app.market.replay import ReplayMarket, load_replay
from app.runtime.competition import CompetitionPlan
from app.runtime.continuation import finish_replay, open_replay
from app.runtime.replay_record import ReplayRecord, read_record
from tests.conftest import REPO

SYMBOLS = {"AAPL", "MSFT", "QQQ", "SPY"}
FRIDAY, NEXT_FRIDAY = date(2026, 3, 13), date(2026, 3, 20)  # the data holds no day between
ACTIONS = ActionList(
    [
        CorporateAction("SPY", ActionKind.DIVIDEND, date(2026, 3, 16), Decimal("1.75")),
        CorporateAction("AAPL", ActionKind.SPLIT, date(2026, 3, 17), Decimal("2")),
    ]
)


def replay(bars: Path, data_dir: Path, start: date, end: date, continued: bool) -> None:
    registry = load_registry(REPO / "team_registry.yaml")
    earlier = read_record(data_dir) if continued else None
    market = ReplayMarket(
        load_replay(bars, SYMBOLS, start, end), earlier.universe if earlier else None
    )
    minutes = market.minutes()
    record = ReplayRecord.begin(registry, "regular", SYMBOLS, market.universe)
    plan = CompetitionPlan(
        registry, market, data_dir, durability="close", corporate_actions=ACTIONS
    )
    competition = open_replay(plan, record, minutes[0], earlier)
    problems = competition.run(minutes)
    assert problems == []
    finish_replay(competition, record, problems)


def test_actions_between_the_parts_are_booked_as_one_run_books_them(
    real_bars: Path, tmp_path: Path
) -> None:
    one, parts = tmp_path / "one", tmp_path / "parts"
    replay(real_bars, one, FRIDAY, NEXT_FRIDAY, continued=False)
    replay(real_bars, parts, FRIDAY, FRIDAY, continued=False)
    replay(real_bars, parts, NEXT_FRIDAY, NEXT_FRIDAY, continued=True)
    account = (one / "account" / "trades.jsonl").read_text()
    assert '"dividend"' in account
    assert '"split"' in account  # the account held both across the gap
    files = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(parts) for p in parts.rglob("*") if p.is_file())
    different = [f for f in files if (one / f).read_bytes() != (parts / f).read_bytes()]
    assert different == []


@pytest.fixture(autouse=True)
def _needs_real_bars(real_bars: Path) -> None:
    """Skips with the real data set's own message when it is absent."""
