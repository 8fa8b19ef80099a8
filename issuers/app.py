"""The issuer service app: `create_app(IssuerSettings())`."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable

from fastapi import FastAPI

from healthcode.errors import ErrorCode, RequestError
from healthcode.fetch import PEER_BOUNDS
from healthcode.keys import SigningKey
from healthcode.peersync import PeerSyncs
from healthcode.server import build_routes, create_base_app
from healthcode.server.background import background_tasks, run_every
from healthcode.server.leases import Lease, lease_ttl
from healthcode.trust import IssuerEntry, TrustedKey, TrustStore
from issuers.api import api_router, hot_router
from issuers.api.me import install_citizen_hot_path
from issuers.context import IssuerContext
from issuers.importer import mark_interrupted_imports
from issuers.observability import issuer_readiness
from issuers.partner_sync import PartnerRevocations
from issuers.settings import IssuerSettings
from issuers.webapp import mount_web_app

logger = logging.getLogger("issuers")


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
        # An import killed with its process still says "running": say it was interrupted.
        await asyncio.to_thread(mark_interrupted_imports, context)
        client = registry[1] if registry is not None else None
        if client is not None:
            with contextlib.suppress(Exception):
                client.refresh()  # type: ignore[attr-defined]
            client.start_background_refresh()  # type: ignore[attr-defined]
        if context.publisher is not None:
            # Redis may have restarted empty: republish every unexpired revocation at startup.
            # Bounded by the publisher's short timeouts; its worker thread then retries
            # failures, catches up other processes' revocations and prunes hourly.
            if not await asyncio.to_thread(context.publisher.rebuild):
                logger.warning("revocations not yet in Redis; retrying in the background")
            context.publisher.start()
        if context.hot is not None:
            # Its worker rebuilds the revoked-session set whenever Redis lacks it; until then
            # citizen requests are checked in the database.
            context.hot.start()
        partner_key = app.state.partner_key
        # Once per round across replicas: whichever holds the job's lease runs it (ADR 0025).
        purge_lease = Lease(
            context.engine,
            "issuer:session-purge",
            ttl_s=lease_ttl(settings.session_purge_interval_s),
        )
        holder = purge_lease.holder  # one name for this replica in every lease
        sync_leases = PartnerLeases(context, holder)
        interval = settings.session_purge_interval_s
        jobs = [
            run_every(
                interval,
                functools.partial(_purge_sessions, context, purge_lease),
                name="login purge",
                first_delay_s=interval,
                log=logger,
            )
        ]
        # Each partner in its own worker (`healthcode.peersync`): a slow or hostile partner
        # never delays another's sync. The job below follows the trust list: a partner added
        # gets a worker, one removed loses it.
        partner_syncs = PeerSyncs()
        if partner_key is not None:
            partner_syncs.start()
            store = app.state.partner_revocations
            jobs.append(
                run_every(
                    settings.partner_sync_interval_s,
                    functools.partial(
                        _put_partner_sources,
                        partner_syncs,
                        context,
                        trust,
                        partner_key,
                        store,
                        sync_leases,
                    ),
                    name="partner revocation sync",
                    log=logger,
                )
            )
        async with background_tasks(jobs):
            try:
                yield
            finally:
                partner_syncs.stop()
                for lease in [purge_lease, *sync_leases.taken()]:
                    await asyncio.to_thread(lease.release)
                if client is not None:
                    client.stop()  # type: ignore[attr-defined]
                if context.hot is not None:
                    await context.hot.aclose()
                context.close()

    app = create_base_app(
        title=f"healthcode issuer {settings.issuer_id}",
        lifespan=lifespan,
        description="Province issuer: citizens, feeds, status rules, codes, revocation.",
        max_body_bytes=settings.max_request_bytes,
        # Feeds stream to a spool file and have their own limit (max_feed_bytes).
        unlimited_body_paths=("/v1/feeds/",),
        service="issuer",
        readiness=issuer_readiness(context, registry[1] if registry is not None else None),
    )
    app.state.context = context
    app.state.trust = trust
    app.state.partner_key = (
        SigningKey.load(settings.partner_key_file) if settings.partner_key_file else None
    )
    app.include_router(hot_router)
    install_citizen_hot_path(app, context)
    app.include_router(api_router)
    _mount_partner_api(app, context, trust)
    mount_web_app(app)
    return build_routes(app)


def _mount_partner_api(
    app: FastAPI, context: IssuerContext, trust: Callable[[], TrustStore]
) -> None:
    from healthcode.server.partner import create_partner_router
    from issuers.partner import IssuerPartnerBackend
    from issuers.partner_sync import sync_partner_revocations

    settings = context.settings
    store = PartnerRevocations.for_context(context)
    partner_key: SigningKey | None = app.state.partner_key

    def refresh(partner_id: str) -> None:
        # A stale partner is synced on the spot, so a transcode fails only if that fails.
        if partner_key is not None:
            sync_partner_revocations(context, trust(), partner_key, store=store, only=partner_id)

    app.state.partner_revocations = store
    router = create_partner_router(
        IssuerPartnerBackend(context),
        trust=trust,
        redis_url=settings.redis_url,
        audience=settings.partner_audience,
        rate_limit_per_minute=settings.partner_rate_limit_per_minute,
        # §10.3: transcoding checks the source against the partner's revocation data.
        revocation_checker=store.checker(refresh),
        demo_mode=settings.demo_mode,
    )
    app.include_router(router, prefix="/partner/v1")


class PartnerLeases:
    """One lease per partner's revocation sync, all held under this replica's name."""

    def __init__(self, context: IssuerContext, holder: str) -> None:
        self._context = context
        self._holder = holder
        self._leases: dict[str, Lease] = {}

    def of(self, partner_id: str) -> Lease:
        if partner_id not in self._leases:
            self._leases[partner_id] = Lease(
                self._context.engine,
                f"issuer:partner-sync:{partner_id}"[:64],
                ttl_s=lease_ttl(self._context.settings.partner_sync_interval_s),
                holder=self._holder,
            )
        return self._leases[partner_id]

    def taken(self) -> list[Lease]:
        return list(self._leases.values())


def _purge_sessions(context: IssuerContext, lease: Lease) -> None:
    """One round of deleting long-expired logins of every principal, on the replica holding
    the job's lease (ADR 0025)."""
    from issuers.auth import purge_sessions

    if not lease.acquire():
        return  # another replica runs this round
    logger.info("session purge round (lease holder %s)", lease.holder)
    with context.session() as session:
        deleted = purge_sessions(session)
        session.commit()
    if deleted:
        logger.info("deleted %d logins expired more than a day ago", deleted)


