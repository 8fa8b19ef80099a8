"""`GET /readyz`: whether a service can do its work now (database, Redis, trust data fresh).

`/healthz` stays liveness (the process answers, restart it if not); `/readyz` is what a load
balancer or Kubernetes routes by: 200 when every check passes, else 503 with each failing
check's problem in plain words. A failing *optional* check (Redis: services degrade without it,
as documented) answers 200 with status "degraded": taking every replica out of the load
balancer because Redis is down would turn a degradation into an outage. A check is a plain
function returning None (fine) or the problem; it runs in a thread with a deadline, so a
hanging database makes `/readyz` answer 503 in `READINESS_TIMEOUT_S`, never hang or 500.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, event, text

from healthcode.server.metrics import BACKEND_ERRORS

Check = Callable[[], str | None]
READINESS_TIMEOUT_S = 2.0


def database_check(engine: Engine, service: str) -> Check:
    """The database answers `SELECT 1`. Also counts every error the engine raises, wherever
    it is used, in `hc_backend_errors_total{backend="database"}`."""
    errors = BACKEND_ERRORS.labels(service, "database")
    event.listen(engine, "handle_error", lambda _context: errors.inc())

    def check() -> str | None:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as error:
            return f"the database does not answer ({type(error).__name__})"
        return None

    return check


def redis_check(url: str, service: str, timeout_s: float = 1.0) -> Check:
    """Redis (a server or a cluster, ADR 0024) answers PING."""
    import redis

    from healthcode.server.redis_client import connect_redis

    client = connect_redis(url, timeout_s=timeout_s)

    def check() -> str | None:
        try:
            client.ping()
        except (redis.RedisError, OSError) as error:
            BACKEND_ERRORS.labels(service, "redis").inc()
            return f"Redis does not answer ({type(error).__name__}); running degraded"
        return None

    return check


def freshness_check(what: str, updated_at: Callable[[], float | None], max_age_s: float) -> Check:
    """`updated_at()` (epoch seconds) is no older than `max_age_s`."""

    def check() -> str | None:
        at = updated_at()
        if at is None:
            return f"no {what} yet"
        age = time.time() - at
        if age > max_age_s:
            return f"the {what} is {age:.0f} s old (limit {max_age_s:.0f} s)"
        return None

    return check


def install_readiness(
    app: FastAPI, checks: Mapping[str, Check], optional: Iterable[str] = ("redis",)
) -> None:
    """Add `GET /readyz` running `checks` (services add theirs to `app.state.readiness`)."""
    app.state.readiness = dict(checks)
    app.state.readiness_optional = set(optional)

    async def run(check: Check) -> str | None:
        try:
            return await asyncio.wait_for(asyncio.to_thread(check), READINESS_TIMEOUT_S)
        except TimeoutError:
            return f"no answer within {READINESS_TIMEOUT_S:.0f} s"
        except Exception as error:  # a broken check is a failing check, not a 500
            return f"the check failed ({type(error).__name__})"

    @app.get("/readyz", tags=["ops"], response_class=JSONResponse)
    async def readyz() -> JSONResponse:
        """Readiness: 200 if the database, Redis and trust data are usable, else 503 with
        the failing checks."""
        registered: dict[str, Check] = app.state.readiness
        names = list(registered)
        problems = await asyncio.gather(*(run(registered[name]) for name in names))
        results = {name: problem or "ok" for name, problem in zip(names, problems, strict=True)}
        optional: set[str] = app.state.readiness_optional
        failing = {name for name, problem in zip(names, problems, strict=True) if problem}
        ready = not failing - optional
        status = "not ready" if not ready else "degraded" if failing else "ready"
        return JSONResponse(
            {"status": status, "checks": results}, status_code=200 if ready else 503
        )
