"""The organiser's controls as the engine sees them: team switches and the kill switch.

The kill switch is a mode and when it was thrown:

- `block`: no new orders; strategies still run, and every signal is refused with the reason.
- `cancel`: block, and cancel every open order at the broker once.
- `flatten`: cancel, then close every team's positions through the normal pipeline (so
  the fills are allocated back to the teams), then block.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from app.domain.models import Intent, Rejection
from app.engine.books import TeamBook, flattening_intents
from app.engine.lines import AccountNote, SignalRefused, TeamEvent
from app.engine.ports import Broker, Ledger

log = logging.getLogger(__name__)


class KillMode(StrEnum):
    BLOCK = "block"
    CANCEL = "cancel"
    FLATTEN = "flatten"


@dataclass(frozen=True, slots=True)
class KillSwitch:
    mode: KillMode
    since: datetime  # a new `since` is a new activation: cancel and flatten act once each


KillSwitchReader = Callable[[], KillSwitch | None]
TeamSwitchReader = Callable[[], dict[str, tuple[bool, str]]]  # team → (enabled, since)


class OrganiserControls:
    """The organiser's switches at each tick: teams enabled or disabled, and the kill switch.

    Each decision acts once (a team switch by its `since`, a kill switch activation by its
    `since`); a thrown switch refuses every signal of the minute, and a flatten sends the
    closing orders once the cancels are final.
    """

    def __init__(
        self,
        books: dict[str, TeamBook],
        broker: Broker,
        ledger: Ledger,
        kill_switch: KillSwitchReader | None = None,
        team_switches: TeamSwitchReader | None = None,
    ) -> None:
        self._books = books
        self._broker = broker
        self._ledger = ledger
        self._kill_switch = kill_switch or (lambda: None)
        self._team_switches = team_switches or dict
        self._kill_seen: datetime | None = None  # the activation already acted on
        self._flatten_pending = False
        self._switches_seen: dict[str, str] = {}

    def before_bars(self, as_of: datetime) -> KillSwitch | None:
        """Apply team switches and a new kill switch activation; the switch now in force."""
        self._apply_team_switches(as_of)
        switch = self._kill_switch()
        if switch is not None and switch.since != self._kill_seen:
            self._throw(switch, as_of)  # before the broker sees this minute's bars
        return switch

    def halt(
        self, switch: KillSwitch, intents: list[Intent], open_orders: int, as_of: datetime
    ) -> tuple[list[Intent], int]:
        """The kill switch is thrown: refuse every signal; flatten once the cancels are done."""
        reason = f"trading is halted by the organiser (kill switch: {switch.mode.value})"
        for intent in intents:
            rejection = Rejection(intent.team_id, intent.signal_index, reason)
            book = self._books[intent.team_id]
            self._ledger.write(SignalRefused.refused(as_of, rejection, book.version))
        if self._flatten_pending and open_orders == 0:
            # After the cancels are final: no opposite-side orders while one is open.
            self._flatten_pending = False
            closing = flattening_intents(self._books.values())
            self._note(as_of, f"flattening: {len(closing)} closing order(s) for teams")
            return closing, len(intents)
        return [], len(intents)

    def _apply_team_switches(self, as_of: datetime) -> None:
        """The organiser's enable/disable decisions, each applied once."""
        for team_id, (enabled, since) in self._team_switches().items():
            book = self._books.get(team_id)
            if book is None or self._switches_seen.get(team_id) == since:
                continue
            self._switches_seen[team_id] = since
            book.enabled, book.consecutive_faults = enabled, 0
            message = f"{'enabled' if enabled else 'disabled'} by the organiser"
            kind = "version" if enabled else "disabled"
            self._ledger.write(TeamEvent.noted(as_of, team_id, kind, message))

    def _throw(self, switch: KillSwitch, as_of: datetime) -> None:
        """A new activation: cancel (cancel, flatten) and arm the flatten, once."""
        self._kill_seen = switch.since
        self._note(as_of, f"kill switch thrown: {switch.mode.value}")
        if switch.mode in (KillMode.CANCEL, KillMode.FLATTEN):
            self._broker.cancel_all()
            for book in self._books.values():
                book.resting_limits = []
        self._flatten_pending = switch.mode is KillMode.FLATTEN

    def _note(self, moment: datetime, message: str) -> None:
        log.warning(message)
        self._ledger.write(AccountNote(timestamp=moment, kind="control", message=message))
