"""Prometheus metrics of every service, served at `GET /metrics` (ADR 0023).

One set of metric families shared by all services, labelled by `service`:

- `hc_http_requests_total{service,route,method,status}` and
  `hc_http_request_duration_seconds{service,route}`: every request, by route template (never
  the raw path: it could hold personal data, and unbounded label values would grow forever);
- `hc_errors_total{service,code}`: every error answer by its stable code;
- `hc_backend_errors_total{service,backend}`: database and Redis failures;
- `hc_scans_total{service,result}`: checkpoint scans by verdict;
- `hc_code_cache_total{service,result}`: the issuer's citizen hot path (hit, miss, bypass);
- `hc_data_age_seconds{service,data}`: age of trust lists and revocation data, refreshed at
  each scrape by the functions services register with `watch_age`.

With several worker processes, set `PROMETHEUS_MULTIPROC_DIR` to an empty directory shared by
them (prometheus-client's multi-process mode): `/metrics` then sums every worker's files.
Cost on a hot path: one dict look-up for the cached label child and one `inc`/`observe`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter(
    "hc_http_requests", "HTTP requests answered", ["service", "route", "method", "status"]
)
DURATION = Histogram(
    "hc_http_request_duration_seconds",
    "Time from request start to the end of the answer",
    ["service", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
)
ERRORS = Counter("hc_errors", "Error answers by stable error code", ["service", "code"])
BACKEND_ERRORS = Counter("hc_backend_errors", "Database and Redis failures", ["service", "backend"])
SCANS = Counter("hc_scans", "Checkpoint scans by verdict", ["service", "result"])
CODE_CACHE = Counter("hc_code_cache", "Citizen hot path answers by source", ["service", "result"])
DATA_AGE = Gauge(
    "hc_data_age_seconds",
    "Age of trust lists and revocation data (-1: none yet)",
    ["service", "data"],
    multiprocess_mode="livemax",
)

_age_watchers: dict[tuple[str, str], Callable[[], float | None]] = {}


def watch_age(service: str, data: str, updated_at: Callable[[], float | None]) -> None:
    """Report `now - updated_at()` (epoch seconds; None: never) as hc_data_age_seconds (the
    latest app built in a process owns each pair)."""
    _age_watchers[(service, data)] = updated_at


def _refresh_ages() -> None:
    now = time.time()
    for (service, data), updated_at in list(_age_watchers.items()):
        try:
            at = updated_at()
        except Exception:  # a broken source must not break the scrape
            at = None
        DATA_AGE.labels(service, data).set(-1.0 if at is None else max(0.0, now - at))


def exposition() -> tuple[bytes, str]:
    """The metrics text and its content type (all worker processes in multi-process mode)."""
    _refresh_ages()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


class RequestMetrics:
    """ASGI middleware counting and timing every HTTP request by route template."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def _child(self, route: str, method: str, status: int) -> tuple[Any, Any]:
        key = (route, method, status)
        child = self._children.get(key)
        if child is None:
            child = (
                REQUESTS.labels(self.service, route, method, str(status)),
                DURATION.labels(self.service, route),
            )
            self._children[key] = child
        return child

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            record(self, scope, status, started)


def record(metrics: RequestMetrics, scope: Scope, status: int, started: float) -> None:
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    counter, histogram = metrics._child(template or "unmatched", scope["method"], status)
    counter.inc()
    histogram.observe(time.perf_counter() - started)


def count_request(service: str, route: str, method: str, status: int, seconds: float) -> None:
    """Count a request answered outside the ASGI app (the checkpoint's scan fast path)."""
    REQUESTS.labels(service, route, method, str(status)).inc()
    DURATION.labels(service, route).observe(seconds)
