"""The one writer of a data directory's ledgers: per-owner JSONL files and the order journal."""

from __future__ import annotations

from collections import OrderedDict
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from app.ledger.jsonl import JsonlAppender, TornLineRepair
from app.ledger.paths import (
    ACCOUNT,
    ERRORS,
    METRICS,
    TRADES,
    journal_path,
    owner_dir,
    portfolio_day_path,
)

__all__ = ["ACCOUNT", "Durability", "LedgerWriter"]

Durability = Literal["tick", "close"]
DEFAULT_MAX_OPEN = 512


class LedgerWriter:
    """Appends ledger records under `data_dir`, one kept-open appender per file.

    `durability="tick"` fsyncs every file written during a tick at `end_tick`;
    `"close"` (fast replays) only at `close`. The order journal is fsynced in every
    `journal` call regardless, because it is written ahead of the order it describes.
    At most `max_open` appenders are open at once; the least recently used one is
    fsynced and closed to make room. Not thread-safe: one writer per data directory.
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

    # -- the records -------------------------------------------------------------------

    def trade(self, owner: str | None, record: dict[str, Any]) -> None:
        """One allocated fill of a team (or one fill of the account)."""
        self._append(self._path(owner, TRADES), record)

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
        self._append(self._paths[(owner, "portfolio-day")], record)

    def metrics(self, owner: str | None, record: dict[str, Any]) -> None:
        self._append(self._path(owner, METRICS), record)

    def error(self, owner: str | None, record: dict[str, Any]) -> None:
        """A strategy fault or a rejected signal."""
        self._append(self._path(owner, ERRORS), record)

    def journal(self, record: dict[str, Any], sync: bool = True) -> None:
        """Append to the write-ahead order journal.

        With `sync` (every submit: it precedes an order) the line is on disk when this
        returns. Without it (fills and crossings, booked right after) the line is handed to
        the operating system, which keeps it through a crash of the host, and fsynced at
        the end of the tick before any other file.
        """
        self._check_open()
        if self._journal is None:
            self._journal = JsonlAppender(journal_path(self.data_dir))
            self._note(self._journal.open())
        self._journal.append(record)
        if sync:
            self._journal.fsync()
        else:
            self._journal.flush()
            self._journal_dirty = True

    def sync_journal(self) -> None:
        """Make every journal line written so far durable (one fsync for a batch of orders)."""
        if self._journal is not None and self._journal_dirty:
            self._journal.fsync()
            self._journal_dirty = False

    # -- tick and lifetime -------------------------------------------------------------

    def end_tick(self) -> None:
        """Flush every file written during the tick, and fsync it under tick durability."""
        if self._journal_dirty and self._journal is not None:
            self._journal.fsync()  # first: the ledger lines must never outlive their record
            self._journal_dirty = False
        for path in sorted(self._dirty):
            appender = self._open[path]
            appender.flush()
            if self.durability == "tick":
                appender.fsync()
        self._dirty.clear()

    def close(self) -> None:
        """Flush, fsync and close every file; the writer cannot be used afterwards."""
        if self._closed:
            return
        for path in list(self._open):
            self._retire(path)
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        self._closed = True

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
        if self._closed:
            raise RuntimeError("LedgerWriter is closed")

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

    def _append(self, path: Path, record: dict[str, Any]) -> None:
        self._check_open()
        appender = self._open.get(path)
        if appender is None:
            while len(self._open) >= self.max_open:
                self._retire(next(iter(self._open)))
            appender = JsonlAppender(path)
            self._note(appender.open())
            self._open[path] = appender
        else:
            self._open.move_to_end(path)
        appender.append(record)
        self._dirty.add(path)

    def _retire(self, path: Path) -> None:
        """Flush, fsync and close one appender (eviction, day change or close)."""
        appender = self._open.pop(path, None)
        if appender is None:
            return
        appender.flush()
        appender.fsync()
        appender.close()
        self._dirty.discard(path)
