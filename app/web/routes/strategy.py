"""Strategy uploads: validated, smoke-tested in the sandbox, stored, then swapped in by the
running engine at its next tick. Rate limited per team key, not per address.

The upload route declares no body parameter, so the key is checked before a byte of the
body is read; the body is then read under a cap and parsed in memory (app/web/bodies.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from slowapi import Limiter
from starlette.concurrency import run_in_threadpool

from app.runtime.presence import running_engine
from app.uploads.unpack import MAX_UPLOAD_BYTES
from app.web.bodies import FormError, FormPart, parse_form, read_capped
from app.web.deps import Service, TeamId
from app.web.service import ArenaService

# The file plus what a form wraps it in: boundaries, part headers, the entry_point field.
UPLOAD_BODY_BYTES = MAX_UPLOAD_BYTES + 64 * 1024
TOO_BIG = f"the upload is over {MAX_UPLOAD_BYTES:,} bytes"
CLOSED = "uploads are closed: the organiser closed them (competition.uploads.closed)"
NOT_RUNNING = (
    "not yet: the engine is not running on this competition (it has finished or stopped); "
    "the version goes live when one runs it again"
)
UPLOAD_FORM = {  # what FastAPI wrote for the File/Form parameters this route read before
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "contentMediaType": "application/octet-stream",
                            "description": "a .py file or a .zip package",
                        },
                        "entry_point": {
                            "type": "string",
                            "description": "the strategy class (default: the one class "
                            "with a generate_signal method)",
                        },
                    },
                }
            }
        },
    }
}


@dataclass(frozen=True)
class UploadForm:
    filename: str
    payload: bytes
    entry_point: str | None


def key_of_caller(request: Request) -> str:
    """Teams behind one proxy share an address but not a key: limit by the key's hash."""
    key = request.headers.get("x-api-key") or request.query_params.get("key") or ""
    return hashlib.sha256(key.encode()).hexdigest()


async def read_upload_form(request: Request) -> UploadForm:
    """The upload's form: 413 past the cap, 422 if it is not the documented form."""
    body = await read_capped(request, UPLOAD_BODY_BYTES, {"problems": [TOO_BIG]})
    try:
        form = _upload_form(parse_form(request.headers.get("content-type", ""), body))
    except FormError as error:
        raise HTTPException(422, {"problems": [str(error)]}) from None
    if len(form.payload) > MAX_UPLOAD_BYTES:
        raise HTTPException(413, {"problems": [TOO_BIG]})
    return form


def _upload_form(fields: dict[str, FormPart]) -> UploadForm:
    file = fields.get("file")
    if file is None:
        raise FormError("the form has no 'file' field: send the .py file or .zip as 'file'")
    entry = fields.get("entry_point")
    try:
        entry_point = bytes(entry.data).decode("utf-8") if entry is not None else None
    except UnicodeDecodeError:
        raise FormError("entry_point is not UTF-8 text") from None
    return UploadForm(file.filename or "", bytes(file.data), entry_point or None)


UPLOAD_ANSWERS: dict[int | str, dict[str, Any]] = {
    201: {"description": "Stored; the running engine swaps it in at its next tick"},
    202: {"description": "Stored, but no engine is running on the competition (decision 0032)"},
    409: {"description": "Uploads are closed by the organiser, or the storage quota is full"},
}


def uploads_closed(service: ArenaService) -> bool:
    """Whether the organiser closed uploads: the registry as it is now (no restart)."""
    registry = service.registry()
    return registry is not None and registry.competition.uploads.closed


def strategy_router(limiter: Limiter, uploads_per_minute: int) -> APIRouter:
    """The routes, with the upload limit of this app (tests use their own)."""
    router = APIRouter(prefix="/api/v1/team/{team_id}/strategy", tags=["strategy"])

    @router.post("", status_code=201, openapi_extra=UPLOAD_FORM, responses=UPLOAD_ANSWERS)
    @limiter.limit(f"{uploads_per_minute}/minute")
    async def upload(request: Request, team_id: TeamId, service: Service):
        """A new version: every problem is listed (422); only a version that passes the
        static checks and a smoke call in the sandbox is stored, and the engine swaps it in.
        Code the team uploaded before is checked again and swapped in again (`again`: it
        revives a disabled team). A team whose stored versions would pass its quota is
        refused (409), and so is every upload once the organiser closed them. The answer says
        whether an engine runs on the competition: 201 if one does, else 202 (the version is
        stored, and goes live when one runs again; decision 0032)."""
        if uploads_closed(service):
            raise HTTPException(409, {"problems": [CLOSED]})
        form = await read_upload_form(request)
        pipeline = request.app.state.uploads
        params = service.team_params(team_id)
        outcome = await run_in_threadpool(  # the smoke test blocks up to the budget
            pipeline.accept, team_id, form.filename, form.payload, form.entry_point, params
        )
        if not outcome.accepted:
            status = 409 if outcome.over_quota else 422
            raise HTTPException(status, {"problems": outcome.problems, "version": outcome.version})
        body = {"version": outcome.version, "report": outcome.report, "again": outcome.duplicate}
        if running_engine(service.data_dir) is None:
            return JSONResponse({**body, "engine": "not running", "live": NOT_RUNNING}, 202)
        return {**body, "engine": "running", "live": "from the engine's next tick"}

    @router.get("")
    def versions(team_id: TeamId, service: Service):
        """Every version, newest first: each accepted upload with its validation report
        (`source: upload`, `uploaded_at` on the wall clock, UTC), and last the registry's own
        (`source: registry`), which the engine runs until an upload replaces it. The times
        of trades and events are the market's minute, which in a replay is not today."""
        return {"versions": service.strategy_versions(team_id)[::-1]}

    return router
