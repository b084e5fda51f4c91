"""The API's dependencies: the service, the key store, who is calling, and the organiser's
JSON bodies (read only once the organiser's key has passed).

All async: they only hash a key and read cached state, and a sync dependency would cost
a thread hop on every request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from app.web.bodies import read_capped
from app.web.keys import ORGANISER, KeyStore
from app.web.service import ArenaService

SMALL_BODY_BYTES = 4096  # every JSON body of the API is a few fields
Model = TypeVar("Model", bound=BaseModel)


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


def organiser_body(model: type[Model]) -> Callable[..., Awaitable[Model]]:
    """A dependency: the JSON body as `model`, read only after the organiser's key passed
    (a body parameter would be read by FastAPI before any dependency runs)."""

    async def body(_who: Organiser, request: Request) -> Model:
        kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if kind != "application/json" and not kind.endswith("+json"):
            raise HTTPException(415, "send the body as application/json")
        raw = await read_capped(
            request, SMALL_BODY_BYTES, f"the body is over {SMALL_BODY_BYTES:,} bytes"
        )
        try:
            return model.model_validate_json(raw)
        except ValidationError as error:
            problems = [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
            raise RequestValidationError(problems) from None

    return body


def json_body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI requestBody of a route that reads `model` through organiser_body."""
    schema = {"application/json": {"schema": model.model_json_schema()}}
    return {"requestBody": {"required": True, "content": schema}}
