"""When a file cannot be written: the typed error, and trading stopped cleanly.

Every write of the host under its data directory goes through a few mechanisms (the JSONL
appender of the ledgers and the journal, the small files, the Parquet fold, the bar lake);
each raises `LedgerWriteError` naming the file and the operating system's cause. The run
loop catches it once (`Competition.run`) and stops: no new order, the host's working orders
cancelled at the broker, a hold written where it can be (decision 0029).

Nothing more is written to the ledgers or the journal once a write failed: a cancel needs no
write-ahead record (it creates nothing the journal does not hold already), and what the
cancels and any last fills did is learned from the broker by the next recovery, as after a
crash, by client order ID.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from app.domain.models import OrderStatus
from app.engine.ports import Broker

log = logging.getLogger(__name__)
POLL_SECONDS = 0.2


def describe_cause(cause: BaseException) -> str:
    """`[Errno 28] No space left on device`: the cause without the path it may repeat."""
    if isinstance(cause, OSError) and cause.errno is not None:
        return f"[Errno {cause.errno}] {cause.strerror or os.strerror(cause.errno)}"
    return " ".join(str(cause).split()) or type(cause).__name__


class LedgerWriteError(Exception):
    """A file under the data directory could not be written (or made durable).

    Not an OSError on purpose: no retry loop that catches I/O errors may swallow it on its
    way to the run loop, which stops trading on it.
    """

    def __init__(self, path: Path | str, cause: BaseException) -> None:
        self.path = Path(path)
        self.cause = cause
        self.reason = describe_cause(cause)
        super().__init__(f"cannot write {self.path}: {self.reason}")

    def again(self) -> LedgerWriteError:
        """The same failure, raised again where something else tries to write."""
        return LedgerWriteError(self.path, self.cause)


@dataclass(frozen=True, slots=True)
class StopOutcome:
    """What became of the host's working orders when trading stopped."""

    ended: dict[str, OrderStatus] = field(default_factory=dict)  # by client order ID
    left: tuple[str, ...] = ()  # still working when the wait ran out
    cancel_error: str | None = None

    @property
    def clean(self) -> bool:
        return not self.left and self.cancel_error is None

    def describe(self) -> str:
        """One clause for the stop's line."""
        if self.cancel_error is not None:
            return (
                f"cancelling failed ({self.cancel_error}): {_orders(self.left)} may still be "
                "working"
            )
        if self.left:
            return f"{_orders(self.left)} still working after the cancels"
        if not self.ended:
            return "no order was working"
        counts = Counter(status.value for status in self.ended.values())
        if set(counts) == {OrderStatus.CANCELED.value}:
            return f"working orders cancelled ({counts[OrderStatus.CANCELED.value]})"
        detail = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        return f"working orders ended ({detail})"


def stop_trading(
    working: Iterable[str],
    broker: Broker,
    wait_seconds: float = 10.0,
    *,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> StopOutcome:
    """Cancel every working order of the host and wait (a while) for each to be final.

    `working` are the client order IDs the host sent and has not seen final. The broker's
    events are only watched, never booked: the books stop where the ledgers stopped.
    """
    waiting = set(working)
    if not waiting:
        return StopOutcome()
    try:
        broker.cancel_all()
    except Exception as error:  # whatever the broker raised: recovery cancels them later
        log.exception("cancelling the working orders failed")
        return StopOutcome(left=tuple(sorted(waiting)), cancel_error=describe_cause(error))
    ended: dict[str, OrderStatus] = {}
    deadline = monotonic() + wait_seconds
    while True:
        try:
            events = broker.poll()
        except Exception:  # as above: what is left working is named, recovery settles it
            log.exception("following the cancels failed")
            break
        for event in events:
            if event.client_order_id in waiting and event.status.is_final:
                waiting.discard(event.client_order_id)
                ended[event.client_order_id] = event.status
        if not waiting or monotonic() >= deadline:
            break
        sleep(POLL_SECONDS)
    return StopOutcome(ended, tuple(sorted(waiting)))


def _orders(ids: tuple[str, ...]) -> str:
    shown = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
    return f"{len(ids)} order(s) ({shown})"
