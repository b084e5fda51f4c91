"""The emulator's corporate actions (decision 0030): announced on Alpaca's market-data route
(`GET /v1/corporate-actions`), applied to the account at the open of the ex-date's session
(a dividend paid that day, a split with cash in lieu of the fraction), and listed as
account activities (`GET /v2/account/activities[/{type}]`, types DIV and SPLIT).

Alpaca itself pays a dividend on its payable date; the emulator pays it at the ex-date so a
replayed day shows it. The host books at the ex-date either way and reconciles the cash a
broker has not paid yet as pending (app.runtime.resume)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from app.broker.emulator.books import Holding, PositionBook
from app.broker.simulator import SimulatedBroker
from app.domain.corporate import ActionKind, CorporateAction, HoldingChange, price_in_lieu
from app.market.corporate_file import ActionList

Json = dict[str, Any]
NEW_YORK = ZoneInfo("America/New_York")
ACTIVITY_TYPES = ("DIV", "SPLIT")
ANNOUNCEMENTS = uuid.UUID("2b7f3c1e-8d4a-4f6b-9e2c-5a1d0c3b7e9f")


class CorporateDesk:
    """Announcements, their effect on the account at each session's open, and activities."""

    def __init__(self, actions: Iterable[CorporateAction]) -> None:
        self.actions = ActionList(actions)
        self.reset()

    def reset(self) -> None:
        self.activities: list[Json] = []
        self._session: date | None = None

    def open_session(
        self,
        session: date | None,
        broker: SimulatedBroker,
        books: PositionBook,
        price: Callable[[str], Decimal | None],
    ) -> None:
        """At a session's first step: apply what came due since the previous session."""
        if session is None or session == self._session:
            return
        after = self._session if self._session is not None else session - timedelta(days=1)
        self._session = session
        for action in self.actions(after, session):
            holding = books.holdings.get(action.symbol)
            last = price(action.symbol)
            if holding is None or holding.qty == 0 or last is None:
                continue
            # The price in lieu is the host's: the last close over the ratio.
            change = broker.apply_corporate_action(action, price_in_lieu(action, last))
            _mirror(books, action, holding, change)
            self.activities.append(_activity(action, change, session, len(self.activities)))

    def announcements(
        self, symbols: set[str] | None, types: set[str] | None, start: date, end: date
    ) -> Json:
        """The body of `GET /v1/corporate-actions`, actions with start <= ex-date <= end."""
        groups: dict[str, list[Json]] = {}
        for action in self.actions(start - timedelta(days=1), end):
            if symbols and action.symbol not in symbols:
                continue
            group = _group(action)
            if types and group.removesuffix("s") not in types:
                continue
            groups.setdefault(group, []).append(_announcement(action))
        return {"corporate_actions": groups, "next_page_token": None}

    def activity_list(self, types: set[str] | None) -> list[Json]:
        """Account activities, newest first as Alpaca lists them."""
        chosen = [a for a in self.activities if not types or a["activity_type"] in types]
        return list(reversed(chosen))


def _mirror(
    books: PositionBook, action: CorporateAction, holding: Holding, change: HoldingChange
) -> None:
    """The position the account shows: a split scales the entry price, keeping the basis."""
    if action.kind is ActionKind.DIVIDEND:
        return
    if change.quantity_after == 0:
        del books.holdings[action.symbol]
        return
    holding.avg_entry = holding.avg_entry * action.old_rate / action.amount
    holding.qty = change.quantity_after


def _group(action: CorporateAction) -> str:
    if action.kind is ActionKind.DIVIDEND:
        return "cash_dividends"
    return "forward_splits" if action.amount > action.old_rate else "reverse_splits"


def _announcement(action: CorporateAction) -> Json:
    day = action.ex_date.isoformat()
    body: Json = {
        "id": str(uuid.uuid5(ANNOUNCEMENTS, action.action_id)),  # Alpaca's ids are UUIDs
        "symbol": action.symbol,
        "process_date": day,
        "ex_date": day,
        "record_date": day,
        "payable_date": (action.payable_date or action.ex_date).isoformat(),
    }
    if action.kind is ActionKind.DIVIDEND:
        return {**body, "cusip": "000000000", "rate": float(action.amount), "special": False,
                "foreign": False}  # fmt: skip
    cusips = {"cusip": "000000000"} if action.amount > action.old_rate else {
        "old_cusip": "000000000", "new_cusip": "000000001"}  # fmt: skip
    rates = {"new_rate": float(action.amount), "old_rate": float(action.old_rate)}
    return {**body, **cusips, **rates}


def _activity(action: CorporateAction, change: HoldingChange, session: date, n: int) -> Json:
    moment = datetime.combine(session, time(9, 30), NEW_YORK)
    kind = "DIV" if action.kind is ActionKind.DIVIDEND else "SPLIT"
    body: Json = {
        "id": f"{moment:%Y%m%d%H%M%S}000::{action.action_id}-{n}",
        "activity_type": kind,
        "date": session.isoformat(),
        "net_amount": str(change.cash),
        "symbol": action.symbol,
        "qty": str(change.quantity_before if kind == "DIV" else change.quantity_after),
        "description": action.describe(),
    }
    if kind == "DIV":
        body["per_share_amount"] = str(action.amount)
    else:
        body["qty_before"] = str(change.quantity_before)
    return body
