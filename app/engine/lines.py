"""The ledger's lines, typed: one class per kind of line, each with `to_json` / `from_json`.

Every writer (the engine, recovery, the ledger writer's own notes) makes its lines here and
every reader (recovery, the web service, the CLI) parses them here, so a field is named in
one place. A team's text enters a line only through these constructors, cut to the caps of
`app.domain.bounds`; the ledger writer caps whole lines too.

A line's fields are its JSON keys, in order; a field marked `ROUTING` is not written (it
says where the line goes), one marked `OMIT_NONE` is left out when None. Values keep their
Python types (Decimal, datetime, enums); the ledger writer encodes them.

Channels (files under a team's or the account's folder): `trades`, `portfolio` (one
snapshot a minute, a file a day), `metrics`, `events` (what happened to a team: signals
accepted and refused, faults, printed output, versions, orders, expiries, controls; the
account's notes) and the order `journal`.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum, StrEnum
from types import NoneType, UnionType
from typing import Any, ClassVar

from app.domain.bounds import (
    MAX_ERROR_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_PRINTED_CHARS,
    MAX_SIGNAL_CHARS,
    clip,
    signal_copy,
)
from app.domain.models import Allocation, Fill, Intent, Leg, Order, OrderType, Rejection, Side
from app.domain.portfolio import FillEffect, Portfolio, Position
from app.domain.timefmt import parse_rfc3339

ZERO = Decimal(0)
DERIVED_QUANTUM = Decimal("0.000001")  # average costs and P&L derived by division
ACCOUNT_LABEL = "account"  # the account's `owner` in snapshots and metrics (a reserved id)
ROUTING = {"json": False}
OMIT_NONE = {"omit_none": True}


class Channel(StrEnum):
    TRADES = "trades"
    PORTFOLIO = "portfolio"
    METRICS = "metrics"
    EVENTS = "events"
    JOURNAL = "journal"


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


def derived(value: Decimal) -> Decimal:
    """Round a figure that came out of a division; cash and quantities stay exact."""
    return value.quantize(DERIVED_QUANTUM).normalize() if value else Decimal(0)


class LineError(ValueError):
    """A ledger record that does not have the shape of its line."""


# -- the codec every line shares ------------------------------------------------------------


class Part:
    """A JSON object with typed fields (a line, or a part nested in one)."""

    __slots__ = ()

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {}
        for name, omit_none, _hint in _layout(type(self)):
            value = getattr(self, name)
            if value is None and omit_none:
                continue
            record[name] = _plain(value)
        return record

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> typing.Self:
        if not isinstance(record, Mapping):
            raise LineError(f"a {cls.__name__} is a JSON object, got {type(record).__name__}")
        values: dict[str, Any] = {}
        for name, _omit_none, hint in _layout(cls):
            if name in record:
                values[name] = _parse(record[name], hint, name)
            elif not _has_default(cls, name):
                raise LineError(f"a {cls.__name__} needs {name!r}")
        return cls(**values)


class Line(Part):
    """A ledger line: a part that knows its channel and its owner (None: the account)."""

    __slots__ = ()
    channel: ClassVar[Channel]

    @property
    def ledger_owner(self) -> str | None:
        return None


_LAYOUTS: dict[type, tuple[tuple[str, bool, Any], ...]] = {}


def _layout(cls: type) -> tuple[tuple[str, bool, Any], ...]:
    """(name, omit when None, type) of each JSON field, in order; computed once per class."""
    layout = _LAYOUTS.get(cls)
    if layout is None:
        hints = typing.get_type_hints(cls)
        layout = _LAYOUTS[cls] = tuple(
            (f.name, bool(f.metadata.get("omit_none")), hints[f.name])
            for f in dataclasses.fields(cls)
            if f.metadata.get("json", True)
        )
    return layout


def _has_default(cls: type, name: str) -> bool:
    field = next(f for f in dataclasses.fields(cls) if f.name == name)
    return (
        field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING
    )


def _plain(value: Any) -> Any:
    if isinstance(value, Part):
        return value.to_json()
    if type(value) is list:
        return [_plain(item) for item in value]
    if type(value) is dict:
        return {key: _plain(item) for key, item in value.items()}
    return value


def _parse(value: Any, hint: Any, name: str) -> Any:
    """`value` as read from JSON, made the field's type."""
    try:
        return _convert(value, hint)
    except (ValueError, TypeError, ArithmeticError) as error:
        raise LineError(f"{name}: {error}") from error


