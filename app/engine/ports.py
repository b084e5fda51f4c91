"""The engine's ports: what a market-data source, a broker, a strategy runner need to offer.

Adapters (app.market, app.broker, app.strategies, the sandbox) implement these; the
engine depends on nothing else of theirs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from app.domain.models import Bar, Order, OrderEvent
from app.engine.lines import Line


class BarsUnavailableError(Exception):
    """A market source could not answer for a minute (decision 0028): an error, never a gap.

    The message is the cause, e.g. "HTTP 429 rate limit exceeded (4 attempts in 15.0 s)"."""


class CorporateActionsUnavailableError(Exception):
    """The corporate-action announcements could not be read (decision 0030): trading waits
    for them, since a dividend or split missed at the open cannot be booked exactly later.

    The message is the cause."""


class MarketData(Protocol):
    universe: list[str]

    def bars(self, minute: datetime) -> dict[str, Bar]:
        """The closed bars of `minute` (its start); symbols without a trade are absent (a
        real gap). Raises BarsUnavailableError when the source could not be asked, after
        its own retries within the tick's deadline: the minute is missing, not a gap."""
        ...


class BackfillingMarket(MarketData, Protocol):
    """A source that can fetch minutes it could not fetch before (decision 0028)."""

    def bars_since(self, first: datetime, minute: datetime) -> dict[datetime, dict[str, Bar]]:
        """The bars of every minute from `first` to `minute` (both included) in one request,
        by minute; raises BarsUnavailableError as `bars` does."""
        ...


class Broker(Protocol):
    def submit(self, order: Order) -> OrderEvent:
        """Send an order; the answer is `new` or `rejected` (with the broker's message)."""
        ...

    def submit_many(self, orders: list[Order]) -> list[OrderEvent]:
        """`submit` for each order (concurrently where the broker can), answers in order."""
        ...

    def on_bars(self, minute: datetime, bars: Mapping[str, Bar]) -> None:
        """A new minute of market data (a simulator matches orders; a real broker ignores it)."""
        ...

    def poll(self) -> list[OrderEvent]:
        """Fills and status changes since the last poll, in the order they happened."""
        ...

    def end_session(self, day: date) -> None:
        """The session is over: day orders still open expire."""
        ...

    def positions(self) -> dict[str, Decimal]: ...

    def cancel_all(self) -> None:
        """Cancel every open order (the kill switch); the cancels arrive through poll."""
        ...


@dataclass(frozen=True, slots=True)
class TeamCall:
    """The small per-team header of a strategy call (the bars are shared by all teams)."""

    team_id: str
    header: dict[str, Any]


@dataclass(slots=True)
class StrategyResult:
    """What one strategy call gave back: its output or its fault, and what it printed."""

    team_id: str
    output: object = None
    error: str | None = None
    error_kind: str | None = None  # exception, timeout, memory, crash, load
    printed: str = ""
    duration_ms: float = 0.0
    version: str = ""
    skipped: bool = False  # restarting after a fault: neither a fault nor a good minute


@dataclass(slots=True)
class TeamCode:
    """A version of a team's strategy: its source files (as text) and how to start it."""

    files: dict[str, str]
    entry_point: str
    params: dict[str, Any]
    version: str


@dataclass(frozen=True, slots=True)
class LoadOutcome:
    """Whether a strategy version started; `kind` and `error` say why not. After a hot swap
    that passed, `first` is its smoke call's result: the new version's first minute, made
    on the instance that is kept (decision 0031)."""

    ok: bool
    kind: str = ""
    error: str = ""
    layers: tuple[dict[str, Any], ...] = ()
    first: StrategyResult | None = None


class StrategyRunner(Protocol):
    def run_tick(
        self,
        tick: datetime,
        window: Mapping[str, Mapping[str, Any]],
        current_prices: Mapping[str, float],
        calls: list[TeamCall],
    ) -> dict[str, StrategyResult]:
        """Call every team's strategy for one minute; a fault is a result, never a raise."""
        ...

    def swap(
        self,
        team_id: str,
        code: TeamCode,
        smoke: tuple[datetime, Mapping[str, Any], Mapping[str, float], TeamCall],
    ) -> LoadOutcome:
        """Replace a team's running version, only if the new one passes one smoke call; the
        call is the new version's first minute, its result the outcome's `first`."""
        ...

    def close(self) -> None: ...


class Ledger(Protocol):
    """Where the engine writes its lines (app.ledger.writer.LedgerWriter)."""

    def write(self, line: Line, *, sync: bool = False) -> None:
        """Append a line to its owner's file of its channel (app.engine.lines); a journal
        line written with `sync` is on disk when this returns."""
        ...

    def sync_journal(self) -> None:
        """Make every journal line written so far durable (before orders are sent)."""
        ...

    def end_tick(self) -> None: ...
    def close(self) -> None: ...
