"""What anyone may read: the leaderboard (figures only) and the equity curves."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response

from app.web.deps import Caller, Service
from app.web.keys import ORGANISER

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
async def me(who: Caller, service: Service):
    """Whose key this is and the teams it opens: a team's key its own team, the organiser's
    every team (the team page asks, then opens the team or offers the organiser a picker)."""
    if who != ORGANISER:
        return {"team_id": who, "organiser": False, "teams": [{"team_id": who,
                "name": service.teams().get(who, who)}]}  # fmt: skip
    teams = [{"team_id": team, "name": name} for team, name in service.teams().items()]
    return {"team_id": who, "organiser": True, "teams": teams}
