"""The issuer's readiness checks and data ages (ADR 0023); its hot-path counters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from healthcode.server.metrics import CODE_CACHE, watch_age
from healthcode.server.readiness import Check, database_check, redis_check
from issuers.context import IssuerContext

SERVICE = "issuer"
#: `hc_code_cache_total` children: hit (Redis answered), miss (database, then cached),
#: bypass (Redis could not decide: the database answered).
CACHE_HIT, CACHE_MISS, CACHE_BYPASS = (
    CODE_CACHE.labels(SERVICE, result) for result in ("hit", "miss", "bypass")
)


def _epoch(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def issuer_readiness(context: IssuerContext, trust_client: Any | None) -> dict[str, Check]:
    """Database; Redis (optional: the service degrades without it); with a registry, a
    trust list that is not stale (partner look-ups and transcodes need it)."""
    checks: dict[str, Check] = {"database": database_check(context.engine, SERVICE)}
    if context.settings.redis_url:
        checks["redis"] = redis_check(
            context.settings.redis_url, SERVICE, timeout_s=context.settings.redis_timeout_s
        )
    if trust_client is not None:
        watch_age(SERVICE, "trust_list", lambda: _epoch(trust_client.status().get("signed_at")))

        def trust_list() -> str | None:
            status = trust_client.status()
            if status.get("version") is None:
                return "no verified trust list from the registry yet"
            if status.get("stale"):
                return "the trust list is stale (registry unreachable or frozen)"
            return None

        checks["trust_list"] = trust_list
    return checks
