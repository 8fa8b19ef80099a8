"""The issuer service app: `create_app(IssuerSettings())`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from fastapi import FastAPI

from healthcode.errors import HealthcodeError
from healthcode.keys import SigningKey
from healthcode.server import create_base_app
from healthcode.trust import IssuerEntry, TrustedKey, TrustStore
from issuers.api import api_router
from issuers.context import IssuerContext
from issuers.settings import IssuerSettings

logger = logging.getLogger("issuers")

#: How often a failed Redis publication is retried (a full rebuild from the database).
REDIS_RETRY_INTERVAL_S = 5.0
#: How often the Redis set is rebuilt to drop revocations of codes that have expired.
REDIS_PRUNE_INTERVAL_S = 3600.0
#: How often partners' revocation feeds are applied to codes transcoded from theirs.
PARTNER_SYNC_INTERVAL_S = 60.0


def _own_trust(context: IssuerContext) -> Callable[[], TrustStore]:
    """Without a registry: trust only this issuer's own keys (single-province use)."""

    def current() -> TrustStore:
        settings = context.settings
        keys = tuple(TrustedKey(key) for key in context.keyring.published_keys())
        return TrustStore(
            [
                IssuerEntry(
                    id=settings.issuer_id,
                    name=settings.issuer_name,
                    keys=keys,
                    region=settings.region,
                    endpoints={"partner_api": settings.partner_audience},
                )
            ],
            source="own-keys",
        )

    return current


def registry_trust(settings: IssuerSettings) -> tuple[Callable[[], TrustStore], object] | None:
    if settings.registry_url is None or settings.pinned_root is None:
        return None
    from healthcode.trustclient import TrustListClient

    client = TrustListClient(settings.registry_url, settings.pinned_root, settings.trust_cache_dir)
    return client.current, client


def create_app(
    settings: IssuerSettings,
    *,
    trust: Callable[[], TrustStore] | None = None,
) -> FastAPI:
    """Build the issuer app. `trust` overrides where partner and relayed credentials are
    verified (default: the registry's trust list when configured, else own keys only)."""
    context = IssuerContext.create(settings)
    registry = None if trust is not None else registry_trust(settings)
    if trust is None:
        trust = registry[0] if registry is not None else _own_trust(context)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = registry[1] if registry is not None else None
        if client is not None:
            with contextlib.suppress(Exception):
                client.refresh()  # type: ignore[attr-defined]
            client.start_background_refresh()  # type: ignore[attr-defined]
        retry_task = None
        if context.publisher is not None:
            # Redis may have restarted empty: republish every unexpired revocation at startup.
            if not await asyncio.to_thread(context.publisher.rebuild):
                logger.warning("revocations not yet in Redis; retrying in the background")
            retry_task = asyncio.create_task(_retry_redis(context))
        partner_key = app.state.partner_key
        sync_task = (
            asyncio.create_task(_sync_partners(context, trust, partner_key))
            if partner_key is not None
            else None
        )
        try:
            yield
        finally:
            for task in (retry_task, sync_task):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if client is not None:
                client.stop()  # type: ignore[attr-defined]
            context.close()

    app = create_base_app(
        title=f"healthcode issuer {settings.issuer_id}",
        lifespan=lifespan,
        description="Province issuer: citizens, feeds, status rules, codes, revocation.",
    )
    app.state.context = context
    app.state.trust = trust
    app.state.partner_key = (
        SigningKey.load(settings.partner_key_file) if settings.partner_key_file else None
    )
    app.include_router(api_router)
    _mount_partner_api(app, context, trust)
    return app


def _mount_partner_api(
    app: FastAPI, context: IssuerContext, trust: Callable[[], TrustStore]
) -> None:
    from interop.partner import create_partner_router
    from issuers.partner import IssuerPartnerBackend

    settings = context.settings
    router = create_partner_router(
        IssuerPartnerBackend(context),
        trust=trust,
        redis_url=settings.redis_url,
        audience=settings.partner_audience,
        rate_limit_per_minute=settings.partner_rate_limit_per_minute,
    )
    app.include_router(router, prefix="/partner/v1")


async def _sync_partners(
    context: IssuerContext, trust: Callable[[], TrustStore], partner_key: SigningKey
) -> None:
    """Revoke transcoded codes whose partner source was revoked (standard §10.3)."""
    from issuers.partner_sync import sync_partner_revocations

    while True:
        await asyncio.sleep(PARTNER_SYNC_INTERVAL_S)
        try:
            await asyncio.to_thread(sync_partner_revocations, context, trust(), partner_key)
        except HealthcodeError as error:  # no trust list yet: try again next round
            logger.warning("partner revocation sync skipped: %s", error.code.value)


async def _retry_redis(context: IssuerContext) -> None:
    """Retry failed publications; rebuild hourly so expired jtis leave the Redis set."""
    assert context.publisher is not None
    loop = asyncio.get_running_loop()
    next_prune = loop.time() + REDIS_PRUNE_INTERVAL_S
    while True:
        await asyncio.sleep(REDIS_RETRY_INTERVAL_S)
        if loop.time() >= next_prune:
            next_prune = loop.time() + REDIS_PRUNE_INTERVAL_S
            await asyncio.to_thread(context.publisher.rebuild)
        elif not context.publisher.healthy:
            await asyncio.to_thread(context.publisher.retry)
