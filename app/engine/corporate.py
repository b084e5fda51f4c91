"""Corporate actions at a session's open: each dividend or split whose ex-date has come is
booked into every team's book that holds the symbol and into the account's, each with its
ledger line and a note to the team; a simulated broker applies it to its own positions
(a real one does so itself). Decision 0030."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from app.domain.corporate import (
    ActionKind,
    CorporateAction,
    HoldingChange,
    account_change,
    apply_change,
    price_in_lieu,
    team_changes,
)
from app.domain.models import Intent, Rejection
from app.domain.portfolio import Portfolio
from app.engine.books import AccountBook, TeamBook
from app.engine.lines import (
    ACCOUNT_LABEL,
    AccountNote,
    ActionJournalLine,
    CorporateActionLine,
    EventKind,
    SignalRefused,
    TeamEvent,
)
from app.engine.ports import Broker, CorporateActionsUnavailableError, Ledger

# The actions with `after` < ex-date <= `through`, in any order.
ActionFeed = Callable[[date, date], list[CorporateAction]]
WAITING = "corporate_actions_waiting"


class CorporateBooks:
    """Applies the feed's actions once each, at the first minute of their ex-date's session
    (or of the first session after it, when the run was not trading that day). When the
    feed cannot be read, every signal is refused until it can (the holdings then are
    still the open's, so the actions book exactly), and it is asked again each tick."""

    def __init__(
        self,
        books: dict[str, TeamBook],
        account: AccountBook,
        broker: Broker,
        ledger: Ledger,
        feed: ActionFeed | None,
        share_unit: Decimal,
    ) -> None:
        self.books = books
        self.account = account
        self.broker = broker
        self.ledger = ledger
        self.feed = feed
        self.share_unit = share_unit
        self.applied: set[str] = set()  # action ids booked (recovery adds what it read)
        self.waiting: tuple[date, date, str] | None = None  # unread (after, through, cause)
        self.account_lines: list[CorporateActionLine] = []  # booked by this run

    def mark_booked(self, action_ids: Iterable[str]) -> None:
        """Actions the ledgers already hold (recovery): never booked again."""
        self.applied.update(action_ids)

    def open_session(
        self, previous: date | None, day: date, moment: datetime, prices: dict[str, Decimal]
    ) -> list[CorporateAction]:
        """Book the actions that came due since the `previous` session (a first session:
        those of its own day); returns them. A split moves the reference price too."""
        if self.feed is None:
            return []
        after = previous if previous is not None else day - timedelta(days=1)
        if self.waiting is not None:  # still unread from an earlier session
            after = min(after, self.waiting[0])
        return self._read_and_book(after, day, moment, prices)

    def retry(self, moment: datetime, prices: dict[str, Decimal]) -> list[CorporateAction]:
        """While the announcements are unread: ask again (each tick)."""
        if self.waiting is None:
            return []
        after, through, _cause = self.waiting
        return self._read_and_book(after, through, moment, prices)

    def hold_signals(self, intents: list[Intent], as_of: datetime) -> tuple[list[Intent], int]:
        """While the announcements are unread, every signal is refused with the reason."""
        if self.waiting is None or not intents:
            return intents, 0
        reason = (
            "trading waits for today's corporate actions: the announcements could not be "
            f"read ({self.waiting[2]}); it resumes at the first minute they can"
        )
        for intent in intents:
            rejection = Rejection(intent.team_id, intent.signal_index, reason)
            version = self.books[intent.team_id].version
            self.ledger.write(SignalRefused.refused(as_of, rejection, version))
        return [], len(intents)

    def _read_and_book(
        self, after: date, through: date, moment: datetime, prices: dict[str, Decimal]
    ) -> list[CorporateAction]:
        assert self.feed is not None
        try:
            actions = self.feed(after, through)
        except CorporateActionsUnavailableError as error:
            if self.waiting is None:
                message = (
                    f"corporate actions {after}..{through} could not be read ({error}): "
                    "every signal is refused until they can be"
                )
                self.ledger.write(AccountNote(timestamp=moment, kind=WAITING, message=message))
            self.waiting = (after, through, str(error))
            return []
        if self.waiting is not None:
            note = f"corporate actions {after}..{through} read: trading resumes"
            self.ledger.write(AccountNote(timestamp=moment, kind=WAITING, message=note))
            self.waiting = None
        booked = []
        for action in sorted(actions, key=lambda a: (a.ex_date, a.symbol, a.kind)):
            if action.action_id in self.applied:
                continue
            self.applied.add(action.action_id)
            if self._book(action, moment, prices):
                booked.append(action)
        return booked

    def _book(self, action: CorporateAction, moment: datetime, prices: dict[str, Decimal]) -> bool:
        """Journal every owner's change (fsynced), then book them: the teams', the
        account's last (even when the teams net to nothing), then a simulated broker's."""
        symbol = action.symbol
        holdings = {t: b.portfolio.quantity(symbol) for t, b in self.books.items()}
        held = self.account.portfolio.quantity(symbol)
        if held == 0 and not any(holdings.values()):
            return False
        price = price_in_lieu(action, self._last_price(symbol, prices, moment))
        change = account_change(action, held, price, self.share_unit)
        parts = team_changes(action, change, holdings, price, self.share_unit)
        journal = ActionJournalLine.before(moment, action, price, {**parts, ACCOUNT_LABEL: change})
        self.ledger.write(journal, sync=True)
        for team_id, part in parts.items():
            book_action(self.books[team_id].portfolio, team_id, self.ledger, journal, part)
            message = f"{action.describe()}: {_effect(action, part)}"
            kind = EventKind.CORPORATE_ACTION.value
            self.ledger.write(TeamEvent.noted(moment, team_id, kind, message))
        line = book_action(self.account.portfolio, None, self.ledger, journal, change)
        self.account_lines.append(line)
        apply_at_broker = getattr(self.broker, "apply_corporate_action", None)
        if apply_at_broker is not None:  # a simulated broker; a real one applies it itself
            apply_at_broker(action, price)
        if action.kind is ActionKind.SPLIT:
            prices[symbol] = price
        return True

    def _last_price(self, symbol: str, prices: Mapping[str, Decimal], moment: datetime) -> Decimal:
        """The last close; with none known (a restart that could not fetch its history), a
        holder's average cost, said in the account's events."""
        if symbol in prices:
            return prices[symbol]
        holders = [self.account.portfolio, *(b.portfolio for b in self.books.values())]
        cost = next(p.positions[symbol].avg_cost for p in holders if symbol in p.positions)
        message = f"{symbol}: no last price known; the average cost {cost} stands in for it"
        self.ledger.write(AccountNote(timestamp=moment, kind="corporate_action", message=message))
        return cost


def book_action(
    book: Portfolio,
    team_id: str | None,
    ledger: Ledger,
    journal: ActionJournalLine,
    change: HoldingChange,
) -> CorporateActionLine:
    """One owner's change into its book, with its line: live, or redone by recovery."""
    action = journal.action()
    realized = apply_change(book, action, change)
    moment, price = journal.timestamp, journal.price_in_lieu
    line = CorporateActionLine.booked(team_id, moment, action, change, book, price, realized)
    ledger.write(line)
    return line


def _effect(action: CorporateAction, change: HoldingChange) -> str:
    if action.kind is ActionKind.DIVIDEND:
        verb = "received" if change.cash >= 0 else "paid"
        return f"{change.quantity_before} shares, {verb} {abs(change.cash)}"
    lieu = f", cash in lieu {change.cash}" if change.cash else ""
    return f"{change.quantity_before} shares became {change.quantity_after}{lieu}"


@dataclass(slots=True)
class BrokerMatch:
    """The account's corporate-action lines against the broker's activities."""

    pending: Decimal = Decimal(0)  # booked at the ex-date, not paid by the broker yet
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def match_broker_activities(
    lines: Iterable[CorporateActionLine], activities: Iterable[Mapping[str, Any]], since: date
) -> BrokerMatch:
    """Each booked action with cash must be a DIV or SPLIT activity of the same symbol and
    amount on or after its ex-date; until the broker pays, its cash is pending. An activity
    since `since` (the competition's start) that the books lack is a problem."""
    match = BrokerMatch()
    unclaimed = [a for a in activities if str(a.get("date", ""))[:10] >= since.isoformat()]
    for line in lines:
        if line.cash == 0 and line.kind is ActionKind.DIVIDEND:
            continue
        kind = "DIV" if line.kind is ActionKind.DIVIDEND else "SPLIT"
        found = next((a for a in unclaimed if _same(a, line, kind)), None)
        if found is not None:
            unclaimed.remove(found)
        elif line.cash:
            match.pending += line.cash
            match.notes.append(f"{line.action_id}: {line.cash} booked, not paid by the broker yet")
    for activity in unclaimed:
        match.problems.append(
            f"the broker shows {activity.get('activity_type')} {activity.get('symbol')} "
            f"{activity.get('net_amount')} on {activity.get('date')}, which the books lack"
        )
    return match


def _same(activity: Mapping[str, Any], line: CorporateActionLine, kind: str) -> bool:
    try:
        amount = Decimal(str(activity.get("net_amount", "")))
    except ArithmeticError:
        return False
    return (
        activity.get("activity_type") == kind
        and activity.get("symbol") == line.symbol
        and str(activity.get("date", ""))[:10] >= line.ex_date.isoformat()
        and amount == line.cash
    )
