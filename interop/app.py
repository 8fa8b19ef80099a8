"""The trust registry service: `create_app(settings)`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, create_engine

from healthcode.server import build_routes, create_base_app
from healthcode.server.background import background_tasks, run_every
from healthcode.server.leases import Lease, lease_ttl
from healthcode.server.readiness import database_check
from interop.registry import admin_routes, public_routes, store
from interop.registry.deps import RegistryContext
from interop.registry.signing import RootKeyring, init_root
from interop.settings import InteropSettings

__all__ = ["create_app", "create_engine_for", "init_database"]

logger = logging.getLogger("interop.registry")
#: The schedule is checked this often; emergency removals reach the timestamp within it.
SCHEDULE_TICK_S = 5.0


def create_engine_for(database_url: str) -> Engine:
    """An engine for SQLite (default) or PostgreSQL (`postgresql+psycopg://...`)."""
    if database_url.startswith("sqlite"):
        # Routes run in a thread pool; SQLite connections must be usable across its threads.
        return create_engine(database_url, connect_args={"check_same_thread": False})
    return create_engine(database_url, pool_pre_ping=True)


def init_database(engine: Engine, keyring: RootKeyring) -> None:
    """Create the tables (the registry's and the job leases) and make every root version
    servable."""
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        store.sync_roots(session, keyring)
        session.commit()


def load_keyring(settings: InteropSettings) -> RootKeyring:
    """The root keyring; in demo mode a missing root is created (3 keys, threshold 2)."""
    if settings.demo_mode and not (settings.root_keys_dir / "root-1.json").exists():
        return init_root(settings.root_keys_dir, key_count=3, threshold=2, now=datetime.now(UTC))
    return RootKeyring.load(settings.root_keys_dir)


def create_app(settings: InteropSettings) -> FastAPI:
    """The registry app; the root-key directory must hold a root (`registry init-root`),
    except in demo mode, where one is created on first start."""
    engine = create_engine_for(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        init_database(engine, load_keyring(settings))
        app.state.registry = RegistryContext(settings=settings, engine=engine)
        # Once per tick across replicas: whichever holds the lease signs (ADR 0025).
        lease = Lease(engine, "registry:schedule", ttl_s=lease_ttl(_tick(settings), rounds=3))
        schedule = run_every(
            _tick(settings),
            lambda: _schedule_round(engine, settings, lease),
            name="schedule",
            log=logger,
        )
        async with background_tasks([schedule]):
            try:
                yield
            finally:
                await asyncio.to_thread(lease.release)
                engine.dispose()

    app = create_base_app(
        title="healthcode trust registry",
        lifespan=lifespan,
        description="Signed, versioned trust lists of health-code issuers (standard §7).",
        service="registry",
        readiness={"database": database_check(engine, "registry")},
    )
    app.include_router(public_routes.router)
    app.include_router(admin_routes.router)
    return build_routes(app)


def schedule_once(engine: Engine, settings: InteropSettings) -> list[str]:
    """Re-sign what is due (trust list daily, timestamp at its interval, §7.2, §7.7)."""
    with Session(engine) as session:
        return store.run_schedule(
            session,
            RootKeyring.load(settings.root_keys_dir),
            republish_every=timedelta(seconds=settings.trust_list_republish_s),
            list_lifetime=timedelta(seconds=settings.trust_list_lifetime_s),
            timestamp_every=timedelta(seconds=settings.timestamp_interval_s),
            timestamp_lifetime=timedelta(seconds=settings.timestamp_lifetime_s),
        )


def _tick(settings: InteropSettings) -> float:
    return min(SCHEDULE_TICK_S, float(settings.timestamp_interval_s))


def _schedule_round(engine: Engine, settings: InteropSettings, lease: Lease) -> None:
    # The replica holding the lease signs. Should two ever sign the same version (a lease
    # expiring mid-tick), they collide on (kind, version) and the loser gets `conflict`.
    if not lease.acquire():
        return
    for line in schedule_once(engine, settings):
        logger.info("schedule: %s", line)
