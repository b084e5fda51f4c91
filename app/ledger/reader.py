"""Small read helpers over the ledgers for the CLI and the web API (no full-file loads)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.ledger.jsonl import tail_jsonl
from app.ledger.paths import ERRORS, METRICS, TRADES, portfolio_days, team_ids

__all__ = [
    "latest_metrics",
    "latest_portfolio",
    "recent_errors",
    "recent_trades",
    "team_ids",
]


def _tail(path: Path, n: int) -> list[dict[str, Any]]:
    """Last `n` records; a missing file is empty and a torn tail (mid-crash) is skipped."""
    if not path.is_file():
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


def recent_errors(owner_dir: Path, n: int) -> list[dict[str, Any]]:
    """The last `n` faults and rejections, oldest first."""
    return _tail(Path(owner_dir) / ERRORS, n)
