"""Base FastAPI app: error handlers, request size limit, health endpoint, OpenAPI and its
`/docs` page from vendored assets."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Response
from starlette.routing import Mount

from healthcode import __version__
from healthcode.server.docs import install_docs
from healthcode.server.errors import install_error_handlers
from healthcode.server.limits import DEFAULT_MAX_BODY_BYTES, BodySizeLimit
from healthcode.server.logs import RequestIds
from healthcode.server.metrics import RequestMetrics, exposition
from healthcode.server.openapi import document_common_errors
from healthcode.server.readiness import Check, install_readiness

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_base_app(
    *,
    title: str,
    lifespan: Lifespan | None = None,
    description: str = "",
    max_body_bytes: int | None = DEFAULT_MAX_BODY_BYTES,
    unlimited_body_paths: Sequence[str] = (),
    service: str = "service",
    readiness: Mapping[str, Check] | None = None,
    optional_readiness: Sequence[str] = ("redis",),
) -> FastAPI:
    """A FastAPI app with the standard error mapping, `GET /healthz` (liveness), `GET /readyz`
    (`readiness` checks; those named in `optional_readiness` only degrade it), `GET /metrics`
    (Prometheus, labelled `service`), request ids and per-route request metrics.

    Request bodies over `max_body_bytes` are refused with `input_too_large` (413); None turns
    the limit off. Paths starting with one of `unlimited_body_paths` are exempt (streamed
    uploads that enforce a limit of their own).
    """
    # No CDN: FastAPI's own /docs and /redoc load their scripts from one (see server.docs).
    app = FastAPI(
        title=title,
        version=__version__,
        description=description,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.service_name = service
    install_error_handlers(app)
    install_docs(app)
    document_common_errors(app)
    install_readiness(app, readiness or {}, optional_readiness)
    if max_body_bytes is not None:
        app.add_middleware(
            BodySizeLimit, max_bytes=max_body_bytes, exempt_prefixes=tuple(unlimited_body_paths)
        )
    # Outermost: every answer is counted and carries its request id, refusals included.
    app.add_middleware(RequestMetrics, service=service)
    app.add_middleware(RequestIds)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/metrics", tags=["ops"], response_class=Response)
    async def metrics() -> Response:
        """Prometheus metrics of this service (every worker's, in multi-process mode)."""
        body, content_type = exposition()
        return Response(body, media_type=content_type)

    return app


def build_routes(app: FastAPI) -> FastAPI:
    """Build now, in the calling thread, what FastAPI would build on an included router's
    first request (each route's handler, dependency tree and pydantic adapters).

    Every service factory ends with this. Building on the first request would run it on the
    serving thread, and pydantic's adapters are built under `warnings.catch_warnings()`,
    which swaps one process-wide filter list: two apps of one process (the test suite, an
    embedded deployment) building at once restored each other's filters mid-build, and a
    warning FastAPI meant to silence escaped, raised as an error under a strict filter.
    Routes added later are still built lazily, as FastAPI does.
    """
    _build_included(app.router.routes)
    return app


def _build_included(routes: Iterable[Any]) -> None:
    for route in routes:
        # FastAPI >= 0.16x keeps included routers unbuilt until first use; older versions
        # build them in include_router() and have nothing here to build.
        candidates = getattr(route, "effective_candidates", None)
        if candidates is not None:
            route.effective_low_priority_routes()
            _build_included(candidates())
        elif isinstance(route, Mount) and isinstance(route.app, FastAPI):
            _build_included(route.app.router.routes)