def _put_partner_sources(
    syncs: PeerSyncs,
    context: IssuerContext,
    trust: Callable[[], TrustStore],
    partner_key: SigningKey,
    store: PartnerRevocations,
    leases: PartnerLeases,
) -> None:
    own = context.settings.issuer_id
    partners = [
        partner.id
        for partner in trust().issuers.values()
        if partner.id != own and partner.endpoints.get("partner_api")
    ]
    for partner_id in partners:
        syncs.put(
            partner_id,
            "partner",
            functools.partial(
                _sync_partner, context, trust, partner_key, store, partner_id, leases
            ),
            interval_s=context.settings.partner_sync_interval_s,
            deadline_s=PEER_BOUNDS.revocations.deadline_s,
        )
    syncs.keep_only("partner", partners)


def _sync_partner(
    context: IssuerContext,
    trust: Callable[[], TrustStore],
    partner_key: SigningKey,
    store: PartnerRevocations,
    partner_id: str,
    leases: PartnerLeases,
) -> str:
    """One partner's sync (a `PeerSyncs` job): raises with its reason when it failed; on a
    replica not holding that partner's lease, nothing to do this round."""
    from issuers.partner_sync import sync_partner_revocations

    if not leases.of(partner_id).acquire():
        return "standby (another replica syncs this partner)"

    report = sync_partner_revocations(context, trust(), partner_key, store=store, only=partner_id)
    if partner_id in report.failed:
        raise RequestError(ErrorCode.UPSTREAM_UNAVAILABLE, report.failed[partner_id])
    return f"ok (revoked {report.revoked.get(partner_id, 0)})"
