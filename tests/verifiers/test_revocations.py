"""Revocation lists: signature, issuer binding, merging, freshness (no network: `apply`)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from healthcode import IssuerEntry, SigningKey, TrustedKey
from healthcode.errors import ErrorCode, VerificationError
from healthcode.jws import sign_compact
from healthcode.revocation import redis_key
from healthcode.trust import KeyStatus, RevocationStatus
from verifiers.published import PublishedRevocations
from verifiers.revocations import RevocationCache

NOW = 1_790_000_000


def signed_list(
    key: SigningKey,
    *,
    seq: int,
    since: int = 0,
    issued_at: int = NOW,
    entries: list[dict[str, object]] | None = None,
    iss: str = "cn-sc",
) -> str:
    payload = {
        "iss": iss,
        "seq": seq,
        "issued_at": issued_at,
        "since": since,
        "entries": entries or [],
    }
    return sign_compact(orjson.dumps(payload), key, compress=False)


@pytest.fixture
def issuer(issuer_key: SigningKey) -> IssuerEntry:
    return IssuerEntry(id="cn-sc", name="Sichuan", keys=(TrustedKey(issuer_key.verifying_key),))


def test_apply_merges_and_answers_by_freshness(
    tmp_path: Path, issuer: IssuerEntry, issuer_key: SigningKey
) -> None:
    cache = RevocationCache(tmp_path, max_age_s=900)
    assert cache.checker(NOW).revocation_status("cn-sc", "a" * 22) is RevocationStatus.UNKNOWN
    entries = [{"jti": "j" * 22, "exp": NOW + 3600}]
    assert cache.apply(issuer, signed_list(issuer_key, seq=3, entries=entries), now=NOW) == 1
    more = [{"jti": "k" * 22, "exp": NOW + 3600}]
    assert (
        cache.apply(
            issuer,
            signed_list(issuer_key, seq=4, since=3, issued_at=NOW + 60, entries=more),
            now=NOW + 60,
        )
        == 1
    )
    checker = cache.checker(NOW + 100)
    assert checker.revocation_status("cn-sc", "j" * 22) is RevocationStatus.REVOKED
    assert checker.revocation_status("cn-sc", "k" * 22) is RevocationStatus.REVOKED
    assert checker.revocation_status("cn-sc", "a" * 22) is RevocationStatus.NOT_REVOKED
    assert checker.as_of == NOW + 60
    # Older than max_age_s: unknown (fail closed), but a listed jti stays revoked.
    stale = cache.checker(NOW + 60 + 901)
    assert stale.revocation_status("cn-sc", "a" * 22) is RevocationStatus.UNKNOWN
    assert stale.revocation_status("cn-sc", "j" * 22) is RevocationStatus.REVOKED
    # Persisted: a new cache over the same directory answers the same.
    reloaded = RevocationCache(tmp_path, max_age_s=900).checker(NOW + 100)
    assert reloaded.revocation_status("cn-sc", "k" * 22) is RevocationStatus.REVOKED


def test_older_list_does_not_roll_back(
    tmp_path: Path, issuer: IssuerEntry, issuer_key: SigningKey
) -> None:
    cache = RevocationCache(tmp_path)
    cache.apply(issuer, signed_list(issuer_key, seq=5, issued_at=NOW + 100), now=NOW + 100)
    assert cache.apply(issuer, signed_list(issuer_key, seq=2, issued_at=NOW), now=NOW + 100) == 0
    state = cache.state("cn-sc")
    assert state is not None
    assert (state.seq, state.as_of) == (5, NOW + 100)


def test_gap_in_sequence_is_refused(
    tmp_path: Path, issuer: IssuerEntry, issuer_key: SigningKey
) -> None:
    cache = RevocationCache(tmp_path)
    with pytest.raises(VerificationError) as caught:
        cache.apply(issuer, signed_list(issuer_key, seq=9, since=4), now=NOW)
    assert caught.value.code is ErrorCode.INVALID_CLAIMS


def test_as_of_never_later_than_own_clock(
    tmp_path: Path, issuer: IssuerEntry, issuer_key: SigningKey
) -> None:
    cache = RevocationCache(tmp_path)
    cache.apply(issuer, signed_list(issuer_key, seq=1, issued_at=NOW + 10_000), now=NOW)
    state = cache.state("cn-sc")
    assert state is not None
    assert state.as_of == NOW


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        ("other_key", ErrorCode.UNKNOWN_KEY),
        ("tampered", ErrorCode.BAD_SIGNATURE),
        ("other_issuer", ErrorCode.INVALID_CLAIMS),
        ("compressed", ErrorCode.UNSUPPORTED_COMPRESSION),
        ("retired_key", ErrorCode.UNKNOWN_KEY),
        ("not_jws", ErrorCode.MALFORMED_JWS),
    ],
)
def test_untrusted_lists_are_refused(
    tmp_path: Path, issuer_key: SigningKey, other_key: SigningKey, mutate: str, code: ErrorCode
) -> None:
    issuer = IssuerEntry(id="cn-sc", name="Sichuan", keys=(TrustedKey(issuer_key.verifying_key),))
    token = signed_list(issuer_key, seq=1)
    if mutate == "other_key":
        token = signed_list(other_key, seq=1)
    elif mutate == "tampered":
        header, _payload, signature = token.split(".")
        forged = signed_list(issuer_key, seq=2).split(".")[1]
        token = f"{header}.{forged}.{signature}"
    elif mutate == "other_issuer":
        token = signed_list(issuer_key, seq=1, iss="cn-bj")
    elif mutate == "compressed":
        token = sign_compact(b"{}", issuer_key, compress=True)
    elif mutate == "retired_key":
        retired = TrustedKey(issuer_key.verifying_key, status=KeyStatus.RETIRED, not_after=NOW)
        issuer = IssuerEntry(id="cn-sc", name="Sichuan", keys=(retired,))
    elif mutate == "not_jws":
        token = "not a jws"
    cache = RevocationCache(tmp_path)
    with pytest.raises(VerificationError) as caught:
        cache.apply(issuer, token, now=NOW)
    assert caught.value.code is code
    assert cache.state("cn-sc") is None or cache.state("cn-sc").as_of is None  # type: ignore[union-attr]


def test_published_set_adds_revocations_but_never_freshness(
    tmp_path: Path, issuer: IssuerEntry, issuer_key: SigningKey, redis_url: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    client.sadd(redis_key("cn-sc"), "p" * 22)
    published = PublishedRevocations(redis.Redis.from_url(redis_url), carry_s=900)
    cache = RevocationCache(tmp_path, max_age_s=900)
    # Not copied yet: the in-memory copy knows nothing (the scan path never asks Redis).
    assert cache.checker(NOW, published).revocation_status("cn-sc", "p" * 22) is (
        RevocationStatus.UNKNOWN
    )
    assert published.refresh(["cn-sc", "cn-bj"], now=NOW)
    assert published.status.current
    # No synced data: a published jti is revoked, any other is still unknown.
    assert cache.checker(NOW, published).revocation_status("cn-sc", "p" * 22) is (
        RevocationStatus.REVOKED
    )
    assert cache.checker(NOW, published).revocation_status("cn-sc", "q" * 22) is (
        RevocationStatus.UNKNOWN
    )
    assert cache.checker(NOW, published).revocation_status("cn-bj", "p" * 22) is (
        RevocationStatus.UNKNOWN
    )
    cache.apply(issuer, signed_list(issuer_key, seq=1), now=NOW)
    assert cache.checker(NOW, published).revocation_status("cn-sc", "q" * 22) is (
        RevocationStatus.NOT_REVOKED
    )
    client.close()


def test_published_copy_keeps_what_it_saw_when_redis_forgets_or_fails(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.sadd(redis_key("cn-sc"), "p" * 22, "r" * 22)
    published = PublishedRevocations(redis.Redis.from_url(redis_url), carry_s=900)
    assert published.refresh(["cn-sc"], now=NOW)
    # Redis restarted empty (or mid-rebuild): what was seen stays revoked for carry_s.
    client.delete(redis_key("cn-sc"))
    client.sadd(redis_key("cn-sc"), "s" * 22)
    assert published.refresh(["cn-sc"], now=NOW + 600)
    assert published.is_revoked("cn-sc", "p" * 22)
    assert published.is_revoked("cn-sc", "s" * 22)
    assert published.refresh(["cn-sc"], now=NOW + 901)
    assert not published.is_revoked("cn-sc", "p" * 22)
    assert published.is_revoked("cn-sc", "s" * 22)
    client.close()
    # Redis gone: the copy stays as it was, and says since when it is not current.
    dead = PublishedRevocations(
        redis.Redis(
            host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
        ),
        carry_s=900,
    )
    assert not dead.refresh(["cn-sc"], now=NOW)
    assert not dead.refresh(["cn-sc"], now=NOW + 5)
    assert dead.status.failing_since == NOW
    assert dead.status.synced_at is None
    assert dead.status.last_error is not None
    assert dead.status.last_error.startswith("ConnectionError")
    assert not dead.is_revoked("cn-sc", "p" * 22)
