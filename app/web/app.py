"""`create_app`: the API (and later the pages) over one data directory."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from slowapi import Limiter
from slowapi.errors import RateLimitExceeded

from app.config.settings import ArenaSettings
from app.runtime.competition import sandbox_settings
from app.uploads.pipeline import UploadPipeline
from app.uploads.store import MIB, Quota, StrategyStore
from app.web.bodies import CloseUnreadBodies
from app.web.keys import KeyStore
from app.web.responses import OrjsonResponse
from app.web.routes import admin, docs, market, pages, public, strategy, team
from app.web.routes.pages import WEB_DIR
from app.web.service import ArenaService, NotFoundError
from sandbox.host.supervisor import SandboxSettings


def create_app(settings: ArenaSettings | None = None, data_dir: Path | None = None) -> FastAPI:
    settings = settings or ArenaSettings()
    folder = Path(data_dir or settings.data_dir)
    app = FastAPI(
        title="Strategy Arena",
        summary="Team status, the leaderboard, strategy uploads and organiser controls.",
        default_response_class=OrjsonResponse,
        docs_url=None,  # served from this host by routes/docs.py, not from a CDN
        redoc_url=None,
    )
    app.add_middleware(CloseUnreadBodies)  # a refusal before the body is read ends the connection
    service = ArenaService(folder, settings.registry)
    app.state.service = service
    app.state.keys = KeyStore(folder)
    app.state.uploads = UploadPipeline(
        StrategyStore(folder), service.lake, _sandbox(service), lambda: _quota(service)
    )
    limiter = Limiter(key_func=strategy.key_of_caller)
    app.state.limiter = limiter
    app.add_exception_handler(RateLimitExceeded, _too_many_uploads)
    uploads = strategy.strategy_router(limiter, settings.uploads_per_minute)
    routers = (public.router, team.router, uploads, market.router, admin.router)
    for router in (*routers, pages.router, docs.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")

    @app.exception_handler(NotFoundError)
    async def not_found(_request: Request, error: NotFoundError) -> JSONResponse:
        return OrjsonResponse({"detail": str(error)}, status_code=404)

    @app.exception_handler(ValueError)
    async def bad_value(_request: Request, error: ValueError) -> JSONResponse:
        return OrjsonResponse({"detail": str(error)}, status_code=422)

    return app


def _too_many_uploads(request: Request, error: RateLimitExceeded) -> JSONResponse:
    """429 in words: how many uploads a minute, and when the next one is possible (also as
    Retry-After, in seconds)."""
    limit = error.limit.limit
    reset_at, _left = request.app.state.limiter.limiter.get_window_stats(
        limit, *request.state.view_rate_limit[1]
    )
    wait = max(1, math.ceil(reset_at - time.time()))
    at = datetime.fromtimestamp(time.time() + wait, UTC).strftime("%H:%M:%S UTC")
    problem = (
        f"too many uploads: {limit.amount} a minute per key; the next upload is possible "
        f"in {wait} s (at {at})"
    )
    return OrjsonResponse(
        {"detail": {"problems": [problem]}, "retry_after": wait},
        status_code=429,
        headers={"Retry-After": str(wait)},
    )


def _quota(service: ArenaService) -> Quota:
    """The registry's upload quota as it is now: the organiser may raise it while serving."""
    registry = service.registry()
    if registry is None:
        return Quota()
    config = registry.competition.uploads
    return Quota(max_bytes=config.quota_mb * MIB, max_versions=config.max_versions)


def _sandbox(service: ArenaService) -> SandboxSettings:
    """The competition's sandbox settings (its budget and blocked imports), or the defaults."""
    registry = service.registry()
    return sandbox_settings(registry) if registry is not None else SandboxSettings()
