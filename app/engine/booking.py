"""Booking: a broker fill into the account's book, an allocation into a team's, each with
its ledger line. Used by execution as fills arrive and by recovery to redo what a crash
left unwritten, so both write exactly the same lines."""

from __future__ import annotations

from datetime import datetime

from app.domain.models import Allocation, Fill
from app.engine.books import AccountBook, TeamBook
from app.engine.lines import AccountTradeLine, TradeLine
from app.engine.ports import Ledger


def book_fill(account: AccountBook, ledger: Ledger, fill: Fill, team_ids: list[str]) -> None:
    effect = account.apply(fill)
    ledger.write(AccountTradeLine.booked(fill, effect, team_ids))


def book_allocation(
    books: dict[str, TeamBook],
    ledger: Ledger,
    allocation: Allocation,
    tick: datetime,
    version: str,
) -> None:
    book = books[allocation.team_id]
    effect = book.apply(allocation)
    ledger.write(TradeLine.booked(allocation, effect, book.portfolio, tick, version))
