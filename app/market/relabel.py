"""Play a recorded or synthetic market on the wall clock, under the wall clock's minutes.

`arena run --market replay:PATH` rehearses live operation with known data: the k-th
wall-clock tick gets the bars of the source's k-th minute, relabelled to the tick's
minute, so the engine, the ledgers and the broker see a market that is happening now.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from app.domain.models import Bar
from app.engine.ports import MarketData


class RelabeledMarket:
    def __init__(self, source: MarketData, source_minutes: Sequence[datetime]) -> None:
        self.universe = list(source.universe)
        self._source = source
        self._minutes = list(source_minutes)
        self._next = 0

    def bars(self, minute: datetime) -> dict[str, Bar]:
        """The next source minute's bars, stamped with `minute`; {} once the source is spent."""
        if self._next >= len(self._minutes):
            return {}
        source_minute = self._minutes[self._next]
        self._next += 1
        return {
            symbol: replace(bar, timestamp=minute)
            for symbol, bar in self._source.bars(source_minute).items()
        }
