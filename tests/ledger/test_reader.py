"""Read helpers: the newest snapshot and metrics, recent trades and events, team ids."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import orjson

from app.ledger.jsonl import encode_line
from app.ledger.reader import (
    latest_metrics,
    latest_portfolio,
    recent_events,
    recent_trades,
    team_ids,
)
from app.ledger.writer import ACCOUNT, LedgerWriter

DAY = date(2026, 3, 12)
NEXT_DAY = date(2026, 3, 13)


def test_nothing_written_yet(data_dir: Path) -> None:
    owner = data_dir / "team/alpha"
    assert latest_portfolio(owner) is None
    assert latest_metrics(owner) is None
    assert recent_trades(owner, 5) == []
    assert recent_events(owner, 5) == []
    assert team_ids(data_dir) == []


def test_latest_portfolio_is_the_newest_days_last_line(
    data_dir: Path, make_snapshot: Callable[..., dict]
) -> None:
    with LedgerWriter(data_dir) as writer:
        for minute in range(3):
            writer.portfolio("alpha", DAY, make_snapshot(minute, DAY))
        for minute in range(2):
            writer.portfolio("alpha", NEXT_DAY, make_snapshot(minute, NEXT_DAY))
    owner = data_dir / "team/alpha"
    expected = orjson.loads(encode_line(make_snapshot(1, NEXT_DAY)))
    assert latest_portfolio(owner) == expected

    # An empty newest day file (opened, nothing written yet) falls back to the day before.
    (owner / "portfolio/2026-03-14.jsonl").write_bytes(b"")
    assert latest_portfolio(owner) == expected
    # A crash mid-line: the last whole line is still the answer.
    with (owner / "portfolio/2026-03-13.jsonl").open("ab") as handle:
        handle.write(b'{"timestamp": "2026-03-13T13')
    assert latest_portfolio(owner) == expected


def test_recent_records(data_dir: Path) -> None:
    with LedgerWriter(data_dir) as writer:
        for n in range(10):
            writer.trade(ACCOUNT, {"n": n})
            writer.event(ACCOUNT, {"n": n, "reason": "quantity must be positive"})
            writer.metrics(ACCOUNT, {"n": n})
    owner = data_dir / "account"
    assert [r["n"] for r in recent_trades(owner, 3)] == [7, 8, 9]
    assert [r["n"] for r in recent_events(owner, 20)] == list(range(10))
    assert latest_metrics(owner) == {"n": 9}


def test_team_ids(data_dir: Path) -> None:
    with LedgerWriter(data_dir) as writer:
        for team in ("zeta", "alpha", "mid-1"):
            writer.trade(team, {"n": 1})
        writer.trade(ACCOUNT, {"n": 1})
    (data_dir / "team/Bad Name").mkdir()
    (data_dir / "team/stray-file").write_text("not a team")
    assert team_ids(data_dir) == ["alpha", "mid-1", "zeta"]


def test_events_of_ledgers_written_before_the_rename_are_read_first(data_dir: Path) -> None:
    """An earlier version wrote `errors.jsonl`; a resumed run writes `events.jsonl` on."""
    owner = data_dir / "team" / "alpha"
    owner.mkdir(parents=True)
    (owner / "errors.jsonl").write_bytes(b"".join(encode_line({"n": n}) for n in range(3)))
    with LedgerWriter(data_dir) as writer:
        for n in range(3, 6):
            writer.event("alpha", {"n": n})
    assert [r["n"] for r in recent_events(owner, 20)] == [0, 1, 2, 3, 4, 5]
    assert [r["n"] for r in recent_events(owner, 4)] == [2, 3, 4, 5]
    assert [r["n"] for r in recent_events(owner, 2)] == [4, 5]
