"""The checkpoint's metrics and readiness (ADR 0023): scans by verdict, data ages, checks."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from healthcode.errors import ErrorCode
from healthcode.server.metrics import ERRORS, SCANS, watch_age
from healthcode.server.readiness import Check, database_check

if TYPE_CHECKING:
    from verifiers.service import CheckpointService

SERVICE = "checkpoint"
_scan_children: dict[str, Any] = {}


def count_scan(display: str) -> None:
    """One answered scan, by what the screen showed (green, yellow, red, invalid, ...)."""
    child = _scan_children.get(display)
    if child is None:
        child = _scan_children[display] = SCANS.labels(SERVICE, display)
    child.inc()


def count_scan_refusal(code: ErrorCode) -> None:
    """A scan request refused before any verdict (bad token, malformed body, ...)."""
    count_scan("refused")
    ERRORS.labels(SERVICE, code.value).inc()


def _trust_list_signed_at(service: CheckpointService) -> float | None:
    age = service.checkpoint.trust_status(time.time()).get("age_s")
    return None if age is None else time.time() - float(age)


def _oldest_revocations(service: CheckpointService) -> float | None:
    """When the stalest issuer's revocation data were current (None: no issuer has any)."""
    moments = [
        float(state["as_of"])
        for state in service.revocations.status(time.time()).values()
        if state["as_of"] is not None
    ]
    return min(moments) if moments else None


def checkpoint_readiness(service: CheckpointService) -> dict[str, Check]:
    """Database, a usable trust list, every issuer's revocation data fresh (optional: a stale
    issuer's codes fail closed, the others still verify)."""
    watch_age(SERVICE, "trust_list", lambda: _trust_list_signed_at(service))
    watch_age(SERVICE, "revocations", lambda: _oldest_revocations(service))

    def trust_list() -> str | None:
        status = service.checkpoint.trust_status(time.time())
        if not status.get("available"):
            return "no verified trust list: every scan fails; check the registry"
        return None

    def revocations() -> str | None:
        stale = [
            issuer
            for issuer, state in service.revocations.status(time.time()).items()
            if not state["fresh"]
        ]
        if stale:
            return f"revocation data stale for {len(stale)} issuer(s): their codes fail closed"
        return None

    return {
        "database": database_check(service.engine, SERVICE),
        "trust_list": trust_list,
        "revocations": revocations,
    }
