"""Shared fixtures: real keys, real trust stores, credential builders."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from healthcode import (
    CodeKind,
    Credential,
    IssuerEntry,
    ReasonCode,
    SigningKey,
    StatusColour,
    TrustedKey,
    TrustStore,
    new_credential,
    sign_credential,
)
from healthcode.idnumber import make_id_number, pseudonymous_subject
from tests.cluster import RedisClusterServers
from tests.cluster import redis_cluster as start_redis_cluster
from tests.servers import RedisServer, postgres_url

VECTORS = Path(__file__).parent / "vectors"
TEST_SUBJECT_SECRET = b"test-only-subject-secret-0123456789"
NOW = 1_790_000_000  # a fixed verification time (2026-09-21), so tests never depend on the clock


@pytest.fixture(scope="session")
def issuer_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="session")
def other_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="session")
def trust(issuer_key: SigningKey) -> TrustStore:
    return TrustStore(
        [
            IssuerEntry(
                id="cn-sc",
                name="四川省 Sichuan",
                region="510000",
                keys=(TrustedKey(issuer_key.verifying_key),),
            )
        ]
    )


@pytest.fixture(scope="session")
def id_number() -> str:
    from datetime import date

    return make_id_number("510104", date(1948, 3, 1), 123)


MakeCredential = Callable[..., Credential]
MakeToken = Callable[..., str]


@pytest.fixture(scope="session")
def make_credential(id_number: str) -> MakeCredential:
    """Build a credential for `cn-sc` issued at NOW; keyword arguments override fields."""

    def build(**overrides: Any) -> Credential:
        fields: dict[str, Any] = {
            "issuer": "cn-sc",
            "subject": pseudonymous_subject(id_number, TEST_SUBJECT_SECRET),
            "status": StatusColour.GREEN,
            "masked_name": "张*丰",
            "id_tail": id_number[-4:],
            "kind": CodeKind.PHONE,
            "reason": ReasonCode.NONE,
            "now": NOW,
        }
        fields.update(overrides)
        return new_credential(**fields)

    return build


@pytest.fixture(scope="session")
def make_token(make_credential: MakeCredential, issuer_key: SigningKey) -> MakeToken:
    """A signed compact JWS; `key=` picks the signing key, other keywords go to the credential."""

    def build(key: SigningKey | None = None, **overrides: Any) -> str:
        return sign_credential(make_credential(**overrides), key or issuer_key)

    return build


@pytest.fixture
def clock() -> float:
    return time.time()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server of our own for the whole session (never a fake)."""
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A clean Redis database per test."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture(scope="session")
def postgres_database_url() -> str:
    """PostgreSQL for tests marked `postgres`; CI (scripts/test) always provides one."""
    url = postgres_url()
    if url is None:
        if os.environ.get("CI"):
            pytest.fail("HC_TEST_POSTGRES_URL is not set; scripts/test must provide PostgreSQL")
        pytest.skip("no PostgreSQL: run through scripts/test, which provides one")
    return url


@pytest.fixture(scope="module")
def redis_cluster() -> Iterator[RedisClusterServers]:
    """A real Redis Cluster (three masters, three replicas) for one test module."""
    with start_redis_cluster() as cluster:
        yield cluster
