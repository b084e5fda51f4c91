"""Corporate actions in a replay (decision 0030): a dividend and a split on held long and
short positions are booked into every team's book and the account's, sum exactly, agree
with the simulated broker, and rebuild from the ledgers alone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from app.config.registry import load_registry
from app.domain.corporate import ActionKind, CorporateAction
from app.domain.models import Side
from app.engine.books import AccountBook, TeamBook
from app.engine.corporate import CorporateBooks, match_broker_activities
from app.engine.lines import AccountNote, CorporateActionLine
from app.engine.ports import CorporateActionsUnavailableError
from app.engine.recovery import RecoveryReport, rebuild_books
from app.ledger.jsonl import read_jsonl
from app.ledger.reader import read_trades
from app.market.corporate_file import (
    ActionList,
    CorporateActionsError,
    load_actions,
    split_rates,
)
from app.market.replay import ReplayMarket
from app.runtime.competition import Competition, CompetitionPlan
from app.runtime.resume import DiscardingLedger
from tests.conftest import DAY, REPO, error_lines

ACTIONS = REPO / "tests" / "fixtures" / "corporate_actions" / "march_2026.csv"
EX_DAY = date(2026, 3, 13)
CASH = Decimal(100_000)


def order(symbol: str, action: str, qty: int) -> dict:
    return {"symbol": symbol, "action": action, "quantity": qty}


SCRIPTS = {
    # alpha long AAPL 10 and SPY 5; beta short AAPL 4 and SPY 3 (on day one's first minute)
    "alpha": {"0": [order("AAPL", "buy", 10), order("SPY", "buy", 5)]},
    "beta": {"0": [order("AAPL", "sell", 4), order("SPY", "sell", 3)]},
    "gamma": {},  # holds nothing: no line, no note
}


def replay_two_sessions(write_registry, real_bars, tmp_path, feed):
    teams = {t: ("scripted.py", "ScriptedStrategy", {"script": s}, 100_000)
             for t, s in SCRIPTS.items()}  # fmt: skip
    rules = {"rules": {"allow_short": True}}
    registry = load_registry(write_registry(teams, rules))
    market = ReplayMarket.load(real_bars, {"AAPL", "SPY"}, DAY, EX_DAY)
    data = tmp_path / "data"
    plan = CompetitionPlan(registry, market, data, durability="close", corporate_actions=feed)
    competition = Competition.open(plan)
    problems = competition.run(market.minutes())
    return competition, data, problems


def action_lines(data, owner: str) -> list[dict]:
    path = data / ("account" if owner == "account" else f"team/{owner}") / "trades.jsonl"
    return [r for r in read_jsonl(path) if "action_id" in r] if path.exists() else []


def test_a_dividend_and_a_split_reach_long_and_short_books_and_sum_to_the_account(
    write_registry, real_bars, tmp_path
) -> None:
    feed = ActionList(load_actions(ACTIONS))
    competition, data, problems = replay_two_sessions(write_registry, real_bars, tmp_path, feed)
    assert problems == []  # the account equals the sum of the teams and the broker's
    engine = competition.engine
    alpha = {r["kind"]: r for r in action_lines(data, "alpha")}
    beta = {r["kind"]: r for r in action_lines(data, "beta")}
    account = {r["kind"]: r for r in action_lines(data, "account")}
    assert action_lines(data, "gamma") == []
    # Dividend: 0.26 a share, long receives, short pays; the account gets the net 6 shares.
    assert Decimal(alpha["dividend"]["cash"]) == Decimal("2.60")
    assert Decimal(beta["dividend"]["cash"]) == Decimal("-1.04")
    assert Decimal(account["dividend"]["cash"]) == Decimal("1.56")
    # Split 3 for 2 in whole shares: 5 -> 7 (+ half a share in cash), -3 -> -4 (pays half).
    assert (alpha["split"]["quantity_before"], alpha["split"]["quantity_after"]) == ("5", "7")
    assert (beta["split"]["quantity_before"], beta["split"]["quantity_after"]) == ("-3", "-4")
    assert (account["split"]["quantity_before"], account["split"]["quantity_after"]) == ("2", "3")
    lieu = Decimal(alpha["split"]["price_in_lieu"])
    assert Decimal(alpha["split"]["cash"]) == (lieu / 2).quantize(Decimal("0.01"))
    assert Decimal(alpha["split"]["cash"]) + Decimal(beta["split"]["cash"]) == Decimal(
        account["split"]["cash"]
    )
    # Booked at the ex-date's first minute, before any trade of that session.
    assert all(r["timestamp"].startswith(f"{EX_DAY}T13:30") for r in alpha.values())
    # The simulated broker holds what the account book holds.
    assert engine.broker.positions() == {"AAPL": Decimal(6), "SPY": Decimal(3)}
    notes = [e for e in error_lines(data / "team" / "beta") if e["kind"] == "corporate_action"]
    assert len(notes) == 2
    assert "paid 1.04" in " ".join(n["message"] for n in notes)


def test_the_books_rebuilt_from_the_ledgers_equal_the_live_books_after_actions(
    write_registry, real_bars, tmp_path
) -> None:
    feed = ActionList(load_actions(ACTIONS))
    competition, data, _ = replay_two_sessions(write_registry, real_bars, tmp_path, feed)
    engine = competition.engine
    books = {t: TeamBook.opening(t, t, CASH) for t in SCRIPTS}
    account = AccountBook.opening(CASH * len(SCRIPTS))
    team_lines = {t: read_trades(data / "team" / t / "trades.jsonl") for t in SCRIPTS}
    account_lines = read_trades(data / "account" / "trades.jsonl")
    report = RecoveryReport()
    booked = rebuild_books(books, account, team_lines, account_lines, report)
    assert report.problems == []
    assert booked.actions == {"dividend-AAPL-2026-03-13-0.26", "split-SPY-2026-03-13"}
    for team, book in books.items():
        assert book.portfolio == engine.books[team].portfolio
    assert account.portfolio == engine.account.portfolio
    # ... and every snapshot's cash agrees with the lines before it.
    for team in SCRIPTS:
        last = list(read_jsonl(data / "team" / team / "portfolio" / f"{EX_DAY}.jsonl"))[-1]
        assert Decimal(last["cash"]) == engine.books[team].portfolio.cash


def test_an_action_before_the_run_or_on_a_day_it_did_not_reach_is_not_booked(
    write_registry, real_bars, tmp_path
) -> None:
    early = load_actions(ACTIONS)
    moved = [type(a)(a.symbol, a.kind, a.ex_date + timedelta(days=30), a.amount) for a in early]
    before = [type(a)(a.symbol, a.kind, DAY - timedelta(days=1), a.amount) for a in early]
    _, data, problems = replay_two_sessions(
        write_registry, real_bars, tmp_path, ActionList(moved + before)
    )
    assert problems == []
    assert action_lines(data, "alpha") == []
    assert action_lines(data, "account") == []


def test_a_dividend_the_broker_has_not_paid_yet_is_pending_not_a_problem() -> None:
    line = CorporateActionLine(
        timestamp=datetime(2026, 3, 13, 13, 30, tzinfo=UTC),
        owner="account",
        action_id="dividend-AAPL-2026-03-13-0.26",
        kind=ActionKind.DIVIDEND,
        symbol="AAPL",
        ex_date=EX_DAY,
        amount=Decimal("0.26"),
        quantity_before=Decimal(6),
        quantity_after=Decimal(6),
        cash=Decimal("1.56"),
    )
    paid = {"activity_type": "DIV", "symbol": "AAPL", "date": "2026-03-20", "net_amount": "1.56"}
    stray = {"activity_type": "DIV", "symbol": "XOM", "date": "2026-03-20", "net_amount": "9.90"}
    unpaid = match_broker_activities([line], [], EX_DAY)
    assert (unpaid.pending, unpaid.problems) == (Decimal("1.56"), [])
    settled = match_broker_activities([line], [paid], EX_DAY)
    assert (settled.pending, settled.problems) == (Decimal(0), [])
    extra = match_broker_activities([line], [paid, stray], EX_DAY)
    assert extra.problems == ["the broker shows DIV XOM 9.90 on 2026-03-20, which the books lack"]


def test_an_action_on_teams_that_net_to_nothing_is_booked_whole_and_rebuilds(
    write_registry, real_bars, tmp_path
) -> None:
    # alpha buys 4 AAPL, beta sells 4: crossed inside the host, the account holds none.
    teams = {"alpha": {"0": order("AAPL", "buy", 4)}, "beta": {"0": order("AAPL", "sell", 4)}}
    registry = {t: ("scripted.py", "ScriptedStrategy", {"script": s}, 100_000)
                for t, s in teams.items()}  # fmt: skip
    registry = load_registry(write_registry(registry, {"rules": {"allow_short": True}}))
    market = ReplayMarket.load(real_bars, {"AAPL"}, DAY, EX_DAY)
    data = tmp_path / "data"
    feed = ActionList(load_actions(ACTIONS))
    plan = CompetitionPlan(registry, market, data, durability="close", corporate_actions=feed)
    assert Competition.open(plan).run(market.minutes()) == []
    (account,) = action_lines(data, "account")
    assert (account["quantity_before"], account["cash"]) == ("0", "0.00")
    cash = [Decimal(action_lines(data, t)[0]["cash"]) for t in teams]
    assert cash == [Decimal("1.04"), Decimal("-1.04")]
    books = {t: TeamBook.opening(t, t, CASH) for t in teams}
    report = RecoveryReport()
    rebuild_books(
        books,
        AccountBook.opening(CASH * 2),
        {t: read_trades(data / "team" / t / "trades.jsonl") for t in teams},
        read_trades(data / "account" / "trades.jsonl"),
        report,
    )
    assert report.problems == []  # booked whole: nothing held, nothing to finish by hand


def test_a_split_with_no_last_price_uses_a_holders_cost_and_says_so() -> None:
    books = {t: TeamBook.opening(t, t, CASH) for t in ("alpha", "beta")}
    books["alpha"].portfolio.apply_fill("NVDA", Side.BUY, Decimal(3), Decimal(120))
    books["beta"].portfolio.apply_fill("NVDA", Side.SELL, Decimal(3), Decimal(120))
    ledger = DiscardingLedger()
    split = CorporateAction("NVDA", ActionKind.SPLIT, EX_DAY, Decimal(3), old_rate=Decimal(2))
    corporate = CorporateBooks(
        books, AccountBook.opening(CASH * 2), object(), ledger, ActionList([split]), Decimal(1)
    )
    moment = datetime(2026, 3, 13, 13, 30, tzinfo=UTC)
    assert corporate.open_session(DAY, EX_DAY, moment, {}) == [split]
    notes = [line.message for line in ledger.lines if isinstance(line, AccountNote)]
    assert notes == ["NVDA: no last price known; the average cost 120 stands in for it"]
    assert books["alpha"].portfolio.quantity("NVDA") == 4  # 4.5, the half paid at 80
    assert books["beta"].portfolio.quantity("NVDA") == -4
    assert books["alpha"].portfolio.cash - CASH + 360 == Decimal("40.00")


def test_two_dividends_of_a_day_are_both_paid_and_disagreeing_sources_refused() -> None:
    regular = CorporateAction("XOM", ActionKind.DIVIDEND, EX_DAY, Decimal("0.99"))
    special = CorporateAction("XOM", ActionKind.DIVIDEND, EX_DAY, Decimal("2.50"))
    assert len(ActionList([regular, special])) == 2
    paid_later = CorporateAction("XOM", ActionKind.DIVIDEND, EX_DAY, Decimal("0.99"), EX_DAY)
    assert len(ActionList([regular], [paid_later])) == 1  # one action from two sources
    with pytest.raises(CorporateActionsError, match="conflicting dividends of XOM"):
        ActionList([regular], [special])
    halves = CorporateAction("XOM", ActionKind.SPLIT, EX_DAY, Decimal(2))
    thirds = CorporateAction("XOM", ActionKind.SPLIT, EX_DAY, Decimal(3))
    with pytest.raises(CorporateActionsError, match="conflicting splits"):
        ActionList([halves, thirds])


@pytest.mark.parametrize(
    ("text", "rates"),
    [("2:1", (2, 1)), ("1/3", (1, 3)), ("0.333333", (1, 3)), ("0.1", (Decimal("0.1"), 1)),
     ("1.5", (Decimal("1.5"), 1)), ("10", (10, 1))],
)  # fmt: skip
def test_split_ratios_as_people_write_them_stay_exact(text, rates) -> None:
    assert split_rates(text) == tuple(Decimal(r) for r in rates)


class FlakyFeed:
    """Corporate actions that cannot be read for the first `failures` asks through EX_DAY."""

    def __init__(self, actions: list[CorporateAction], failures: int) -> None:
        self.inner = ActionList(actions)
        self.failures = failures
        self.asked: list[tuple[date, date]] = []

    def __call__(self, after: date, through: date) -> list[CorporateAction]:
        self.asked.append((after, through))
        if through == EX_DAY and len(self.asked) <= self.failures + 1:
            raise CorporateActionsUnavailableError("HTTP 500 (2 attempts in 5 s)")
        return self.inner(after, through)


def test_unread_announcements_hold_trading_until_read_then_book_on_the_opens_holdings(
    write_registry, real_bars, tmp_path
) -> None:
    """The first ask at the ex-date's open fails: every signal is refused (the holdings
    stay the open's), the feed is asked again each tick, and the actions then book exactly
    as at the open; trading resumes."""
    teams = dict(SCRIPTS)
    teams["gamma"] = {"390": order("AAPL", "buy", 1), "393": order("AAPL", "buy", 1)}
    registry = {t: ("scripted.py", "ScriptedStrategy", {"script": s}, 100_000)
                for t, s in teams.items()}  # fmt: skip
    registry = load_registry(write_registry(registry, {"rules": {"allow_short": True}}))
    market = ReplayMarket.load(real_bars, {"AAPL", "SPY"}, DAY, EX_DAY)
    data = tmp_path / "data"
    feed = FlakyFeed(load_actions(ACTIONS), failures=3)  # the open and the next two ticks
    plan = CompetitionPlan(registry, market, data, durability="close", corporate_actions=feed)
    assert Competition.open(plan).run(market.minutes()) == []
    assert feed.asked == [(DAY - timedelta(days=1), DAY), *[(DAY, EX_DAY)] * 4]
    alpha = {r["kind"]: r for r in action_lines(data, "alpha")}
    assert Decimal(alpha["dividend"]["cash"]) == Decimal("2.60")  # on the open's 10 shares
    assert alpha["dividend"]["timestamp"] == f"{EX_DAY}T13:33:00Z"  # the fourth ask read it
    events = list(read_jsonl(data / "team" / "gamma" / "events.jsonl"))
    refused = [e for e in events if e["kind"] == "rejected_signal"]
    assert len(refused) == 1  # call 390, the open: held
    assert "trading waits for today's corporate actions" in refused[0]["message"]
    gamma = list(read_jsonl(data / "team" / "gamma" / "trades.jsonl"))
    assert [t["quantity"] for t in gamma] == ["1"]  # call 393, after the read, traded
    notes = [e["kind"] for e in read_jsonl(data / "account" / "events.jsonl")]
    assert notes.count("corporate_actions_waiting") == 2  # waiting, then resumed
