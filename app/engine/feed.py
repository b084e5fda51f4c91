"""The tick's bars step: a minute whose bars could not be fetched is missing, not a gap
(decision 0028).

`MarketData.bars` raises `BarsUnavailableError` when the source could not answer (after its own
retries within the tick's deadline). The minute is then *missing*: the account's events say
so (`minute_missing`, with the cause), no bar joins the history, the reference prices carry
forward, and the strategies are still called, told by their header (`bars_missing`,
`missing_minutes`). At the next tick the source is asked for everything from the earliest
still-missing minute in one request (`bars_since`), so the late bars join the history and
the lake in time order before the current minute's, each such minute noted
(`minute_backfilled`; with no bars it was a real gap after all). A missing minute more than
`MAX_BACKFILL` before the current one is no longer asked for (`minute_lost`): the history is
append-only, so its bars can never join it once a later minute has; it stays in
`missing_minutes` until the session ends. A source without `bars_since` loses its missing
minutes the same way at its next good minute. Any other exception from the source is a data
failure too, logged with its traceback: the engine never stops for one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.domain.bounds import clip
from app.domain.models import Bar
from app.domain.timefmt import to_rfc3339
from app.engine.lines import AccountNote
from app.engine.ports import BarsUnavailableError, Ledger, MarketData

log = logging.getLogger(__name__)
NEW_YORK = ZoneInfo("America/New_York")
MAX_BACKFILL = timedelta(minutes=30)  # how far back a missing minute is asked for again
MAX_CAUSE_CHARS = 300
MISSING, BACKFILLED, LOST = "minute_missing", "minute_backfilled", "minute_lost"

ByMinute = dict[datetime, dict[str, Bar]]


class MarketFeed:
    """Fetches each tick's bars, keeps the minutes that could not be fetched, and backfills
    them; `take` puts one minute's bars into the history and the prices (in time order)."""

    def __init__(
        self, market: MarketData, ledger: Ledger, take: Callable[[Mapping[str, Bar]], None]
    ) -> None:
        self._market = market
        self._ledger = ledger
        self._take = take
        self.pending: list[datetime] = []  # missing minutes still to ask for, oldest first
        self._lost: list[datetime] = []  # this session's minutes given up
        self._session: date | None = None
        self._missing_now = False

    def fetch(self, minute: datetime, as_of: datetime) -> dict[str, Bar]:
        """This minute's bars, taken after the late bars of earlier missing minutes; {} when
        the minute is missing (it is then noted, and asked for again next tick)."""
        while self.pending and self.pending[0] < minute - MAX_BACKFILL:
            self._lose(self.pending.pop(0), as_of, f"not fetched within {_span()}")
        self._new_session(minute)  # the header lists this session's lost minutes only
        try:
            found, backfills = self._ask(minute)
        except BarsUnavailableError as error:
            cause = clip(str(error), MAX_CAUSE_CHARS)
        except Exception as error:  # an adapter's own failure is a data failure too
            log.exception("the market source failed for %s", to_rfc3339(minute))
            cause = clip(f"{type(error).__name__}: {error}", MAX_CAUSE_CHARS)
        else:
            return self._deliver(minute, found, backfills, as_of)
        self._miss(minute, cause, as_of)
        return {}

    def header(self) -> dict[str, Any]:
        """What every strategy is told of this minute's data (decision 0028)."""
        missing = sorted(self._lost + self.pending)
        return {
            "bars_missing": self._missing_now,
            "missing_minutes": [to_rfc3339(m) for m in missing],
        }

    def _new_session(self, minute: datetime) -> None:
        session = minute.astimezone(NEW_YORK).date()
        if session != self._session:
            self._session = session
            self._lost = [m for m in self._lost if m.astimezone(NEW_YORK).date() == session]

    def _ask(self, minute: datetime) -> tuple[ByMinute, bool]:
        """The bars by minute, and whether the pending minutes were asked for too."""
        since = getattr(self._market, "bars_since", None)
        if self.pending and since is not None:
            return since(self.pending[0], minute), True
        return {minute: self._market.bars(minute)}, False

    def _deliver(
        self, minute: datetime, found: ByMinute, backfills: bool, as_of: datetime
    ) -> dict[str, Bar]:
        current = to_rfc3339(minute)
        for late in self.pending:
            if not backfills:
                self._lose(late, as_of, "the market source cannot fetch past minutes")
                continue
            bars = found.get(late, {})
            if bars:
                self._take(bars)
                what = f"{len(bars)} bars, fetched late, joined the history before {current}'s"
            else:
                what = f"fetched with {current}: no bars (a real gap)"
            self._note(BACKFILLED, as_of, f"{to_rfc3339(late)}: {what}")
        self.pending.clear()
        self._missing_now = False
        bars = found.get(minute, {})
        self._take(bars)
        return bars

    def _miss(self, minute: datetime, cause: str, as_of: datetime) -> None:
        log.warning("the bars of %s are missing: %s", to_rfc3339(minute), cause)
        self.pending.append(minute)
        self._missing_now = True
        message = (
            f"{to_rfc3339(minute)}: the bars could not be fetched: {cause}; strategies are called "
            "with bars_missing, and the minute is asked for again at the next tick"
        )
        self._note(MISSING, as_of, message)

    def _lose(self, minute: datetime, as_of: datetime, why: str) -> None:
        self._lost.append(minute)
        self._note(LOST, as_of, f"{to_rfc3339(minute)}: given up ({why}); its bars stay missing")

    def _note(self, kind: str, as_of: datetime, message: str) -> None:
        self._ledger.write(AccountNote(timestamp=as_of, kind=kind, message=message))


def _span() -> str:
    return f"{int(MAX_BACKFILL.total_seconds() // 60)} minutes"
