"""Ranking teams: by total return in percent (teams may start with different cash)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from app.domain.metrics import PerformanceMetrics
from app.engine.books import TeamBook


@dataclass(frozen=True, slots=True)
class LeaderboardRow:
    rank: int
    team_id: str
    name: str
    enabled: bool
    metrics: PerformanceMetrics


def rank_books(books: Iterable[TeamBook]) -> list[LeaderboardRow]:
    """Best return first; equal returns share a rank (1, 2, 2, 4), listed by team id."""
    scored = sorted(
        ((book, book.tracker.snapshot()) for book in books),
        key=lambda pair: (-pair[1].total_return_pct, pair[0].team_id),
    )
    rows: list[LeaderboardRow] = []
    for position, (book, metrics) in enumerate(scored, start=1):
        same = rows and rows[-1].metrics.total_return_pct == metrics.total_return_pct
        rank = rows[-1].rank if same else position
        rows.append(LeaderboardRow(rank, book.team_id, book.name, book.enabled, metrics))
    return rows
