"""A team's own data: status, trades, history, metrics, events, one line of text."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import PlainTextResponse

from app.web.deps import Service, TeamId

router = APIRouter(prefix="/api/v1/team/{team_id}", tags=["team"])
Page = Annotated[int, Query(ge=1, le=100_000)]
Size = Annotated[int, Query(ge=1, le=500)]
Interval = Literal["1min", "5min", "15min", "1h", "1d"]


@router.get("")
async def status(team_id: TeamId, service: Service) -> Response:
    """Cash, positions with P&L, equity, rank, strategy version and health (read once per
    tick, then served from memory: async, no thread hop)."""
    return Response(service.status_json(team_id), media_type="application/json")


@router.get("/trades")
def trades(team_id: TeamId, service: Service, page: Page = 1, size: Size = 50):
    """Allocated fills, newest first."""
    return service.trades(team_id, page, size)


@router.get("/history")
def history(team_id: TeamId, service: Service, interval: Interval = "5min"):
    """The equity curve, resampled (last value per interval)."""
    return service.history(team_id, interval)


@router.get("/metrics")
def metrics(team_id: TeamId, service: Service):
    return service.metrics(team_id)


@router.get("/events")
def events(team_id: TeamId, service: Service, page: Page = 1, size: Size = 50):
    """What the strategy did and what happened to it, newest first: signals accepted and
    refused (with reasons), exceptions, timeouts, printed output, versions, orders that did
    not fill, expiries."""
    return service.events(team_id, page, size)


@router.get("/errors", deprecated=True)
def errors(team_id: TeamId, service: Service, page: Page = 1, size: Size = 50):
    """The events, under their earlier name (kept so existing clients do not break)."""
    return service.events(team_id, page, size)


@router.get("/line", response_class=PlainTextResponse)
def line(team_id: TeamId, service: Service) -> str:
    """One line of plain text, for a terminal: `curl .../line?key=...`."""
    return service.line(team_id) + "\n"
