"""Base FastAPI app: error handlers, health endpoint, OpenAPI at /openapi.json."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI

from healthcode import __version__
from healthcode.server.errors import install_error_handlers

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_base_app(
    *, title: str, lifespan: Lifespan | None = None, description: str = ""
) -> FastAPI:
    """A FastAPI app with the standard error mapping and `GET /healthz`."""
    app = FastAPI(title=title, version=__version__, description=description, lifespan=lifespan)
    install_error_handlers(app)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    return app
