"""The tick pipeline: bars → strategies → validate → net → execute → record.

One engine for live, paper and replay: only the clock, the market-data source and the
broker differ, and they come in through the ports.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from app.domain.models import Bar
from app.domain.netting import plan_blocks
from app.domain.numbers import price_from_float
from app.domain.portfolio import ZERO
from app.domain.validation import TradingRules
from app.engine.books import AccountBook, TeamBook, check_against_broker
from app.engine.controls import KillSwitchReader, OrganiserControls, TeamSwitchReader
from app.engine.corporate import ActionFeed, CorporateBooks
from app.engine.execution import CrashPoint, Execution, no_crash
from app.engine.feed import MarketFeed
from app.engine.leaderboard import assign_ranks
from app.engine.lines import (
    ACCOUNT_LABEL,
    AccountNote,
    MetricsLine,
    SnapshotLine,
    TeamEvent,
)
from app.engine.ports import (
    Broker,
    Ledger,
    MarketData,
    StrategyResult,
    StrategyRunner,
    TeamCall,
    TeamCode,
)
from app.engine.session import SessionClose
from app.engine.signals import TeamSignals

log = logging.getLogger(__name__)
ONE_MINUTE = timedelta(minutes=1)
NEW_YORK = ZoneInfo("America/New_York")


def session_day(minute: datetime) -> date:
    return minute.astimezone(NEW_YORK).date()


class BarHistory(Protocol):
    def append_minute(self, bars: Mapping[str, Bar]) -> None: ...
    def window(self, n: int) -> dict[str, dict[str, Any]]: ...
    def last_closes(self) -> dict[str, float]: ...


@dataclass(slots=True)
class EngineConfig:
    rules: TradingRules = field(default_factory=TradingRules)
    window_minutes: int = 390
    max_consecutive_faults: int = 5
    settle_seconds: float = 0.0  # at the end: how long to wait for open orders (live)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # per team

    @property
    def quantum(self) -> Decimal:
        return Decimal("0.000000001") if self.rules.allow_fractional else Decimal(1)


@dataclass(slots=True)
class TickReport:
    minute: datetime
    bars: int
    intents: int
    blocks: int
    rejections: int
    faults: int


@dataclass(frozen=True, slots=True)
class EngineHooks:
    """What the composition root hands the engine besides its ports, decided up front."""

    on_day_end: Callable[[date], None] | None = None  # after each session (fold, backfill)
    kill_switch: KillSwitchReader | None = None
    team_switches: TeamSwitchReader | None = None
    crash_point: CrashPoint = no_crash  # the crash tests' named points
    # True for the last minute of a session (no bar of t+1 follows in it); None: no sessions
    is_session_close: Callable[[datetime], bool] | None = None
    corporate_actions: ActionFeed | None = None  # dividends and splits due (decision 0030)


class Engine:
    """The tick pipeline over its ports. Life cycle: `warm` (bars from before the start) and
    `resume_at` (after recovery rebuilt the books) before the first `tick`; `finish` after
    the last. The engine closes nothing it was handed: whoever built a resource closes it."""

    def __init__(
        self,
        books: dict[str, TeamBook],
        market: MarketData,
        broker: Broker,
        runner: StrategyRunner,
        ledger: Ledger,
        history: BarHistory,
        config: EngineConfig,
        hooks: EngineHooks = EngineHooks(),
    ) -> None:
        self.books = books
        self.market = market
        self.broker = broker
        self.runner = runner
        self.ledger = ledger
        self.history = history
        self.config = config
        self.account = AccountBook.opening(
            sum((b.portfolio.initial_cash for b in books.values()), ZERO)
        )
        self.execution = Execution(
            books, self.account, broker, ledger, config.quantum, hooks.crash_point
        )
        self.controls = OrganiserControls(
            books, broker, ledger, hooks.kill_switch, hooks.team_switches
        )
        self.prices: dict[str, Decimal] = {}
        self.day: date | None = None
        self.last_minute: datetime | None = None
        self._on_day_end = hooks.on_day_end
        self._is_session_close = hooks.is_session_close or (lambda minute: False)
        self.session = SessionClose(books, broker, self.execution, ledger)
        self.corporate = CorporateBooks(
            books, self.account, broker, ledger, hooks.corporate_actions, config.quantum
        )
        self.signals = TeamSignals(books, runner, history, ledger, config)
        self.feed = MarketFeed(market, ledger, self._take_bars)
        self._settled_day: date | None = None  # the session already closed inside its tick
        self._recorded_bookings: int | None = None  # execution.bookings at the last record
        self._staged: dict[str, TeamCode] = {}

    def warm(self, minutes: Iterable[Mapping[str, Bar]]) -> int:
        """Bars from before the first tick (a live start): into the history and the prices,
        as a tick takes them, with no strategy called; returns the minutes taken."""
        count = 0
        for bars in minutes:
            self._take_bars(bars)
            count += 1
        return count

    def resume_at(self, last_minute: datetime) -> None:
        """Go on after `last_minute`, the last minute an earlier run processed (its books are
        rebuilt by recovery): it is never processed twice, and a new day ends the old one."""
        self.last_minute = last_minute
        self.day = session_day(last_minute)

    def remember_prices(self, marks: Mapping[str, Decimal]) -> None:
        """Reference prices from an earlier run's last snapshots (recovery), for symbols no
        bar has priced yet: a restart that could not fetch its history still has a price."""
        for symbol, price in marks.items():
            self.prices.setdefault(symbol, price)

    def stage_version(self, team_id: str, code: TeamCode) -> None:
        """A new version for a team; it is swapped in at the next tick boundary if it passes."""
        if team_id not in self.books:
            raise ValueError(f"no team {team_id!r} in this competition")
        self._staged[team_id] = code

    def tick(self, minute: datetime) -> TickReport:
        """Process one closed minute; `minute` is the bar's start."""
        if self.last_minute is not None and minute <= self.last_minute:
            raise ValueError(f"tick {minute} is not after {self.last_minute}")
        as_of = minute + ONE_MINUTE  # the bar has closed: this is when the host acts
        day = session_day(minute)
        if self.day is not None and day != self.day:
            self.end_day()
        if day != self.day:  # a session opens: what came due overnight is booked first
            self.corporate.open_session(self.day, day, minute, self.prices)
        else:
            self.corporate.retry(minute, self.prices)  # while the announcements are unread
        self.day, self.last_minute = day, minute
        switch = self.controls.before_bars(as_of)
        bars = self.feed.fetch(minute, as_of)  # {} when missing: not a gap (decision 0028)
        self.broker.on_bars(minute, bars)
        self.execution.handle(self.broker.poll(), as_of)
        swapped = self._swap_staged(minute, as_of) if self._staged else {}
        intents, rejected, faults = self.signals.collect(
            minute,
            as_of,
            self.prices,
            self.execution.working_symbols(),
            self.feed.header(),
            swapped,
        )
        if switch is not None:
            open_orders = self.execution.open_orders
            intents, refused = self.controls.halt(switch, intents, open_orders, as_of)
            rejected += refused
        intents, waiting = self.corporate.hold_signals(intents, as_of)
        rejected += waiting
        closing = self._is_session_close(minute)
        if closing:
            self.session.expire_signals(intents, as_of)
            intents = []
        plans = plan_blocks(minute, intents, self.account.positions(), self.prices)
        self.execution.start(plans, as_of)
        self.execution.handle(self.broker.poll(), as_of)
        if closing:
            self.session.settle(day, as_of)
            self._settled_day = day
        self._record(as_of, day)
        self.ledger.end_tick()
        return TickReport(minute, len(bars), len(intents), len(plans), rejected, faults)

    def _take_bars(self, bars: Mapping[str, Bar]) -> None:
        self.history.append_minute(bars)
        for symbol, bar in bars.items():
            self.prices[symbol] = price_from_float(bar.close)

    def poll_fills(self, now: datetime) -> None:
        """Between ticks: book the fills that already happened, so a tick starts without them.

        The live loop calls this while it waits for the next minute's bars (Alpaca fills a
        market order within milliseconds), which keeps polling off the tick's critical path.
        """
        if self.execution.open_orders == 0:
            return
        self.execution.handle(self.broker.poll(), now)
        self.ledger.end_tick()

    def _swap_staged(self, minute: datetime, as_of: datetime) -> dict[str, StrategyResult]:
        """Swap in staged versions that pass a smoke call on this minute's bars; that call is
        the version's first minute, returned by team to be used as its call (decision 0031)."""
        window = self.history.window(self.config.window_minutes)
        prices = self.history.last_closes()
        first: dict[str, StrategyResult] = {}
        for team_id, code in sorted(self._staged.items()):
            book = self.books[team_id]
            call = TeamCall(team_id, {**book.strategy_header(code.params), **self.feed.header()})
            outcome = self.runner.swap(team_id, code, (minute, window, prices, call))
            if outcome.ok:
                book.version, book.enabled, book.consecutive_faults = code.version, True, 0
                self.config.params[team_id] = code.params
                message = f"version {code.version} is live from this minute"
                kind = "version"
                if outcome.first is not None:
                    first[team_id] = outcome.first
            else:
                message = (
                    f"version {code.version} was not swapped in ({outcome.kind}): {outcome.error}"
                )
                kind = "version_rejected"
            self.ledger.write(TeamEvent.noted(as_of, team_id, kind, message, version=book.version))
        self._staged.clear()
        return first

    def restate(self, force: bool = False) -> None:
        """Snapshots and metrics again when something was booked after the last ones (a
        session settled after its last tick, a live run's last fills, a recovery), so the
        books anyone reads agree with the trades; stamped a second after the last minute."""
        if self.day is None or self.last_minute is None:
            return
        if not force and self._recorded_bookings == self.execution.bookings:
            return
        self._record(self.last_minute + ONE_MINUTE + timedelta(seconds=1), self.day)

    def _record(self, as_of: datetime, day: date) -> None:
        """Snapshots and metrics for every team and for the account."""
        self._recorded_bookings = self.execution.bookings
        for book in self.books.values():
            snapshot = SnapshotLine.marked(book.team_id, day, as_of, book.portfolio, self.prices)
            self.ledger.write(snapshot)
            book.tracker.record_minute(snapshot.equity)
        snapshots = {t: book.tracker.snapshot() for t, book in self.books.items()}
        ranks = assign_ranks({t: m.total_return_pct for t, m in snapshots.items()})
        for team_id, metrics in snapshots.items():
            book = self.books[team_id]
            line = MetricsLine(
                timestamp=as_of,
                owner=team_id,
                rank=ranks[team_id],
                figures=metrics.to_record(),
                strategy_version=book.version,
                status="active" if book.enabled else "disabled",
            )
            self.ledger.write(line)
        account = SnapshotLine.marked(None, day, as_of, self.account.portfolio, self.prices)
        self.ledger.write(account)
        self.account.tracker.record_minute(account.equity)
        figures = self.account.tracker.snapshot().to_record()
        self.ledger.write(MetricsLine(timestamp=as_of, owner=ACCOUNT_LABEL, figures=figures))

    def end_day(self) -> None:
        """The session is over: day orders expire, resting limits expire, the day is folded."""
        if self.day is None or self.last_minute is None:
            return
        if self._settled_day != self.day:  # a replay or run that stopped mid-session
            self.session.settle(self.day, self.last_minute + ONE_MINUTE)
            self.restate()
        self.ledger.end_tick()
        if self._on_day_end is not None:
            self._on_day_end(self.day)

    def finish(self) -> list[str]:
        """End the last day, wait for the last fills and check the books; returns any
        mismatch found (also written to the account's events)."""
        self.end_day()
        self._settle_open_orders()
        self.restate()
        problems = self.check_books()
        for problem in problems:
            log.error(problem)
            self.ledger.write(
                AccountNote(timestamp=self.last_minute, kind="books", message=problem)
            )
        self.ledger.end_tick()
        return problems

    def _settle_open_orders(self) -> None:
        """A live broker fills the last orders within moments: wait for them, within limits."""
        deadline = time.monotonic() + self.config.settle_seconds
        as_of = (self.last_minute or datetime.now(UTC)) + ONE_MINUTE
        while self.execution.open_orders and time.monotonic() < deadline:
            time.sleep(0.25)
            self.execution.handle(self.broker.poll(), as_of)
        self.ledger.end_tick()

    def check_books(self) -> list[str]:
        """The teams' positions must sum to the account's, and the account's to the broker's."""
        if self.execution.open_orders:
            return [
                f"{self.execution.open_orders} order(s) still open at the broker: "
                "`arena run --resume` or `arena reconcile --apply` books them once final"
            ]
        return check_against_broker(self.books, self.account, self.broker.positions())
