"""How much of a team's data the host repeats: the caps, and bounded ways to quote it.

A strategy may return strings of 1,000 characters and thousands of items (the sandbox's
wire allows it), so no message, ledger line or API answer repeats such a value whole:
values are quoted with `reprlib` under limits, and text is cut with a note saying so.
"""

from __future__ import annotations

import reprlib
from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache

from app.domain.numbers import canonical

MAX_MESSAGE_CHARS = 500  # a rejection message
MAX_QUOTED_CHARS = 60  # one value quoted in a message
MAX_SYMBOL_CHARS = 32  # a symbol quoted in a message (real tickers are at most 10)
MAX_NAMED_FIELDS = 3  # unknown field names listed before "and N more"
MAX_SIGNAL_CHARS = 300  # the copy of a rejected signal in the team's error log
# A number longer than this is written in scientific notation: 28 digits of arithmetic fit.
MAX_AMOUNT_CHARS = 40
# Text a strategy produced, as the ledger keeps it: the first 4,000 printed characters of
# a minute plus the sandbox's truncation note; an error with its traceback.
MAX_PRINTED_CHARS = 4_100
MAX_ERROR_CHARS = 16_000
_NOTE_ROOM = 40  # what `clip` keeps free for its note


class _Quoter(reprlib.Repr):
    def repr_int(self, x: int, level: int) -> str:
        try:
            return super().repr_int(x, level)
        except ValueError:  # str() of an int over 4,300 digits raises since Python 3.11
            return f"<int of {x.bit_length():,} bits>"


@lru_cache(maxsize=8)
def _quoter(limit: int) -> _Quoter:
    """A Repr whose parts fit `limit`; built once per limit and never changed after."""
    quoter = _Quoter()
    roomy = limit >= 100
    quoter.maxstring = min(limit, MAX_QUOTED_CHARS)
    quoter.maxother = min(limit, MAX_QUOTED_CHARS)
    quoter.maxlong = min(limit, 40)
    quoter.maxlevel = 3 if roomy else 2
    quoter.maxdict = 8 if roomy else 3  # a signal's six fields, and a sign of what else
    items = 6 if roomy else 3
    quoter.maxlist = quoter.maxtuple = quoter.maxset = quoter.maxfrozenset = items
    quoter.maxdeque = quoter.maxarray = items
    return quoter


def quote(value: object, limit: int = MAX_QUOTED_CHARS) -> str:
    """`repr(value)` in at most `limit` characters; long parts are elided with '...'."""
    text = _quoter(limit).repr(value)
    # reprlib bounds each part; a container of bounded parts can still be longer.
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clip(text: str, limit: int) -> str:
    """`text` in at most `limit` characters; a cut ends with how much was cut."""
    if len(text) <= limit:
        return text
    keep = max(limit - _NOTE_ROOM, 0)
    return (text[:keep] + f"… [{len(text) - keep:,} more characters]")[:limit]


def name_some(names: Sequence[object]) -> str:
    """The first few names, quoted and cut, then how many more there are."""
    shown = ", ".join(quote(name) for name in names[:MAX_NAMED_FIELDS])
    more = len(names) - MAX_NAMED_FIELDS
    return f"{shown} and {more} more" if more > 0 else shown


def signal_copy(signal: object) -> str:
    """A bounded, readable copy of a rejected signal for the team's error log."""
    return quote(signal, MAX_SIGNAL_CHARS)


def amount(value: Decimal) -> str:
    """A quantity or price as text, one spelling per value (`6.31`, not `6.310000000`):
    plain, unless its digits run long (1e308 shares)."""
    plain = value.is_finite() and abs(value.adjusted()) <= MAX_AMOUNT_CHARS
    text = str(canonical(value)) if plain else str(value)
    return text if len(text) <= MAX_AMOUNT_CHARS else f"{value:.6E}"
