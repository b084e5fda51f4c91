"""Strategy uploads: validated, smoke-tested in the sandbox, stored, then swapped in by the
running engine at its next tick. Rate limited per team key, not per address."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from slowapi import Limiter
from starlette.concurrency import run_in_threadpool

from app.uploads.unpack import MAX_UPLOAD_BYTES
from app.web.deps import Service, TeamId


def key_of_caller(request: Request) -> str:
    """Teams behind one proxy share an address but not a key: limit by the key's hash."""
    key = request.headers.get("x-api-key") or request.query_params.get("key") or ""
    return hashlib.sha256(key.encode()).hexdigest()


def strategy_router(limiter: Limiter, uploads_per_minute: int) -> APIRouter:
    """The routes, with the upload limit of this app (tests use their own)."""
    router = APIRouter(prefix="/api/v1/team/{team_id}/strategy", tags=["strategy"])

    @router.post("", status_code=201)
    @limiter.limit(f"{uploads_per_minute}/minute")
    async def upload(
        request: Request,
        team_id: TeamId,
        service: Service,
        file: Annotated[UploadFile, File(description="a .py file or a .zip package")],
        entry_point: Annotated[str | None, Form()] = None,
    ):
        """A new version: every problem is listed (422); only a version that passes the
        static checks and a smoke call in the sandbox is stored, and the engine swaps it in."""
        payload = await file.read(MAX_UPLOAD_BYTES + 1)
        if len(payload) > MAX_UPLOAD_BYTES:
            too_big = f"the upload is over {MAX_UPLOAD_BYTES:,} bytes"
            raise HTTPException(413, {"problems": [too_big]})
        pipeline = request.app.state.uploads
        params = service.team_params(team_id)
        outcome = await run_in_threadpool(  # the smoke test blocks up to the budget
            pipeline.accept, team_id, file.filename or "", payload, entry_point or None, params
        )
        if not outcome.accepted:
            status = 409 if outcome.duplicate else 422
            raise HTTPException(status, {"problems": outcome.problems, "version": outcome.version})
        return {"version": outcome.version, "report": outcome.report,
                "live": "from the engine's next tick"}  # fmt: skip

    @router.get("")
    def versions(team_id: TeamId, service: Service):
        """Every accepted version with its validation report, newest first."""
        return {"versions": service.strategy_versions(team_id)[::-1]}

    return router
