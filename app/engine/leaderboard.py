"""Ranking teams: by total return in percent (teams may start with different cash)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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


def assign_ranks(returns: Mapping[str, float]) -> dict[str, int]:
    """Best return first; equal returns share a rank (1, 2, 2, 4)."""
    ordered = sorted(returns, key=lambda team: (-returns[team], team))
    ranks: dict[str, int] = {}
    for position, team in enumerate(ordered, start=1):
        previous = ranks[ordered[position - 2]] if position > 1 else None
        tied = previous is not None and returns[ordered[position - 2]] == returns[team]
        ranks[team] = previous if tied and previous is not None else position
    return ranks


def rank_books(books: Iterable[TeamBook]) -> list[LeaderboardRow]:
    """The leaderboard, best first, ties listed by team id."""
    scored = {book.team_id: (book, book.tracker.snapshot()) for book in books}
    ranks = assign_ranks({t: m.total_return_pct for t, (_, m) in scored.items()})
    return [
        LeaderboardRow(ranks[t], t, scored[t][0].name, scored[t][0].enabled, scored[t][1])
        for t in sorted(ranks, key=lambda team: (ranks[team], team))
    ]
