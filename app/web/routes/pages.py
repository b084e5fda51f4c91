"""The HTML pages (jinja2 templates in web/templates, assets in web/static)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.web.deps import Service

WEB_DIR = Path(__file__).resolve().parents[3] / "web"
REFRESH_SECONDS = 30
router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=WEB_DIR / "templates")


def _fmt(value: Any, digits: int = 2) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return ""
    return "" if math.isnan(number) else f"{number:.{digits}f}"


def _money(value: Any) -> str:
    try:
        return f"{float(value):,.2f}"
    except (TypeError, ValueError):
        return ""


templates.env.globals.update(fmt=_fmt, money=_money)


@router.get("/leaderboard", response_class=HTMLResponse)
def leaderboard(request: Request, service: Service):
    context = {"rows": service.leaderboard(), "refresh_seconds": REFRESH_SECONDS}
    return templates.TemplateResponse(request, "leaderboard.html", context)


@router.get("/team", response_class=HTMLResponse)
def team(request: Request):
    return templates.TemplateResponse(request, "team.html", {})


@router.get("/", response_class=HTMLResponse)
def home(request: Request, service: Service):
    return leaderboard(request, service)
