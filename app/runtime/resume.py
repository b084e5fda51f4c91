"""Starting again over an earlier run's ledgers: recover, check against the broker, hold.

`resume` runs before the first tick of `arena run --resume` and is all of `arena
reconcile`. It repairs torn last lines, rebuilds the books from the ledgers, redoes what
the journal holds and the ledgers lack, settles the journal's open orders with the broker,
and compares the books with the broker. A mismatch writes `HOLD.json` into the data
directory: trading stays held (every later `--resume` refuses to trade) until a
reconciliation finds the books and the broker equal again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from app.engine.books import check_against_broker
from app.engine.corporate import CorporateBooks, match_broker_activities
from app.engine.engine import ONE_MINUTE
from app.engine.execution import Execution
from app.engine.lines import AccountTradeLine, CorporateActionLine, Line, TradeLine
from app.engine.recovery import (
    RecoverableBroker,
    RecoveryReport,
    check_actions_whole,
    check_cash,
    rebuild_books,
    redo_journal,
    settle_open_orders,
)
from app.ledger.fold import read_portfolio
from app.ledger.jsonl import repair_torn_tail
from app.ledger.paths import ACCOUNT, TRADES, journal_path, owner_dir, team_ids
from app.ledger.reader import latest_portfolio, read_journal, read_trades
from app.ledger.small_files import write_json_atomic
from app.market.calendar import SessionCalendar

if TYPE_CHECKING:  # the competition calls recovery; recovery only reads its parts
    from app.runtime.competition import Competition

HOLD_FILE = "HOLD.json"
NEW_YORK = ZoneInfo("America/New_York")
OPENING_CASH_FILE = "broker-opening.json"


@dataclass(slots=True)
class DiscardingLedger:
    """A dry run's ledger: records what would be written, writes nothing."""

    lines: list[Line] = field(default_factory=list)

    def write(self, line: Line, *, sync: bool = False) -> None:
        self.lines.append(line)

    def sync_journal(self) -> None:
        """Nothing to make durable."""

    def end_tick(self) -> None:
        """Nothing to flush."""

    def close(self) -> None:
        """Nothing to close."""


def hold_path(data_dir: Path) -> Path:
    return Path(data_dir) / HOLD_FILE


def repair_all(data_dir: Path) -> list[str]:
    """Cut a torn last line (a write cut short by the crash) off every ledger file."""
    repaired = []
    for path in sorted(Path(data_dir).rglob("*.jsonl")):
        repair = repair_torn_tail(path)
        if repair is not None:
            repaired.append(str(repair))
    return repaired


def resume(
    competition: Competition, broker: RecoverableBroker, dry_run: bool = False
) -> RecoveryReport:
    """Recover the competition's books; raises TradingHeld when they disagree with the broker."""
    data_dir = competition.data_dir
    report = RecoveryReport()
    if not dry_run:
        report.redone.extend(f"repaired {line}" for line in repair_all(data_dir))
    engine = competition.engine
    team_trades, account_trades = read_book_lines(data_dir)
    journal = read_journal(journal_path(data_dir))
    booked = rebuild_books(engine.books, engine.account, team_trades, account_trades, report)
    ledger: Any = DiscardingLedger() if dry_run else competition.ledger
    redo_journal(journal, engine.books, engine.account, ledger, booked, report)
    check_actions_whole(booked, report)
    engine.corporate.mark_booked(booked.actions)
    # A dry run follows the open orders on the same books, writing nothing.
    execution = (
        Execution(engine.books, engine.account, broker, ledger, engine.config.quantum)
        if dry_run
        else engine.execution
    )
    now = datetime.now(UTC)
    settle_open_orders(execution, journal, broker, now, report, cancel=not dry_run)
    restore_curves(competition)  # the day the books reached: actions since then are due
    due = _book_due_actions(competition, broker, ledger, dry_run)
    report.redone.extend(f"account: corporate action {line.action_id} (due)" for line in due)
    report.problems.extend(check_against_broker(engine.books, engine.account, broker.positions()))
    opening = opening_cash(data_dir)
    if opening is None and not account_trades and not dry_run:
        opening = record_opening_cash(data_dir, broker)
    if opening is None:
        report.redone.append("cash not checked: the broker's opening cash was not recorded")
    else:
        fills = [t for t in account_trades if isinstance(t, AccountTradeLine)]
        traded = sum((t.quantity for t in fills), Decimal(0))
        actions = [*account_trades, *booked.account_actions, *due]
        pending = _corporate_pending(broker, actions, report)
        cash = broker.cash()
        report.problems.extend(check_cash(engine.account, opening, cash, traded, pending))
    if not dry_run and report.booked:
        engine.restate(force=True)  # the books anyone reads include what recovery booked
    ledger.end_tick()
    if not dry_run:
        _set_hold(data_dir, report)
    return report


TeamBookLines = dict[str, list[TradeLine | CorporateActionLine]]
AccountBookLines = list[AccountTradeLine | CorporateActionLine]


