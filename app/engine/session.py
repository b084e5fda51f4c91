"""The session's close: one rule for replay and live (decision 0023).

A signal of minute t may trade only on the bar of t+1 in the same session. At the session's
last minute no such bar exists, so that minute's signals expire (crossings included) with
a message, however late a live tick runs; the session's end is then settled inside that
tick (day orders still open expire, resting limits expire), so the minute's snapshot is the
session's final word and nothing is booked after the close.
"""

from __future__ import annotations

from datetime import date, datetime

from app.domain.bounds import amount
from app.domain.models import Intent, OrderType
from app.domain.portfolio import ZERO
from app.engine.books import TeamBook
from app.engine.execution import Execution
from app.engine.lines import EventKind, TeamEvent
from app.engine.ports import Broker, Ledger


class SessionClose:
    """What expires at the session's close, and the message each team reads."""

    def __init__(
        self, books: dict[str, TeamBook], broker: Broker, execution: Execution, ledger: Ledger
    ) -> None:
        self._books = books
        self._broker = broker
        self._execution = execution
        self._ledger = ledger

    def expire_signals(self, intents: list[Intent], as_of: datetime) -> None:
        """This minute's signals (and limits released in it): no bar follows in the session."""
        for intent in intents:
            message = (
                f"{_described(intent)} expired: it came in the session's last minute (or "
                "outside the regular session), and no bar of the regular session follows "
                "to trade it on"
            )
            book = self._books[intent.team_id]
            self._ledger.write(
                TeamEvent.noted(
                    as_of, book.team_id, EventKind.EXPIRED, message, version=book.version
                )
            )

    def settle(self, day: date, as_of: datetime) -> None:
        """Day orders still open expire at the broker; resting limits expire, each told."""
        self._broker.end_session(day)
        self._execution.handle(self._broker.poll(), as_of)
        for book in self._books.values():
            for intent in book.resting_limits:
                if intent.order_type is OrderType.LIMIT:
                    why = " without reaching its price"
                else:  # a market intent that waited for the host's working order
                    why = f": the host's own order on {intent.symbol} was still working"
                message = f"{_described(intent)} expired at the session's close{why}"
                self._ledger.write(TeamEvent.noted(as_of, book.team_id, "expired", message))
            book.resting_limits = []


def _described(intent: Intent) -> str:
    """`buy 5 AAPL`, or `limit buy 5 AAPL @ 180.5`."""
    what = f"{intent.side.value} {amount(intent.quantity)} {intent.symbol}"
    if intent.order_type is OrderType.LIMIT:
        return f"limit {what} @ {amount(intent.limit_price or ZERO)}"
    return what
