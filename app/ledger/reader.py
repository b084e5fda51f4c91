"""Read helpers over the ledgers for recovery, the CLI and the web API (no full-file loads
where a tail will do). Lines are parsed by app.engine.lines, the module that makes them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.engine.lines import (
    JournalLine,
    TradesFileLine,
    parse_journal,
    parse_trade,
)
from app.ledger.jsonl import read_jsonl, tail_jsonl
from app.ledger.paths import EVENTS, METRICS, OLD_EVENTS, TRADES, portfolio_days, team_ids

__all__ = [
    "latest_metrics",
    "latest_portfolio",
    "read_journal",
    "read_trades",
    "recent_events",
    "recent_trades",
    "team_ids",
]


def _tail(path: Path, n: int) -> list[dict[str, Any]]:
    """Last `n` records; a missing file is empty and a torn tail (mid-crash) is skipped."""
    if not path.is_file() or n <= 0:
        return []
    return tail_jsonl(path, n, allow_torn_tail=True)


def latest_portfolio(owner_dir: Path) -> dict[str, Any] | None:
    """The newest snapshot: last line of the newest non-empty portfolio day file."""
    for _day, path in reversed(portfolio_days(Path(owner_dir))):
        last = _tail(path, 1)
        if last:
            return last[0]
    return None


def latest_metrics(owner_dir: Path) -> dict[str, Any] | None:
    last = _tail(Path(owner_dir) / METRICS, 1)
    return last[0] if last else None


def recent_trades(owner_dir: Path, n: int) -> list[dict[str, Any]]:
    """The last `n` trades, oldest first."""
    return _tail(Path(owner_dir) / TRADES, n)


def recent_events(owner_dir: Path, n: int) -> list[dict[str, Any]]:
    """The last `n` events (signals, faults, output, versions, ...), oldest first: from
    `events.jsonl`, and before them from the `errors.jsonl` of ledgers written by earlier
    versions."""
    folder = Path(owner_dir)
    newest = _tail(folder / EVENTS, n)
    return _tail(folder / OLD_EVENTS, n - len(newest)) + newest


def read_trades(path: Path) -> list[TradesFileLine]:
    """Every line of a trades file (a torn last line is left out); missing: none."""
    if not Path(path).is_file():
        return []
    return [parse_trade(record) for record in read_jsonl(path, allow_torn_tail=True)]


def read_journal(path: Path) -> list[JournalLine]:
    """Every journal line this version knows; a missing journal is an empty one.

    A torn last line is left out (and logged): the journal is fsynced before the order
    is sent, so an order whose submit line is torn was never sent.
    """
    if not Path(path).exists():
        return []
    lines = (parse_journal(record) for record in read_jsonl(path, allow_torn_tail=True))
    return [line for line in lines if line is not None]
