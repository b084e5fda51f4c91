"""The API's docs, served from this host: Swagger UI at /docs and ReDoc at /redoc, both
vendored in web/static/vendor (see their SOURCE.txt), so the docs work offline like the
pages (FastAPI's own /docs and /redoc load them from a CDN)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

SWAGGER = "/static/vendor/swagger-ui"
REDOC_JS = "/static/vendor/redoc/redoc.standalone.js"
router = APIRouter(include_in_schema=False)


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Strategy Arena · API",
        swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png",
    )


@router.get("/redoc", response_class=HTMLResponse)
def redoc() -> HTMLResponse:
    return get_redoc_html(
        openapi_url="/openapi.json",
        title="Strategy Arena · API",
        redoc_js_url=REDOC_JS,
        redoc_favicon_url=f"{SWAGGER}/favicon-32x32.png",
        with_google_fonts=False,
    )
