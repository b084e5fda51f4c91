"""The HTTP API and pages: `create_app(settings)` builds the FastAPI app over a data dir."""

from app.web.app import create_app

__all__ = ["create_app"]
