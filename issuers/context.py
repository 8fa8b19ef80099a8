"""Everything a request or command needs: settings, database, keys, rules, Redis publisher."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session

from healthcode.fetch import PeerClient
from issuers.auditbatch import AuditBatcher
from issuers.auth import SessionCache
from issuers.db import make_engine, session
from issuers.delivery import CodeDelivery, make_delivery
from issuers.hotcache import HotCache
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
    #: the citizen hot path's Redis state (None without Redis: the database answers)
    hot: HotCache | None
    #: group-committed audit entries of the hot path
    audits: AuditBatcher
    #: the one client for calls to other services (partner APIs), its connections kept alive
    peers: PeerClient

    @classmethod
    def create(cls, settings: IssuerSettings) -> IssuerContext:
        engine = make_engine(settings.database_url)
        publisher = hot = None
        if settings.redis_url:
            redis_options = {
                "timeout_s": settings.redis_timeout_s,
                "retry_interval_s": settings.redis_retry_interval_s,
            }
            publisher = RevocationPublisher(
                settings.redis_url, settings.issuer_id, engine, **redis_options
            )
            hot = HotCache(settings.redis_url, settings.issuer_id, engine, **redis_options)
        return cls(
            settings=settings,
            engine=engine,
            keyring=Keyring(settings.key_dir, keep_retired_s=settings.offline_lifetime_s),
            rules=RuleSet.load(settings.resolved_rules_file()),
            publisher=publisher,
            sessions=SessionCache(engine, settings.session_cache_s),
            delivery=make_delivery(settings),
            hot=hot,
            audits=AuditBatcher(engine),
            peers=PeerClient(),
        )

    def session(self) -> Session:
        """A unit of work: codes revoked in it reach Redis once it commits, and the hot
        path's cache hears of the citizens and logins it changed (`db.session`)."""
        return session(self.engine, self.publisher.publish if self.publisher else None, self.hot)

    def close(self) -> None:
        self.audits.close()
        self.peers.close()
        if self.hot is not None:
            self.hot.close()
        if self.publisher is not None:
            self.publisher.close()
        if self.delivery is not None:
            self.delivery.close()
        self.engine.dispose()
