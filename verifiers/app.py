"""The checkpoint verifier service: `create_app(settings)` builds the FastAPI app.

The app is assembled from three parts: `CheckpointService` (`verifiers.service`, what the
process holds and does), the routes (`verifiers.routes`) and the scan endpoint
(`verifiers.hotpath`, registered once, ahead of routing). The background jobs run for the
app's lifetime.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from healthcode.server import build_routes, create_base_app
from healthcode.server.background import background_tasks, run_every
from verifiers.hotpath import MAX_SCAN_BODY, answer_scan, install_scan_endpoint
from verifiers.observability import checkpoint_readiness
from verifiers.routes import BatchRequest, add_routes
from verifiers.service import CheckpointService, purge_records
from verifiers.settings import VerifierSettings
from verifiers.trustsource import TrustSource

__all__ = [
    "MAX_SCAN_BODY",
    "BatchRequest",
    "CheckpointService",
    "answer_scan",
    "create_app",
    "purge_records",
]

logger = logging.getLogger("verifiers")


def create_app(
    settings: VerifierSettings | None = None, *, trust_source: TrustSource | None = None
) -> FastAPI:
    """Build the checkpoint app; `trust_source` overrides the one built from settings."""
    settings = settings or VerifierSettings()
    service = CheckpointService(settings, trust_source)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        jobs = []
        if settings.background_tasks:
            service.syncs.start()  # one worker per source (healthcode.peersync)
            jobs.append(
                run_every(settings.purge_interval_s, service.purge, name="purge", log=logger)
            )
            if service.published_revocations is not None:
                jobs.append(
                    run_every(
                        settings.revocation_mirror_interval_s,
                        service.refresh_published_revocations,
                        name="revocation mirror refresh",
                        log=logger,
                    )
                )
        async with background_tasks(jobs):
            try:
                yield
            finally:
                service.close()

    app = create_base_app(
        title="healthcode checkpoint verifier",
        lifespan=lifespan,
        description="Verifies health codes, ID-card reads and printed codes at checkpoints.",
        # Every body but a photo's (bounded by its route, after authentication) is bounded
        # before anything reads or parses it. The scan endpoint is installed after this
        # middleware, so it sits in front of it: a scan never passes through it (it has its
        # own bound).
        max_body_bytes=settings.max_body_bytes,
        unlimited_body_paths=("/v1/scan/image",),
        service="checkpoint",
        readiness=checkpoint_readiness(service),
        optional_readiness=("redis", "revocations"),
    )
    app.state.service = service
    add_routes(app, service)
    install_scan_endpoint(app, service)
    return build_routes(app)