def _convert(value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is UnionType or origin is typing.Union:
        options = [h for h in typing.get_args(hint) if h is not NoneType]
        return None if value is None else _convert(value, options[0])
    if origin is list:
        (item,) = typing.get_args(hint)
        return [_convert(v, item) for v in value]
    if origin is dict:
        _key, item = typing.get_args(hint)
        return {str(k): _convert(v, item) for k, v in value.items()}
    if hint is Any or hint is object:
        return value
    if isinstance(hint, type) and issubclass(hint, Part):
        return hint.from_json(value)
    if hint is Decimal:
        return Decimal(str(value))
    if hint is datetime:
        return value if isinstance(value, datetime) else parse_rfc3339(str(value))
    if hint is date:
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    if hint in (str, int, bool, float):
        if not isinstance(value, hint):
            raise TypeError(f"expected {hint.__name__}, got {type(value).__name__}")
        return value
    raise TypeError(f"no reader for {hint!r}")


def _dataclass(cls: type) -> type:
    return dataclasses.dataclass(frozen=True, slots=True, kw_only=True)(cls)


# -- trades ----------------------------------------------------------------------------------


@_dataclass
class TradeLine(Line):
    """One allocated fill of a team, with its book after it."""

    channel: ClassVar[Channel] = Channel.TRADES
    timestamp: datetime
    tick: datetime
    team_id: str
    trade_id: str
    parent_client_order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    notional: Decimal = ZERO
    fee: Decimal = ZERO
    crossed: bool = False
    realized_pnl: Decimal | None = None
    position_after: Decimal = ZERO
    cash_after: Decimal = ZERO
    strategy_version: str = ""

    @property
    def ledger_owner(self) -> str | None:
        return self.team_id

    @classmethod
    def booked(
        cls,
        allocation: Allocation,
        effect: FillEffect,
        book: Portfolio,
        tick: datetime,
        version: str,
    ) -> TradeLine:
        return cls(
            timestamp=allocation.timestamp,
            tick=tick,
            team_id=allocation.team_id,
            trade_id=allocation.trade_id,
            parent_client_order_id=allocation.parent_client_order_id,
            symbol=allocation.symbol,
            side=allocation.side,
            quantity=allocation.quantity,
            price=allocation.price,
            notional=effect.notional,
            fee=allocation.fee,
            crossed=allocation.crossed,
            realized_pnl=None if effect.realized_pnl is None else derived(effect.realized_pnl),
            position_after=book.quantity(allocation.symbol),
            cash_after=book.cash,
            strategy_version=version,
        )

    def allocation(self) -> Allocation:
        return Allocation(
            team_id=self.team_id,
            trade_id=self.trade_id,
            parent_client_order_id=self.parent_client_order_id,
            symbol=self.symbol,
            side=self.side,
            quantity=self.quantity,
            price=self.price,
            fee=self.fee,
            timestamp=self.timestamp,
            crossed=self.crossed,
        )


@_dataclass
class AccountTradeLine(Line):
    """One fill of the whole account at the broker, and the teams it was for."""

    channel: ClassVar[Channel] = Channel.TRADES
    timestamp: datetime
    client_order_id: str
    execution_id: str = ""
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    notional: Decimal = ZERO
    fee: Decimal = ZERO
    teams: list[str] = dataclasses.field(default_factory=list)

    @classmethod
    def booked(cls, fill: Fill, effect: FillEffect, teams: list[str]) -> AccountTradeLine:
        return cls(
            timestamp=fill.timestamp,
            client_order_id=fill.client_order_id,
            execution_id=fill.execution_id,
            symbol=fill.symbol,
            side=fill.side,
            quantity=fill.quantity,
            price=fill.price,
            notional=effect.notional,
            fee=fill.fee,
            teams=teams,
        )

    def fill(self) -> Fill:
        return Fill(
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            side=self.side,
            quantity=self.quantity,
            price=self.price,
            timestamp=self.timestamp,
            fee=self.fee,
            execution_id=self.execution_id,
        )


# -- snapshots and metrics -------------------------------------------------------------------


@_dataclass
class PositionPart(Part):
    quantity: Decimal
    avg_cost: Decimal
    price: Decimal
    market_value: Decimal
    unrealized_pnl: Decimal

    @classmethod
    def marked(cls, position: Position, price: Decimal | None) -> PositionPart:
        mark = price if price is not None else position.avg_cost
        return cls(
            quantity=position.quantity,
            avg_cost=derived(position.avg_cost),
            price=mark,
            market_value=position.market_value(mark),
            unrealized_pnl=derived(position.unrealized_pnl(mark)),
        )


@_dataclass
class SnapshotLine(Line):
    """An owner's book at the end of a minute, marked at the minute's prices."""

    channel: ClassVar[Channel] = Channel.PORTFOLIO
    day: date | None = dataclasses.field(default=None, metadata=ROUTING)  # its file's session
    timestamp: datetime
    owner: str
    cash: Decimal
    market_value: Decimal
    equity: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees: Decimal
    positions: dict[str, PositionPart] = dataclasses.field(default_factory=dict)

    @property
    def ledger_owner(self) -> str | None:
        return None if self.owner == ACCOUNT_LABEL else self.owner

    @classmethod
    def marked(
        cls,
        owner: str | None,
        day: date,
        moment: datetime,
        book: Portfolio,
        prices: Mapping[str, Decimal],
    ) -> SnapshotLine:
        market_value = book.market_value(prices)
        return cls(
            day=day,
            timestamp=moment,
            owner=ACCOUNT_LABEL if owner is None else owner,
            cash=book.cash,
            market_value=market_value,
            equity=book.cash + market_value,
            realized_pnl=derived(book.realized_pnl),
            unrealized_pnl=derived(book.unrealized_pnl(prices)),
            fees=book.fees,
            positions={
                symbol: PositionPart.marked(position, prices.get(symbol))
                for symbol, position in sorted(book.positions.items())
            },
        )


@_dataclass
class MetricsLine(Line):
    """A minute's performance figures; a team's also say which version ran and whether it
    trades, so the leaderboard and a team's status read one line per team."""

    channel: ClassVar[Channel] = Channel.METRICS
    timestamp: datetime
    owner: str
    rank: int | None = None
    figures: dict[str, Any] = dataclasses.field(default_factory=dict)  # flat in the JSON
    strategy_version: str | None = dataclasses.field(default=None, metadata=OMIT_NONE)
    status: str | None = dataclasses.field(default=None, metadata=OMIT_NONE)

    @property
    def ledger_owner(self) -> str | None:
        return None if self.owner == ACCOUNT_LABEL else self.owner

    def to_json(self) -> dict[str, Any]:
        record = {"timestamp": self.timestamp, "owner": self.owner, "rank": self.rank}
        record.update(self.figures)
        if self.strategy_version is not None:
            record["strategy_version"] = self.strategy_version
        if self.status is not None:
            record["status"] = self.status
        return record

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> MetricsLine:
        named = ("timestamp", "owner", "rank", "strategy_version", "status")
        return cls(
            timestamp=_parse(record["timestamp"], datetime, "timestamp"),
            owner=str(record["owner"]),
            rank=record.get("rank"),
            figures={k: v for k, v in record.items() if k not in named},
            strategy_version=record.get("strategy_version"),
            status=record.get("status"),
        )


# -- events ----------------------------------------------------------------------------------


@_dataclass
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


@_dataclass
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


@_dataclass
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


@_dataclass
class AccountNote(Line):
    """A note in the account's events: the kill switch, a broker event, a books mismatch."""

    channel: ClassVar[Channel] = Channel.EVENTS
    timestamp: datetime | None
    kind: str
    message: str


@_dataclass
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


@_dataclass
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


@_dataclass
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
    if cls is not OtherEvent and set(record) == {name for name, _o, _h in _layout(cls)}:
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


# -- the order journal -----------------------------------------------------------------------


@_dataclass
class SubmitLine(Line):
    """Written, and fsynced, before an order goes to the broker."""

    channel: ClassVar[Channel] = Channel.JOURNAL
    timestamp: datetime
    event: str = "submit"
    client_order_id: str
    tick: datetime
    symbol: str
    leg: Leg
    side: Side
    quantity: Decimal
    order_type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    allocations: dict[str, Decimal] = dataclasses.field(default_factory=dict)

    @classmethod
    def before(
        cls, moment: datetime, order: Order, tick: datetime, leg: Leg, waiting: dict
    ) -> SubmitLine:
        return cls(
            timestamp=moment,
            client_order_id=order.client_order_id,
            tick=tick,
            symbol=order.symbol,
            leg=leg,
            side=order.side,
            quantity=order.quantity,
            order_type=order.order_type,
            limit_price=order.limit_price,
            allocations=waiting,
        )

    def order(self) -> Order:
        return Order(
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            side=self.side,
            quantity=self.quantity,
            submitted_at=self.timestamp,
        )


@_dataclass
class OutcomeLine(Line):
    """An order's final state at the broker (not written ahead: the broker can be asked)."""

    channel: ClassVar[Channel] = Channel.JOURNAL
    timestamp: datetime
    event: str = "outcome"
    client_order_id: str
    status: str
    filled_qty: Decimal
    avg_price: Decimal | None = None
    message: str = ""


@_dataclass
class AllocationPart(Part):
    team_id: str
    trade_id: str
    parent_client_order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    fee: Decimal = ZERO
    timestamp: datetime
    crossed: bool = False
    strategy_version: str = ""

    @classmethod
    def of(cls, allocation: Allocation, version: str) -> AllocationPart:
        return cls(
            team_id=allocation.team_id,
            trade_id=allocation.trade_id,
            parent_client_order_id=allocation.parent_client_order_id,
            symbol=allocation.symbol,
            side=allocation.side,
            quantity=allocation.quantity,
            price=allocation.price,
            fee=allocation.fee,
            timestamp=allocation.timestamp,
            crossed=allocation.crossed,
            strategy_version=version,
        )

    def allocation(self) -> Allocation:
        return Allocation(
            team_id=self.team_id,
            trade_id=self.trade_id,
            parent_client_order_id=self.parent_client_order_id,
            symbol=self.symbol,
            side=self.side,
            quantity=self.quantity,
            price=self.price,
            fee=self.fee,
            timestamp=self.timestamp,
            crossed=self.crossed,
        )


@_dataclass
class FillPart(Part):
    execution_id: str = ""
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    fee: Decimal = ZERO
    timestamp: datetime

    @classmethod
    def of(cls, fill: Fill) -> FillPart:
        return cls(
            execution_id=fill.execution_id,
            symbol=fill.symbol,
            side=fill.side,
            quantity=fill.quantity,
            price=fill.price,
            fee=fill.fee,
            timestamp=fill.timestamp,
        )

    def fill(self, client_order_id: str) -> Fill:
        return Fill(
            client_order_id=client_order_id,
            symbol=self.symbol,
            side=self.side,
            quantity=self.quantity,
            price=self.price,
            timestamp=self.timestamp,
            fee=self.fee,
            execution_id=self.execution_id,
        )


@_dataclass
class AllocationsLine(Line):
    """Written before a fill (event "fill") or a crossing (event "crossed") is booked.

    It holds everything needed to book it again: after a crash between this line and the
    ledger lines, recovery writes the lines that are missing (by trade ID), and no others.
    """

    channel: ClassVar[Channel] = Channel.JOURNAL
    timestamp: datetime
    event: str
    tick: datetime
    leg: Leg | None = None
    allocations: list[AllocationPart] = dataclasses.field(default_factory=list)
    client_order_id: str | None = dataclasses.field(default=None, metadata=OMIT_NONE)
    fill: FillPart | None = dataclasses.field(default=None, metadata=OMIT_NONE)

    @classmethod
    def before(
        cls,
        moment: datetime,
        event: str,
        tick: datetime,
        allocations: list[Allocation],
        versions: Mapping[str, str],
        fill: Fill | None = None,
        leg: Leg | None = None,
    ) -> AllocationsLine:
        return cls(
            timestamp=moment,
            event=event,
            tick=tick,
            leg=leg,
            allocations=[AllocationPart.of(a, versions.get(a.team_id, "")) for a in allocations],
            client_order_id=None if fill is None else fill.client_order_id,
            fill=None if fill is None else FillPart.of(fill),
        )

    def broker_fill(self) -> Fill | None:
        if self.fill is None or self.client_order_id is None:
            return None
        return self.fill.fill(self.client_order_id)


JournalLine = SubmitLine | OutcomeLine | AllocationsLine
_JOURNAL = {"submit": SubmitLine, "outcome": OutcomeLine}


def parse_journal(record: Mapping[str, Any]) -> JournalLine | None:
    """A journal line as its class; None for an event this version does not know."""
    event = record.get("event")
    if event in ("fill", "crossed"):
        return AllocationsLine.from_json(record)
    cls = _JOURNAL.get(str(event))
    return None if cls is None else cls.from_json(record)


def parse_trade(record: Mapping[str, Any]) -> TradeLine | AccountTradeLine:
    """A trades line: a team's allocation, or (with `execution_id`) an account fill."""
    if "trade_id" in record:
        return TradeLine.from_json(record)
    return AccountTradeLine.from_json(record)
