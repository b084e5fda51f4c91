"""A minute's strategy calls and what becomes of each team's signals: checked, budgeted,
accepted (to market now, or resting as a limit) or refused, each with its event line; a
fault counted, and a team that keeps failing disabled."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from app.domain.limits import MAX_RESTING_PER_TEAM, is_marketable, release_marketable
from app.domain.models import Intent, Rejection
from app.domain.validation import apply_budget, parse_signals
from app.engine.books import TeamBook
from app.engine.lines import SignalAccepted, SignalRefused, TeamEvent
from app.engine.ports import Ledger, StrategyResult, StrategyRunner, TeamCall

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _TeamChoice:
    """What became of one team's signals this minute."""

    now: list[Intent]  # to market this minute (its own and released limits)
    refused: list[Rejection]
    accepted: list[Intent]  # this minute's own signals that passed, in the team's order
    resting: list[Intent]  # limits placed to rest this minute


class TeamSignals:
    """Calls every enabled team for a minute and turns what each returned into intents."""

    def __init__(
        self,
        books: dict[str, TeamBook],
        runner: StrategyRunner,
        history: Any,
        ledger: Ledger,
        config: Any,
    ) -> None:
        self._books = books
        self._runner = runner
        self._history = history
        self._ledger = ledger
        self._config = config
        self._prices: dict[str, Decimal] = {}
        self._working: set[str] = set()
        self._data: Mapping[str, Any] = {}

    def collect(
        self,
        minute: datetime,
        as_of: datetime,
        prices: dict[str, Decimal],
        working: set[str] = frozenset(),  # type: ignore[assignment]
        data: Mapping[str, Any] | None = None,
        called: Mapping[str, StrategyResult] | None = None,
    ) -> tuple[list[Intent], int, int]:
        """Every enabled team's call for the minute, its signals checked and its lines written;
        `data` joins every team's header (what is known of the minute's bars, decision 0028);
        `called` holds the teams already called this minute (a new version's smoke call,
        decision 0031): their results are used, and they are not called again."""
        self._prices, self._working, self._data = prices, working, data or {}
        results = {**self._call_teams(minute, called or {}), **(called or {})}
        intents: list[Intent] = []
        rejected = faults = 0
        for book in sorted(self._books.values(), key=lambda b: b.team_id):
            result = results.get(book.team_id)
            if result is not None and result.error:
                faults += 1
            choice = self._team_intents(book, result, as_of)
            intents.extend(choice.now)
            rejected += len(choice.refused)
            for rejection in choice.refused:
                self._ledger.write(SignalRefused.refused(as_of, rejection, book.version))
            for intent in choice.accepted:
                resting = any(intent is r for r in choice.resting)
                self._ledger.write(SignalAccepted.accepted(as_of, intent, resting, book.version))
        return intents, rejected, faults

    def _call_teams(
        self, minute: datetime, called: Mapping[str, StrategyResult]
    ) -> dict[str, StrategyResult]:
        calls = [
            TeamCall(
                b.team_id,
                {**b.strategy_header(self._config.params.get(b.team_id, {})), **self._data},
            )
            for b in self._books.values()
            if b.enabled and b.team_id not in called
        ]
        if not calls:
            return {}
        window = self._history.window(self._config.window_minutes)
        return self._runner.run_tick(minute, window, self._history.last_closes(), calls)

    def _team_intents(
        self, book: TeamBook, result: StrategyResult | None, as_of: datetime
    ) -> _TeamChoice:
        released, book.resting_limits = release_marketable(book.resting_limits, self._prices)
        parsed: list[Intent] = []
        refusals: list[Rejection] = []
        if result is not None:
            self._note_result(book, result, as_of)
            if result.error is None:
                parsed, refusals = self._parse_output(book, result.output)
        # Resting limits are checked on placement too, so a team hears at once when it
        # could not afford one; the check is repeated when a limit is released.
        accepted, refused = apply_budget(
            released + parsed, book.exposure, self._prices, self._config.rules
        )
        # A symbol on which the host's own order is still working waits (decision 0025).
        now = [i for i in accepted if self._goes_now(i)]
        placed: list[Intent] = []
        for intent in (i for i in accepted if not self._goes_now(i)):
            if len(book.resting_limits) >= MAX_RESTING_PER_TEAM:
                reason = f"too many resting limit orders (at most {MAX_RESTING_PER_TEAM})"
                refused.append(Rejection(book.team_id, intent.signal_index, reason))
            else:
                book.resting_limits.append(intent)
                placed.append(intent)
        # This minute's own signals that passed (a released limit was accepted when placed).
        new = [i for i in now + placed if any(i is p for p in parsed)]
        new.sort(key=lambda i: i.signal_index)
        return _TeamChoice(now, refusals + refused, new, placed)

    def _goes_now(self, intent: Intent) -> bool:
        return intent.symbol not in self._working and is_marketable(
            intent, self._prices[intent.symbol]
        )

    def _parse_output(self, book: TeamBook, output: object) -> tuple[list[Intent], list[Rejection]]:
        """The team's signals, checked; a failure of the checks on what a team returned is
        that team's refusal for the minute, never an exception in the tick (and logged, as
        it points at a gap in the checks)."""
        try:
            return parse_signals(book.team_id, output, self._prices, self._config.rules)
        except Exception as error:
            log.exception("reading team %s's signals failed", book.team_id)
            reason = f"the host could not read this minute's signals ({type(error).__name__})"
            return [], [Rejection(book.team_id, 0, reason)]

    def _note_result(self, book: TeamBook, result: StrategyResult, as_of: datetime) -> None:
        """Record a fault or printed output; disable a team that keeps failing."""
        if result.printed:
            self._ledger.write(
                TeamEvent.noted(as_of, book.team_id, "output", "", result.printed, book.version)
            )
        if result.skipped:
            return  # its worker is restarting after a fault: no call was made
        if result.error is None:
            book.consecutive_faults = 0
            return
        book.consecutive_faults += 1
        kind = result.error_kind or "exception"
        self._ledger.write(
            TeamEvent.noted(as_of, book.team_id, kind, result.error, version=book.version)
        )
        if book.consecutive_faults >= self._config.max_consecutive_faults:
            book.enabled = False
            message = (
                f"disabled after {book.consecutive_faults} faults in a row; "
                "upload a fixed version to trade again"
            )
            self._ledger.write(TeamEvent.noted(as_of, book.team_id, "disabled", message))
