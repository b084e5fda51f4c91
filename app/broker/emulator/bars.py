"""Market data for the emulator: the replayed bars, indexed per symbol, served as Alpaca's
`/v2/stocks/bars` pages — never a bar the replay clock has not closed yet."""

from __future__ import annotations

import base64
import binascii
import json
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo

from app.broker.emulator.errors import AlpacaError
from app.domain.models import Bar
from app.domain.timefmt import parse_rfc3339
from app.market.replay import ReplayMarket

MINUTE = 60  # seconds
TIMEFRAMES = {"1Min", "1T", "1Minute"}
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000


def bad_request(message: str) -> AlpacaError:
    return AlpacaError(400, 40010001, message)


def parse_time(text: str | None, name: str) -> datetime | None:
    """RFC 3339 (a missing zone means UTC) or a bare date (its UTC midnight)."""
    if text is None or text == "":
        return None
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0), UTC)
        return parse_rfc3339(text.replace(" ", "+"))  # an unescaped '+' arrives as ' '
    except ValueError:
        raise bad_request(f"invalid {name}: {text!r}") from None


def encode_token(symbol: str, seconds: int) -> str:
    raw = json.dumps([symbol, seconds], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> tuple[str, int]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        symbol, seconds = json.loads(raw)
        return str(symbol), int(seconds)
    except (ValueError, TypeError, binascii.Error):
        raise bad_request("invalid page_token") from None


@dataclass(frozen=True, slots=True)
class BarQuery:
    """One `/v2/stocks/bars` request, already checked."""

    symbols: tuple[str, ...]
    start: datetime
    end: datetime
    limit: int = DEFAULT_LIMIT
    page_token: str | None = None
    descending: bool = False


class BarIndex:
    """Every replayed bar, per symbol, in time order (built once at start-up)."""

    def __init__(self, market: ReplayMarket) -> None:
        self.universe: list[str] = list(market.universe)
        self._bars: dict[str, list[Bar]] = {s: [] for s in self.universe}
        for minute in market.minutes():
            for symbol, bar in market.bars(minute).items():
                self._bars.setdefault(symbol, []).append(bar)
        self._times = {
            s: [int(b.timestamp.timestamp()) for b in bars] for s, bars in self._bars.items()
        }

    def latest(self, symbol: str, now: datetime) -> Bar | None:
        """The last bar closed by `now` (its minute ended at or before now)."""
        times = self._times.get(symbol, [])
        i = bisect_right(times, int(now.timestamp()) - MINUTE)
        return self._bars[symbol][i - 1] if i else None

    def page(self, query: BarQuery, now: datetime) -> tuple[dict[str, list[Bar]], str | None]:
        """One page: bars by symbol (symbols sorted, then time), and the next page's token."""
        chosen: dict[str, list[Bar]] = {}
        last: tuple[str, int] | None = None
        taken = 0
        for symbol, stamp, bar in self._walk(query, now):
            if taken == query.limit:
                assert last is not None
                return chosen, encode_token(*last)
            chosen.setdefault(symbol, []).append(bar)
            last, taken = (symbol, stamp), taken + 1
        return chosen, None

    def _walk(self, query: BarQuery, now: datetime) -> Iterator[tuple[str, int, Bar]]:
        lo_t = int(query.start.timestamp())
        hi_t = min(int(query.end.timestamp()), int(now.timestamp()) - MINUTE)  # closed only
        after: tuple[str, int] | None = None
        if query.page_token:
            after = decode_token(query.page_token)
        for symbol in sorted(set(query.symbols)):
            if after is not None and symbol < after[0]:
                continue
            times = self._times.get(symbol, [])
            lo, hi = bisect_left(times, lo_t), bisect_right(times, hi_t)
            if after is not None and symbol == after[0]:
                if query.descending:
                    hi = min(hi, bisect_left(times, after[1]))
                else:
                    lo = max(lo, bisect_right(times, after[1]))
            order: Iterable[int] = range(hi - 1, lo - 1, -1) if query.descending else range(lo, hi)
            for i in order:
                yield symbol, times[i], self._bars[symbol][i]


def day_start(moment: datetime, zone: tzinfo) -> datetime:
    """Midnight of `moment`'s day in `zone` (Alpaca's default `start`), as UTC."""
    midnight = datetime.combine(moment.astimezone(zone).date(), time(0), zone)
    return midnight.astimezone(UTC)
