"""A team's events (what its strategy did and what happened to it) and the account's notes.

A team's text enters a line only through these constructors, cut to the caps of
`app.domain.bounds`; the ledger writer caps whole lines too."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from app.domain.bounds import (
    MAX_ERROR_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_PRINTED_CHARS,
    MAX_SIGNAL_CHARS,
    clip,
    signal_copy,
)
from app.domain.models import Intent, OrderType, Rejection, Side
from app.engine.lines.codec import (
    Channel,
    Line,
    LineError,
    layout,
    line_dataclass,
)


class EventKind(StrEnum):
    """The kinds of a team's event lines (faults keep the sandbox's own kinds too)."""

    SIGNAL_ACCEPTED = "signal_accepted"
    SIGNAL_REFUSED = "rejected_signal"
    OUTPUT = "output"
    VERSION = "version"
    VERSION_REJECTED = "version_rejected"
    DISABLED = "disabled"
    EXPIRED = "expired"
    ORDER = "order"
    CONTROL = "control"
    LEDGER_LIMIT = "ledger_limit"
    CORPORATE_ACTION = "corporate_action"


# -- events ----------------------------------------------------------------------------------


@line_dataclass
class TeamEvent(Line):
    """Something that happened to a team that it should read: a fault of its strategy (the
    sandbox's kinds: exception, timeout, memory, crash, load, ...), its printed output, a
    version swapped in or refused, a disabling, an order that did not fill, an expiry."""

    channel: ClassVar[Channel] = Channel.EVENTS
    timestamp: datetime | None
    team_id: str
    kind: str
    message: str = ""
    printed: str = ""
    strategy_version: str = ""

    @property
    def ledger_owner(self) -> str | None:
        return self.team_id

    @classmethod
    def noted(
        cls,
        moment: datetime,
        team_id: str,
        kind: str,
        message: str,
        printed: str = "",
        version: str = "",
    ) -> TeamEvent:
        return cls(
            timestamp=moment,
            team_id=team_id,
            kind=kind,
            message=clip(message, MAX_ERROR_CHARS),
            printed=clip(printed, MAX_PRINTED_CHARS),
            strategy_version=version,
        )


@line_dataclass
class SignalRefused(Line):
    """A signal the host refused, with the reason and a bounded copy of the signal."""

    channel: ClassVar[Channel] = Channel.EVENTS
    timestamp: datetime
    team_id: str
    kind: str = EventKind.SIGNAL_REFUSED.value
    signal_index: int = 0
    message: str = ""
    signal: Any = None
    strategy_version: str = ""

    @property
    def ledger_owner(self) -> str | None:
        return self.team_id

    @classmethod
    def refused(cls, moment: datetime, rejection: Rejection, version: str) -> SignalRefused:
        return cls(
            timestamp=moment,
            team_id=rejection.team_id,
            signal_index=rejection.signal_index,
            message=clip(rejection.reason, MAX_MESSAGE_CHARS),
            signal=_signal(rejection.signal),
            strategy_version=version,
        )


@line_dataclass
class SignalAccepted(Line):
    """A signal that passed every check: it goes to market this minute, or rests as a
    limit order until its price is reached or the session closes."""

    channel: ClassVar[Channel] = Channel.EVENTS
    timestamp: datetime
    team_id: str
    kind: str = EventKind.SIGNAL_ACCEPTED.value
    signal_index: int = 0
    symbol: str
    side: Side
    quantity: Decimal
    order_type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    resting: bool = False
    reason: str = ""
    message: str = ""
    strategy_version: str = ""

    @property
    def ledger_owner(self) -> str | None:
        return self.team_id

    @classmethod
    def accepted(
        cls, moment: datetime, intent: Intent, resting: bool, version: str
    ) -> SignalAccepted:
        what = f"{intent.side.value} {intent.quantity} {intent.symbol}"
        if intent.order_type is OrderType.LIMIT:
            where = "resting until its price" if resting else "marketable now"
            message = f"accepted: limit {what} @ {intent.limit_price}, {where}"
        elif resting:
            message = (
                f"accepted: {what} at market, waiting: the host's own order on "
                f"{intent.symbol} is still working at the broker"
            )
        else:
            message = f"accepted: {what} at market"
        return cls(
            timestamp=moment,
            team_id=intent.team_id,
            signal_index=intent.signal_index,
            symbol=intent.symbol,
            side=intent.side,
            quantity=intent.quantity,
            order_type=intent.order_type,
            limit_price=intent.limit_price,
            resting=resting,
            reason=clip(intent.reason, MAX_MESSAGE_CHARS),
            message=message,
            strategy_version=version,
        )


@line_dataclass
class AccountNote(Line):
    """A note in the account's events: the kill switch, a broker event, a books mismatch."""

    channel: ClassVar[Channel] = Channel.EVENTS
    timestamp: datetime | None
    kind: str
    message: str


@line_dataclass
class LedgerLimit(Line):
    """What a team's per-minute quota of event lines dropped (written by the ledger writer)."""

    channel: ClassVar[Channel] = Channel.EVENTS
    timestamp: datetime | None
    team_id: str
    kind: str = EventKind.LEDGER_LIMIT.value
    message: str
    dropped_lines: int
    dropped_bytes: int

    @property
    def ledger_owner(self) -> str | None:
        return self.team_id


@line_dataclass
class LineNotWritten(Line):
    """What replaces a team's event line over the per-line cap (written by the writer)."""

    channel: ClassVar[Channel] = Channel.EVENTS
    timestamp: datetime | None
    team_id: str | None
    kind: str | None
    message: str
    line_bytes: int

    @property
    def ledger_owner(self) -> str | None:
        return self.team_id


@line_dataclass
class OtherEvent(Line):
    """An events line of a shape this version does not make (kept as it was read)."""

    channel: ClassVar[Channel] = Channel.EVENTS
    record: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return dict(self.record)

    @property
    def kind(self) -> str:
        return str(self.record.get("kind", ""))


def _signal(signal: object) -> str | None:
    """The bounded copy validation made, or one made here: never the team's raw object."""
    if signal is None:
        return None
    if type(signal) is str:
        return clip(signal, MAX_SIGNAL_CHARS)
    return signal_copy(signal)


EventLine = TeamEvent | SignalRefused | SignalAccepted | AccountNote | LedgerLimit
EventLine |= LineNotWritten | OtherEvent


def parse_event(record: Mapping[str, Any]) -> EventLine:
    """An events line (or an old errors line) as its class; an unknown shape is kept whole."""
    cls = _event_class(record)
    if cls is not OtherEvent and set(record) == {name for name, _o, _h in layout(cls)}:
        try:
            return cls.from_json(record)
        except LineError:
            pass
    return OtherEvent(record=dict(record))


def _event_class(record: Mapping[str, Any]) -> type[Line]:
    if "line_bytes" in record:
        return LineNotWritten
    kind = record.get("kind")
    if "team_id" not in record:
        return AccountNote
    if kind == EventKind.SIGNAL_REFUSED:
        return SignalRefused
    if kind == EventKind.SIGNAL_ACCEPTED:
        return SignalAccepted
    if kind == EventKind.LEDGER_LIMIT:
        return LedgerLimit
    return TeamEvent
