"""What anyone may read: the leaderboard (figures only) and the equity curves."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response

from app.web.deps import Caller, Service

router = APIRouter(prefix="/api/v1", tags=["public"])


@router.get("/leaderboard")
async def leaderboard(service: Service) -> Response:
    """Rank, team, return %, equity, Sharpe, max drawdown, trades, status."""
    return Response(service.leaderboard_json(), media_type="application/json")


@router.get("/curves")
def curves(service: Service, interval: Literal["5min", "15min", "1h", "1d"] = "15min"):
    """Every team's equity curve, for the leaderboard's charts."""
    return {"interval": interval, "curves": service.curves(interval)}


@router.get("/me")
async def me(who: Caller):
    """Whose key this is (the team page asks, then opens that team)."""
    return {"team_id": who}
