"""The ledger's lines, typed: one class per kind of line, each with `to_json` / `from_json`.

Every writer (the engine, recovery, the ledger writer's own notes) makes its lines here and
every reader (recovery, the web service, the CLI) parses them here, so a field is named in
one place. Channels (files under a team's or the account's folder): `trades`, `portfolio`
(one snapshot a minute, a file a day), `metrics`, `events` (what happened to a team:
signals accepted and refused, faults, printed output, versions, orders, expiries,
controls; the account's notes) and the order `journal`. Decision 0022.
"""

from app.engine.lines.books import (
    AccountTradeLine,
    CorporateActionLine,
    MetricsLine,
    PositionPart,
    SnapshotLine,
    TradeLine,
    TradesFileLine,
    parse_trade,
)
from app.engine.lines.codec import ACCOUNT_LABEL, Channel, Line, LineError, Part, derived
from app.engine.lines.events import (
    AccountNote,
    EventKind,
    EventLine,
    LedgerLimit,
    LineNotWritten,
    OtherEvent,
    SignalAccepted,
    SignalRefused,
    TeamEvent,
    parse_event,
)
from app.engine.lines.journal import (
    ActionJournalLine,
    ActionPart,
    AllocationPart,
    AllocationsLine,
    FillPart,
    JournalLine,
    OutcomeLine,
    SubmitLine,
    parse_journal,
)

__all__ = [
    "ACCOUNT_LABEL",
    "AccountNote",
    "AccountTradeLine",
    "ActionJournalLine",
    "ActionPart",
    "AllocationPart",
    "AllocationsLine",
    "Channel",
    "CorporateActionLine",
    "EventKind",
    "EventLine",
    "FillPart",
    "JournalLine",
    "LedgerLimit",
    "Line",
    "LineError",
    "LineNotWritten",
    "MetricsLine",
    "OtherEvent",
    "OutcomeLine",
    "Part",
    "PositionPart",
    "SignalAccepted",
    "SignalRefused",
    "SnapshotLine",
    "SubmitLine",
    "TeamEvent",
    "TradeLine",
    "TradesFileLine",
    "derived",
    "parse_event",
    "parse_journal",
    "parse_trade",
]
