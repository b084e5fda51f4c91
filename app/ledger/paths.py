"""Where each ledger file lives under the data directory; owner ids are checked here."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

# The whole brokerage account is the owner `None`; teams are owned by their slug.
ACCOUNT: None = None

OWNER_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
DAY_FILE_RE = re.compile(r"(\d{4}-\d{2}-\d{2})\.jsonl")

TRADES = "trades.jsonl"
METRICS = "metrics.jsonl"
EVENTS = "events.jsonl"
OLD_EVENTS = "errors.jsonl"  # what the events file was called before (still read)
PORTFOLIO_DIR = "portfolio"
PORTFOLIO_PARQUET = "portfolio.parquet"


def validate_owner(owner: str | None) -> str | None:
    """Return `owner` unchanged if it is `ACCOUNT` or a slug; raise ValueError otherwise."""
    if owner is None:
        return None
    # fullmatch, not match with `$`: `$` would also accept a trailing newline.
    if not isinstance(owner, str) or not OWNER_RE.fullmatch(owner):
        raise ValueError(f"invalid team id {owner!r}: expected ^[a-z0-9][a-z0-9-]{{0,31}}$")
    return owner


def owner_dir(data_dir: Path, owner: str | None) -> Path:
    """`data_dir/team/<owner>` for a team, `data_dir/account` for the account."""
    validate_owner(owner)
    return data_dir / "account" if owner is None else data_dir / "team" / owner


def portfolio_day_path(owner_folder: Path, day: date) -> Path:
    return owner_folder / PORTFOLIO_DIR / f"{day.isoformat()}.jsonl"


def journal_path(data_dir: Path) -> Path:
    return data_dir / "orders" / "journal.jsonl"


def portfolio_days(owner_folder: Path) -> list[tuple[date, Path]]:
    """Every `portfolio/YYYY-MM-DD.jsonl` of an owner, oldest first; other names are ignored."""
    folder = owner_folder / PORTFOLIO_DIR
    if not folder.is_dir():
        return []
    days: list[tuple[date, Path]] = []
    for path in folder.iterdir():
        match = DAY_FILE_RE.fullmatch(path.name)
        if match is None or not path.is_file():
            continue
        try:
            days.append((date.fromisoformat(match.group(1)), path))
        except ValueError:  # e.g. 2026-02-30.jsonl: not a ledger file
            continue
    return sorted(days)


def team_ids(data_dir: Path) -> list[str]:
    """Ids of the teams that have a ledger directory, sorted; stray names are ignored."""
    folder = data_dir / "team"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and OWNER_RE.fullmatch(p.name))
