"""The API's dependencies: the service, the key store, and who is calling.

All async: they only hash a key and read cached state, and a sync dependency would cost
a thread hop on every request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException, Query, Request

from app.web.keys import ORGANISER, KeyStore
from app.web.service import ArenaService


async def get_service(request: Request) -> ArenaService:
    return request.app.state.service


async def get_keys(request: Request) -> KeyStore:
    return request.app.state.keys


Service = Annotated[ArenaService, Depends(get_service)]
Keys = Annotated[KeyStore, Depends(get_keys)]


async def caller(
    keys: Keys,
    x_api_key: Annotated[str | None, Header(description="a team's or the organiser's key")] = None,
    key: Annotated[str | None, Query(description="the key, for simple scripts")] = None,
) -> str:
    """Whose key this is: 401 without a key or with one nobody holds."""
    owner = keys.who(x_api_key or key)
    if owner is None:
        raise HTTPException(401, "a valid key is required (X-API-Key header or ?key=)")
    return owner


Caller = Annotated[str, Depends(caller)]


async def team_access(team_id: str, who: Caller, service: Service) -> str:
    """The team's own key or the organiser's; any other key is refused (403)."""
    if who != team_id and who != ORGANISER:
        raise HTTPException(403, "this key does not open that team")
    if team_id not in service.teams():
        raise HTTPException(404, f"no team {team_id!r}")
    return team_id


TeamId = Annotated[str, Depends(team_access)]


async def organiser(who: Caller) -> str:
    if who != ORGANISER:
        raise HTTPException(403, "the organiser's key is required")
    return who


Organiser = Annotated[str, Depends(organiser)]
