"""`create_app`: the API (and later the pages) over one data directory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from app.settings import ArenaSettings
from app.web.keys import KeyStore
from app.web.responses import OrjsonResponse
from app.web.routes import admin, market, pages, public, team
from app.web.routes.pages import WEB_DIR
from app.web.service import ArenaService, NotFoundError


def create_app(settings: ArenaSettings | None = None, data_dir: Path | None = None) -> FastAPI:
    settings = settings or ArenaSettings()
    folder = Path(data_dir or settings.data_dir)
    app = FastAPI(
        title="Strategy Arena",
        summary="Team status, the leaderboard, strategy uploads and organiser controls.",
        default_response_class=OrjsonResponse,
    )
    app.state.service = ArenaService(folder, settings.registry)
    app.state.keys = KeyStore(folder)
    for router in (public.router, team.router, market.router, admin.router, pages.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")

    @app.exception_handler(NotFoundError)
    async def not_found(_request: Request, error: NotFoundError) -> JSONResponse:
        return OrjsonResponse({"detail": str(error)}, status_code=404)

    @app.exception_handler(ValueError)
    async def bad_value(_request: Request, error: ValueError) -> JSONResponse:
        return OrjsonResponse({"detail": str(error)}, status_code=422)

    return app
