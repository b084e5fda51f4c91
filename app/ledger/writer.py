"""The one writer of a data directory's ledgers: per-owner JSONL files and the order journal.

The engine hands it typed lines (`write`, app.engine.lines); each goes to its owner's file
of its channel. A team's ledgers grow by a bounded amount each minute (between `end_tick`
calls), however it behaves: its event lines (signals accepted and refused, faults, printed
output, versions, ...), which carry its own text, are capped per line and per minute; the
books' lines (trades, snapshots, metrics) are host-made, bounded by the rules, and never
dropped. The account's lines are host-only data and have no quota. See
docs/decisions/0020-bounded-records.md.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, NoReturn

from app.engine.lines import Channel, LedgerLimit, Line, LineNotWritten
from app.engine.stop import LedgerWriteError
from app.ledger.jsonl import JsonlAppender, TornLineRepair, encode_line
from app.ledger.paths import (
    ACCOUNT,
    EVENTS,
    METRICS,
    TRADES,
    journal_path,
    owner_dir,
    portfolio_day_path,
)

__all__ = [
    "ACCOUNT",
    "MAX_TEAM_LINE_BYTES",
    "TEAM_BYTES_PER_MINUTE",
    "TEAM_EVENT_BYTES_PER_MINUTE",
    "Durability",
    "LedgerWriter",
]

log = logging.getLogger(__name__)
Durability = Literal["tick", "close"]
DEFAULT_MAX_OPEN = 512
# A team's event lines: one line, and all of them in a minute. A 16,000-character traceback
# is about 16.5 KB; the per-minute quota leaves room for the books' lines within the bound.
MAX_TEAM_LINE_BYTES = 24 * 1024
TEAM_EVENT_BYTES_PER_MINUTE = 32 * 1024
# The bound on all of a team's lines in a minute: the books' lines are never dropped, so a
# team whose snapshot alone is bigger (hundreds of positions) passes it, with a warning.
TEAM_BYTES_PER_MINUTE = 64 * 1024
_SHORT = 64  # a field copied into a replacement line


@dataclass(slots=True)
class _Minute:
    """What one team has written since the last `end_tick`."""

    written: int = 0  # bytes of all its lines
    events: int = 0  # bytes of its event lines
    dropped_lines: int = 0
    dropped_bytes: int = 0
    timestamp: Any = None  # of the first line dropped


class LedgerWriter:
    """Appends ledger records under `data_dir`, one kept-open appender per file.

    `durability="tick"` fsyncs every file written during a tick at `end_tick`;
    `"close"` (fast replays) only at `close`. The order journal is fsynced in every
    `journal` call regardless, because it is written ahead of the order it describes.
    At most `max_open` appenders are open at once; the least recently used one is
    fsynced and closed to make room. Not thread-safe: one writer per data directory.

    A write that fails raises LedgerWriteError, and the writer then writes nothing more:
    every later call raises the same failure, so the ledgers end where it happened and
    nothing is written out of order (decision 0029). `close` still closes every file.
    """

    def __init__(
        self,
        data_dir: Path,
        durability: Durability = "tick",
        *,
        max_open: int = DEFAULT_MAX_OPEN,
    ) -> None:
        if durability not in ("tick", "close"):
            raise ValueError(f"durability must be 'tick' or 'close', got {durability!r}")
        if max_open < 1:
            raise ValueError("max_open must be at least 1")
        self.data_dir = Path(data_dir)
        self.durability: Durability = durability
        self.max_open = max_open
        self.repairs: list[TornLineRepair] = []
        self._open: OrderedDict[Path, JsonlAppender] = OrderedDict()  # LRU order, oldest first
        self._dirty: set[Path] = set()  # written since the last end_tick
        self._portfolio_day: dict[str | None, date] = {}
        # Paths are validated and joined once per owner: pathlib joins cost more than a write.
        self._paths: dict[tuple[str | None, str], Path] = {}
        self._journal: JsonlAppender | None = None
        self._journal_dirty = False
        self._closed = False
        self.failure: LedgerWriteError | None = None  # the write that stopped this writer
        self._minute: dict[str, _Minute] = {}  # per team, since the last end_tick
        self._warned: set[str] = set()  # teams already reported over TEAM_BYTES_PER_MINUTE

    # -- the lines ---------------------------------------------------------------------

    def write(self, line: Line, *, sync: bool = False) -> None:
        """A typed line, to its owner's file of its channel (the engine's one way in)."""
        channel = line.channel
        record = line.to_json()
        if channel is Channel.JOURNAL:
            self.journal(record, sync=sync)
        elif channel is Channel.TRADES:
            self.trade(line.ledger_owner, record)
        elif channel is Channel.PORTFOLIO:
            day = getattr(line, "day", None)
            if day is None:
                raise ValueError("a snapshot line needs its session day to find its file")
            self.portfolio(line.ledger_owner, day, record)
        elif channel is Channel.METRICS:
            self.metrics(line.ledger_owner, record)
        else:
            self.event(line.ledger_owner, record)

    def trade(self, owner: str | None, record: dict[str, Any]) -> None:
        """One allocated fill of a team (or one fill of the account)."""
        self._write(owner, self._path(owner, TRADES), encode_line(record))

    def portfolio(self, owner: str | None, day: date, record: dict[str, Any]) -> None:
        """One per-minute snapshot, into that day's file."""
        previous = self._portfolio_day.get(owner)
        if previous != day:
            folder = self._path(owner, "")
            if previous is not None:
                # The old day is finished: release its descriptor now rather than via the LRU.
                self._retire(portfolio_day_path(folder, previous))
            self._paths[(owner, "portfolio-day")] = portfolio_day_path(folder, day)
            self._portfolio_day[owner] = day
        self._write(owner, self._paths[(owner, "portfolio-day")], encode_line(record))

    def metrics(self, owner: str | None, record: dict[str, Any]) -> None:
        self._write(owner, self._path(owner, METRICS), encode_line(record))

    def event(self, owner: str | None, record: dict[str, Any]) -> None:
        """A signal accepted or refused, a strategy fault, printed output, a version, ...

        A team's line over MAX_TEAM_LINE_BYTES is replaced by a short line saying so; once a
        team's event lines of the minute would pass TEAM_EVENT_BYTES_PER_MINUTE, the rest of
        the minute's are dropped and counted, and `end_tick` writes one line saying so.
        """
        path = self._path(owner, EVENTS)
        line: bytes | None = encode_line(record)
        if owner is not None:
            line = self._admit(owner, record, line)
        if line is not None:
            self._write(owner, path, line)

    def journal(self, record: dict[str, Any], sync: bool = True) -> None:
        """Append to the write-ahead order journal.

        With `sync` (every submit: it precedes an order) the line is on disk when this
        returns. Without it (fills and crossings, booked right after) the line is handed to
        the operating system, which keeps it through a crash of the host, and fsynced at
        the end of the tick before any other file.
        """
        self._check_open()
        line = encode_line(record)
        try:
            if self._journal is None:
                journal = JsonlAppender(journal_path(self.data_dir))
                self._note(journal.open())
                self._journal = journal
            self._journal.append_line(line)
            if sync:
                self._journal.fsync()
        except LedgerWriteError as error:
            self._fail(error)
        if not sync:
            self._journal_dirty = True

    def sync_journal(self) -> None:
        """Make every journal line written so far durable (one fsync for a batch of orders)."""
        self._check_open()
        if self._journal is not None and self._journal_dirty:
            self._fsync(self._journal)
            self._journal_dirty = False

    # -- tick and lifetime -------------------------------------------------------------

    def end_tick(self) -> None:
        """Flush every file written during the tick, and fsync it under tick durability.

        This ends a team's minute: what its quota dropped is noted, and the quota starts over.
        """
        self._check_open()
        self._close_minute()
        if self._journal_dirty and self._journal is not None:
            self._fsync(self._journal)  # first: the ledger lines must never outlive their record
            self._journal_dirty = False
        if self.durability == "tick":
            for path in sorted(self._dirty):
                self._fsync(self._open[path])
        self._dirty.clear()

    def close(self) -> None:
        """Fsync and close every file (the journal first); the writer cannot be used
        afterwards. Every file is closed whatever fails; a failure here raises
        LedgerWriteError at the end, unless a failed write stopped the writer before."""
        if self._closed:
            return
        if self.failure is None:
            self._close_minute()
        failures: list[LedgerWriteError] = []
        if self._journal is not None:
            journal, self._journal = self._journal, None
            failures += _closed_quietly(journal)
        for path in list(self._open):
            failures += _closed_quietly(self._open.pop(path))
        self._dirty.clear()
        self._closed = True
        if failures and self.failure is None:
            self.failure = failures[0]
            raise failures[0]
        for failure in failures:
            log.error("closing the ledgers after a failed write: %s", failure)

    @property
    def open_files(self) -> int:
        """Descriptors currently held (for tests and diagnostics)."""
        return len(self._open) + (self._journal is not None and self._journal.is_open)

    def __enter__(self) -> LedgerWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed or self.failure is not None:
            self._refuse()

    def _refuse(self) -> NoReturn:
        if self.failure is not None:
            raise self.failure.again()  # nothing is written after a failed write
        raise RuntimeError("LedgerWriter is closed")

    def _fail(self, error: LedgerWriteError) -> NoReturn:
        """Note the failure that stops this writer, and raise it."""
        self.failure = error
        raise error

    def _fsync(self, appender: JsonlAppender) -> None:
        try:
            appender.fsync()
        except LedgerWriteError as error:
            self._fail(error)

    def _path(self, owner: str | None, name: str) -> Path:
        """`owner`'s file `name` ('' for the owner's folder), validated once."""
        path = self._paths.get((owner, name))
        if path is None:
            folder = owner_dir(self.data_dir, owner)
            path = self._paths[(owner, name)] = folder / name if name else folder
        return path

    def _note(self, repair: TornLineRepair | None) -> None:
        if repair is not None:
            self.repairs.append(repair)

    def _admit(self, owner: str, record: dict[str, Any], line: bytes) -> bytes | None:
        """The line to write for a team's event record, or None when its minute is full."""
        size = len(line)
        if size > MAX_TEAM_LINE_BYTES:
            line = encode_line(_not_written(record, size).to_json())
        minute = self._team_minute(owner)
        if minute.dropped_lines or minute.events + len(line) > TEAM_EVENT_BYTES_PER_MINUTE:
            # Nothing more this minute, not even a short line: what follows a gap would mislead.
            minute.dropped_lines += 1
            minute.dropped_bytes += size
            if minute.timestamp is None:
                minute.timestamp = record.get("timestamp")
            return None
        minute.events += len(line)
        return line

    def _team_minute(self, owner: str) -> _Minute:
        minute = self._minute.get(owner)
        if minute is None:
            minute = self._minute[owner] = _Minute()
        return minute

    def _close_minute(self) -> None:
        """Note each team's dropped lines; warn of a team whose books passed the bound."""
        for owner, minute in list(self._minute.items()):
            if minute.dropped_lines:
                note = _limit_note(owner, minute).to_json()
                self._write(owner, self._path(owner, EVENTS), encode_line(note))
            if minute.written > TEAM_BYTES_PER_MINUTE and owner not in self._warned:
                self._warned.add(owner)  # once: a big book stays big every minute
                log.warning(
                    "team %s wrote %d bytes of ledger lines in one minute, over the bound of "
                    "%d: its books' lines (never dropped) are that big; reported once",
                    owner,
                    minute.written,
                    TEAM_BYTES_PER_MINUTE,
                )
        self._minute.clear()

    def _write(self, owner: str | None, path: Path, line: bytes) -> None:
        self._check_open()
        appender = self._open.get(path)
        try:
            if appender is None:
                while len(self._open) >= self.max_open:
                    self._retire(next(iter(self._open)))
                appender = JsonlAppender(path)
                self._note(appender.open())
                self._open[path] = appender
            else:
                self._open.move_to_end(path)
            appender.append_line(line)
        except LedgerWriteError as error:
            self._fail(error)
        self._dirty.add(path)
        if owner is not None:  # on every line's path: one lookup when the minute has begun
            (self._minute.get(owner) or self._team_minute(owner)).written += len(line)

    def _retire(self, path: Path) -> None:
        """Flush, fsync and close one appender (eviction, day change or close)."""
        appender = self._open.pop(path, None)
        if appender is None:
            return
        self._dirty.discard(path)
        failures = _closed_quietly(appender)
        if failures:
            self._fail(failures[0])


