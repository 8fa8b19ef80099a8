"""Publishing after commit is structural: a session publishes the codes revoked in it once its
transaction commits, and nothing when it rolls back (issuers.db, ADR 0017)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlmodel import col, select

from healthcode.credential import new_jti
from healthcode.revocation import redis_key
from issuers.context import IssuerContext
from issuers.db import migrate, session
from issuers.models import IssuedCode, Revocation
from issuers.revocation import revoke_codes
from tests.issuers.conftest import make_settings


@pytest.fixture
def context(tmp_path: Path, redis_url: str) -> Iterator[IssuerContext]:
    # Redis's answer may take longer than the production half second on a loaded machine;
    # this test is about what is published, not how fast.
    settings = make_settings(tmp_path, redis_url, redis_timeout_s=10.0)
    migrate(settings.database_url)
    ctx = IssuerContext.create(settings)
    assert ctx.publisher is not None
    assert ctx.publisher.rebuild()  # healthy: a publish writes to Redis at once
    try:
        yield ctx
    finally:
        ctx.close()


def _codes(ctx: IssuerContext, count: int) -> list[str]:
    now = int(time.time())
    jtis = [new_jti() for _ in range(count)]
    with ctx.session() as db:
        for jti in jtis:
            db.add(
                IssuedCode(
                    jti=jti,
                    subject="s-1",
                    kind="phone",
                    issued_at=now,
                    expires_at=now + 3600,
                    token="t",
                )
            )
        db.commit()
    return jtis


def _revoke(ctx: IssuerContext, jtis: list[str], *, commit: bool) -> None:
    with ctx.session() as db:
        codes = db.exec(select(IssuedCode).where(col(IssuedCode.jti).in_(jtis))).all()
        assert sorted(revoke_codes(db, codes, int(time.time()))) == sorted(jtis)
        if commit:
            db.commit()
        else:
            db.rollback()


def _published(redis_url: str) -> set[str]:
    client = redis.Redis.from_url(redis_url)
    try:
        return {m.decode() for m in client.smembers(redis_key("cn-sc"))}  # type: ignore[union-attr]
    finally:
        client.close()


def test_a_committed_revocation_is_published(context: IssuerContext, redis_url: str) -> None:
    jtis = _codes(context, 2)
    _revoke(context, jtis, commit=True)
    assert _published(redis_url) == set(jtis)


def test_a_rolled_back_revocation_publishes_nothing(context: IssuerContext, redis_url: str) -> None:
    jtis = _codes(context, 2)
    _revoke(context, jtis, commit=False)
    assert _published(redis_url) == set()
    with context.session() as db:
        assert db.exec(select(Revocation)).all() == []
    # Closed without a commit is a rollback too.
    with context.session() as db:
        revoke_codes(db, db.exec(select(IssuedCode)).all(), int(time.time()))
    assert _published(redis_url) == set()
    # The same codes, revoked again and committed, are published: nothing stale was kept.
    _revoke(context, jtis, commit=True)
    assert _published(redis_url) == set(jtis)


def test_each_commit_publishes_what_it_committed(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'uow.db'}"
    migrate(database_url)
    published: list[list[str]] = []
    ctx = IssuerContext.create(make_settings(tmp_path, None, database_url=database_url))
    try:
        first, second = _codes(ctx, 1), _codes(ctx, 1)
        with session(ctx.engine, published.append) as db:
            revoke_codes(db, [db.get(IssuedCode, first[0])], int(time.time()))  # type: ignore[list-item]
            db.commit()
            revoke_codes(db, [db.get(IssuedCode, second[0])], int(time.time()))  # type: ignore[list-item]
            db.rollback()
            db.commit()  # an empty transaction publishes nothing
        assert published == [first]
    finally:
        ctx.close()
