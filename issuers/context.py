"""Everything a request or command needs: settings, database, keys, rules, Redis publisher."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session

from issuers.auth import SessionCache
from issuers.db import make_engine, session
from issuers.delivery import CodeDelivery, make_delivery
from issuers.keyring import Keyring
from issuers.revocation import RevocationPublisher
from issuers.rules import RuleSet
from issuers.settings import IssuerSettings

logger = logging.getLogger("issuers")


@dataclass
class IssuerContext:
    """The service's long-lived objects; one per process (app or CLI command)."""

    settings: IssuerSettings
    engine: Engine
    keyring: Keyring
    rules: RuleSet
    publisher: RevocationPublisher | None
    #: which sessions are open (logout, disabled accounts), cached for a second or so
    sessions: SessionCache
    #: how one-time login codes reach citizens (None: they cannot, outside demo mode)
    delivery: CodeDelivery | None

    @classmethod
    def create(cls, settings: IssuerSettings) -> IssuerContext:
        engine = make_engine(settings.database_url)
        publisher = (
            RevocationPublisher(
                settings.redis_url,
                settings.issuer_id,
                engine,
                timeout_s=settings.redis_timeout_s,
                retry_interval_s=settings.redis_retry_interval_s,
            )
            if settings.redis_url
            else None
        )
        return cls(
            settings=settings,
            engine=engine,
            keyring=Keyring(settings.key_dir, keep_retired_s=settings.offline_lifetime_s),
            rules=RuleSet.load(settings.resolved_rules_file()),
            publisher=publisher,
            sessions=SessionCache(engine, settings.session_cache_s),
            delivery=make_delivery(settings),
        )

    def session(self) -> Session:
        """A unit of work: codes revoked in it reach Redis once it commits (`db.session`)."""
        return session(self.engine, self.publisher.publish if self.publisher else None)

    def close(self) -> None:
        if self.publisher is not None:
            self.publisher.close()
        if self.delivery is not None:
            self.delivery.close()
        self.engine.dispose()