def _closed_quietly(appender: JsonlAppender) -> list[LedgerWriteError]:
    """Fsync and close one file whatever happens; the failures met."""
    failures = []
    for step in (appender.fsync, appender.close):
        try:
            step()
        except LedgerWriteError as error:
            failures.append(error)
    return failures


def _short(value: Any) -> Any:
    return value[:_SHORT] if isinstance(value, str) else value


def _not_written(record: dict[str, Any], size: int) -> LineNotWritten:
    """What replaces a team's line over MAX_TEAM_LINE_BYTES."""
    return LineNotWritten(
        timestamp=record.get("timestamp"),
        team_id=_short(record.get("team_id")),
        kind=_short(record.get("kind")),
        message=(
            f"not written: this line was {size:,} bytes, over the ledger's limit of "
            f"{MAX_TEAM_LINE_BYTES:,} bytes a line"
        ),
        line_bytes=size,
    )


def _limit_note(owner: str, minute: _Minute) -> LedgerLimit:
    """The line that says what a team's per-minute quota dropped."""
    return LedgerLimit(
        timestamp=minute.timestamp,
        team_id=owner,
        message=(
            f"{minute.dropped_lines} line(s) of this minute's errors and output "
            f"({minute.dropped_bytes:,} bytes) were not written: a team's error log takes "
            f"at most {TEAM_EVENT_BYTES_PER_MINUTE:,} bytes a minute"
        ),
        dropped_lines=minute.dropped_lines,
        dropped_bytes=minute.dropped_bytes,
    )