def _book_due_actions(
    competition: Competition, broker: RecoverableBroker, ledger: Any, dry_run: bool
) -> list[CorporateActionLine]:
    """The dividends and splits that came due between the last session the books reached
    and the broker's latest opened session: the broker has applied them, so they are
    booked before the books are compared with it (the next tick would book them next)."""
    engine = competition.engine
    clock_time = getattr(broker, "clock_time", None)
    if engine.corporate.feed is None or clock_time is None or engine.day is None:
        return []
    now = clock_time()
    calendar = SessionCalendar()
    opened = [
        d
        for d in calendar.sessions(engine.day, now.astimezone(NEW_YORK).date())
        if calendar.session_minutes(d)[0] <= now and d > engine.day
    ]
    if not opened:
        return []
    corporate = engine.corporate
    if dry_run:  # the same books, nothing written
        corporate = CorporateBooks(
            engine.books, engine.account, broker, ledger, corporate.feed, engine.config.quantum
        )
        corporate.mark_booked(engine.corporate.applied)
    first = calendar.session_minutes(opened[-1])[0]
    corporate.open_session(engine.day, opened[-1], first, engine.prices)
    return list(corporate.account_lines)


def _corporate_pending(
    broker: RecoverableBroker, lines: AccountBookLines, report: RecoveryReport
) -> Decimal:
    """Corporate actions against the broker's activities (where it lists them): what it
    has not paid yet is pending, what it paid that the books lack is a problem."""
    actions = [line for line in lines if isinstance(line, CorporateActionLine)]
    read_activities = getattr(broker, "corporate_activities", None)
    if read_activities is None:
        return Decimal(0)
    # Activities before the account's first trade cannot be about what the host holds.
    since = min((line.timestamp.date() for line in lines), default=date.max)
    match = match_broker_activities(actions, read_activities(), since)
    report.redone.extend(match.notes)
    report.problems.extend(match.problems)
    return match.pending


def read_book_lines(data_dir: Path) -> tuple[TeamBookLines, AccountBookLines]:
    """Every team's trade and corporate-action lines and the account's, in file order."""
    team_trades: TeamBookLines = {
        team: [t for t in read_trades(path) if isinstance(t, TradeLine | CorporateActionLine)]
        for team in team_ids(data_dir)
        if (path := owner_dir(data_dir, team) / TRADES).is_file()
    }
    account_trades: AccountBookLines = [
        t
        for t in read_trades(owner_dir(data_dir, ACCOUNT) / TRADES)
        if isinstance(t, AccountTradeLine | CorporateActionLine)
    ]
    return team_trades, account_trades


def restore_curves(competition: Competition) -> None:
    """Each tracker gets back the minutes it had recorded (the trades came with the books),
    and the engine its last minute and day: metrics go on where they stopped, a minute is
    never processed twice, and a new day still ends the old one (fold, expiries)."""
    engine = competition.engine
    last = restore_trackers(competition)
    if last is not None:
        engine.resume_at(last - ONE_MINUTE)  # snapshots are stamped when the minute closed
    engine.remember_prices(last_marks(folder for folder, _tracker in _owners(competition)))


def restore_trackers(competition: Competition) -> datetime | None:
    """Every owner's equity curve read back into its tracker; the last snapshot's stamp."""
    last: datetime | None = None
    for folder, tracker in _owners(competition):
        history = read_portfolio(folder)
        if history.empty:
            continue
        for equity in history["equity"]:
            tracker.record_minute(Decimal(equity))
        stamp = history["timestamp"].iloc[-1].to_pydatetime()
        last = stamp if last is None else max(last, stamp)
    return last


def _owners(competition: Competition) -> list[tuple[Path, Any]]:
    """(ledger folder, performance tracker) of every team and of the account."""
    engine, data_dir = competition.engine, competition.data_dir
    owners = [(owner_dir(data_dir, t), b.tracker) for t, b in engine.books.items()]
    owners.append((owner_dir(data_dir, ACCOUNT), engine.account.tracker))
    return owners


def last_marks(folders: Iterable[Path]) -> dict[str, Decimal]:
    """The price each holding was marked at in its owner's last snapshot."""
    marks: dict[str, Decimal] = {}
    for folder in folders:
        snapshot = latest_portfolio(folder) or {}
        for symbol, part in (snapshot.get("positions") or {}).items():
            marks.setdefault(symbol, Decimal(str(part["price"])))
    return marks


def opening_cash_path(data_dir: Path) -> Path:
    return Path(data_dir) / "account" / OPENING_CASH_FILE


def opening_cash(data_dir: Path) -> Decimal | None:
    path = opening_cash_path(data_dir)
    if not path.is_file():
        return None
    return Decimal(json.loads(path.read_text())["cash"])


def record_opening_cash(data_dir: Path, broker: RecoverableBroker) -> Decimal:
    """The broker's cash when the competition starts: later checks compare movements."""
    cash = broker.cash()
    body = {"cash": str(cash), "at": datetime.now(UTC).isoformat()}
    write_json_atomic(opening_cash_path(data_dir), body)
    return cash


def _set_hold(data_dir: Path, report: RecoveryReport) -> None:
    path = hold_path(data_dir)
    if report.ok:
        path.unlink(missing_ok=True)
        return
    body = {"since": datetime.now(UTC).isoformat(), "problems": report.problems}
    write_json_atomic(path, body)


def held_problems(data_dir: Path) -> list[str] | None:
    """The problems that hold trading, or None when trading is not held."""
    path = hold_path(data_dir)
    if not path.is_file():
        return None
    return list(json.loads(path.read_text()).get("problems") or ["(no detail recorded)"])
