"""Offline root custody (ADR 0007): pending versions, cosigning, the online timestamp role."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlmodel import Session, select

from healthcode import ErrorCode, SigningKey, TrustListError, verify_credential
from healthcode.trust import KeyStatus
from healthcode.trustlist import TrustListState, load_root
from interop.app import create_app, create_engine_for, init_database
from interop.registry import store
from interop.registry.models import PendingDocument
from interop.registry.signing import RootKeyring, init_root
from interop.settings import InteropSettings
from tests.interop.conftest import ADMIN_TOKEN, Registry
from tests.interop.registry.test_routes import MakeToken, onboarding
from tests.servers import AppServer

OFFICER_TOKEN = "officer-li-token-0123456789"


@pytest.fixture
def offline_root(tmp_path: Path) -> tuple[Path, list[Path]]:
    """A 3-key, threshold-2 root of which the registry host keeps one key; the two officers'
    key files are moved off it."""
    folder = tmp_path / "root"
    init_root(folder, key_count=3, threshold=2, now=datetime.now(UTC))
    away = tmp_path / "officers"
    away.mkdir()
    officers = []
    for pem in sorted((folder / "keys").glob("*.pem"))[1:]:
        officers.append(Path(shutil.move(pem, away / pem.name)))
    return folder, officers


@pytest.fixture
def custody_registry(tmp_path: Path, offline_root: tuple[Path, list[Path]]) -> Iterator[Registry]:
    settings = InteropSettings(
        database_url=f"sqlite:///{tmp_path / 'registry.db'}",
        root_keys_dir=offline_root[0],
        admin_token=SecretStr(ADMIN_TOKEN),
        admin_tokens={"li": SecretStr(OFFICER_TOKEN)},
        token_secret=SecretStr("test-token-secret-0123456789"),
    )
    server = AppServer(create_app(settings))
    registry = Registry(server, offline_root[0])
    try:
        yield registry
    finally:
        registry.http.close()
        server.stop()


def _cosign(registry: Registry, key_file: Path, token: str = OFFICER_TOKEN) -> dict[str, object]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "healthcode.cli",
            "registry",
            "cosign",
            "--registry",
            registry.server.url,
            "--key",
            str(key_file),
            "--root",
            str(registry.root_dir / "root-1.json"),
            "--yes",
        ],
        env={**os.environ, "HC_INTEROP_ADMIN_TOKEN": token},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "pending trust list version" in done.stderr  # the review came before the signature
    answer: dict[str, object] = json.loads(done.stdout)
    return answer


def test_change_waits_for_cosignatures_then_publishes(
    custody_registry: Registry, offline_root: tuple[Path, list[Path]], make_token: MakeToken
) -> None:
    registry = custody_registry
    key = SigningKey.generate()
    answer = registry.post_admin("/v1/admin/issuers", onboarding(key))
    # One of three root keys on the host, threshold 2: nothing can be published alone.
    assert answer.status_code == 202, answer.text
    assert answer.json() == {
        "trust_list_version": 1,
        "signed_at": None,
        "pending": True,
        "signatures": 1,
        "threshold": 2,
        "use_from": None,
    }
    assert registry.http.get("/v1/trust-list").status_code == 404
    pending = registry.http.get("/v1/admin/pending", headers=registry.admin).json()
    assert pending["document"]["issuers"][0]["id"] == "cn-sc"
    assert len(pending["signed_by"]) == 1

    # A signature by something that is not a root key is refused and counts for nothing.
    assert _stranger_refused(registry)

    published = _cosign(registry, offline_root[1][0])
    assert published["pending"] is False
    assert published["trust_list_version"] == 1
    now = time.time()
    assert verify_credential(make_token(key=key, now=now), registry.trust(), now).valid
    audit = registry.http.get("/v1/admin/audit", headers=registry.admin).json()
    # The named officer is recorded, not a shared "registry_admin".
    assert audit[0]["actor"] == "admin:li"
    assert audit[0]["action"] == "cosign"
    assert registry.http.get("/v1/admin/pending", headers=registry.admin).status_code == 404


def _stranger_refused(registry: Registry) -> bool:
    from interop.cli import _detached_signature

    pending = registry.http.get("/v1/admin/pending", headers=registry.admin).json()
    body = _detached_signature(SigningKey.generate(), pending["payload"])
    answer = registry.http.post(
        f"/v1/admin/pending/{pending['trust_list_version']}/signatures",
        json=body,
        headers=registry.admin,
    )
    return (
        answer.status_code == 422
        and answer.json()["error"] == "trust_list_unknown_root_key"
        and len(registry.http.get("/v1/admin/pending", headers=registry.admin).json()["signed_by"])
        == 1
    )


def test_emergency_revocation_reaches_clients_before_the_cosigned_list(
    custody_registry: Registry, offline_root: tuple[Path, list[Path]], make_token: MakeToken
) -> None:
    registry = custody_registry
    key = SigningKey.generate()
    registry.post_admin("/v1/admin/issuers", onboarding(key))
    _cosign(registry, offline_root[1][0])
    answer = registry.post_admin(f"/v1/admin/issuers/cn-sc/keys/{key.kid}/revoke", {"reason": "x"})
    assert answer.status_code == 202  # the list waits for the officers ...
    now = time.time()
    token = make_token(key=key, now=now)
    # ... but the online timestamp carries the revocation now (the schedule signs it).
    state = registry.client_state()
    state.update(registry.http.get("/v1/trust-list").content, now)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        stamp = registry.http.get("/v1/timestamp")
        if stamp.status_code == 200 and key.kid in stamp.text:
            break
        time.sleep(0.5)
    state.update_timestamp(stamp.content, now)
    assert state.trust_list is not None
    assert state.trust_list.version == 1
    result = verify_credential(token, state.trust_store(), now)
    assert result.error is ErrorCode.KEY_REVOKED
    # The cosigned version then carries it itself.
    _cosign(registry, offline_root[1][1])
    trust = registry.trust()
    assert trust.issuers["cn-sc"].keys[0].status is KeyStatus.REVOKED


def test_schedule_resigns_the_list_and_the_timestamp(
    registry: Registry, tmp_path: Path, root_dir: Path
) -> None:
    registry.post_admin("/v1/admin/issuers", onboarding(SigningKey.generate()))
    engine = create_engine_for(f"sqlite:///{tmp_path / 'registry.db'}")
    keyring = RootKeyring.load(root_dir)
    later = datetime.now(UTC) + timedelta(hours=25)
    with Session(engine) as session:
        done = store.run_schedule(
            session,
            keyring,
            now=later,
            republish_every=timedelta(days=1),
            list_lifetime=timedelta(days=7),
            timestamp_every=timedelta(hours=1),
            timestamp_lifetime=timedelta(days=1),
        )
        assert done[0] == "re-signed trust list version 2"
        assert done[1].startswith("timestamp")
        # Nothing is due a minute later: no new version, no new timestamp.
        again = store.run_schedule(
            session,
            keyring,
            now=later + timedelta(minutes=1),
            republish_every=timedelta(days=1),
            list_lifetime=timedelta(days=7),
            timestamp_every=timedelta(hours=1),
            timestamp_lifetime=timedelta(days=1),
        )
        assert again == []
    engine.dispose()


def test_timestamp_is_signed_by_the_delegated_online_key_only(registry: Registry) -> None:
    registry.post_admin("/v1/admin/issuers", onboarding(SigningKey.generate()))
    deadline = time.monotonic() + 20
    while registry.http.get("/v1/timestamp").status_code != 200:
        assert time.monotonic() < deadline, "the schedule signed no timestamp"
        time.sleep(0.3)
    root = load_root(registry.http.get("/v1/root/1").json())
    assert len(root.timestamp_keys) == 1
    assert not set(root.timestamp_keys) & set(root.keys)
    state = TrustListState(root)
    state.update(registry.http.get("/v1/trust-list").content, time.time())
    assert state.update_timestamp(registry.http.get("/v1/timestamp").content, time.time())
    # A root key cannot stand in for the online role, nor the online key for the root.
    stamp = json.loads(registry.http.get("/v1/timestamp").content)
    listed = json.loads(registry.http.get("/v1/trust-list").content)
    with pytest.raises(TrustListError) as excinfo:
        state.update(
            json.dumps({"payload": listed["payload"], "signatures": stamp["signatures"]}).encode(),
            time.time(),
        )
    assert excinfo.value.code is ErrorCode.TRUST_LIST_MALFORMED  # typ hc-timestamp+jws


def test_partner_kid_must_be_unique_at_onboarding(registry: Registry) -> None:
    first = onboarding(SigningKey.generate())
    assert registry.post_admin("/v1/admin/issuers", first).status_code == 201
    # Guangdong submits Sichuan's partner key as its own: refused, nothing published.
    second = onboarding(SigningKey.generate(), issuer="cn-gd", region="440000")
    second["partner_keys"] = first["partner_keys"]
    answer = registry.post_admin("/v1/admin/issuers", second)
    assert answer.status_code == 409, answer.text
    assert "already registered" in answer.json()["message"]
    # Nor may a partner key be another issuer's credential key.
    third = onboarding(SigningKey.generate(), issuer="cn-gd", region="440000")
    third["partner_keys"] = [first["jwks"]["keys"][0]]
    assert registry.post_admin("/v1/admin/issuers", third).status_code == 409
    assert registry.http.get("/v1/trust-list/2").status_code == 404


@pytest.fixture
def three_officers(tmp_path: Path) -> tuple[RootKeyring, list[SigningKey], Session]:
    """A 3-of-3 root: the host holds one key, two officers hold the others; a store session."""
    folder = tmp_path / "root3"
    init_root(folder, key_count=3, threshold=3, now=datetime.now(UTC))
    officers = []
    for pem in sorted((folder / "keys").glob("*.pem"))[1:]:
        officers.append(SigningKey.load(pem))
        pem.unlink()
    keyring = RootKeyring.load(folder)
    engine = create_engine_for(f"sqlite:///{tmp_path / 'custody.db'}")
    init_database(engine, keyring)
    return keyring, officers, Session(engine)


def test_padded_or_junk_cosignature_is_refused_not_stored(
    three_officers: tuple[RootKeyring, list[SigningKey], Session],
) -> None:
    from interop.cli import _detached_signature

    keyring, officers, session = three_officers
    pending = store.publish(session, keyring, actor="t")
    assert isinstance(pending, PendingDocument)
    good = _detached_signature(officers[0], pending.payload_b64)
    # Both decode to the same 64 bytes under a lenient decoder, and verify; once stored they
    # would make the published document non-canonical, and every later cosign fail.
    for variant in (
        {**good, "signature": good["signature"] + "=="},
        {**good, "signature": good["signature"][:10] + "!" + good["signature"][10:]},
        {**good, "protected": good["protected"] + "="},
    ):
        with pytest.raises(TrustListError) as refused:
            store.add_signature(session, keyring, pending.version, variant, actor="li")
        assert refused.value.code is ErrorCode.TRUST_LIST_MALFORMED
        assert "base64url" in refused.value.message
    held = store.pending_version(session)
    assert held is not None
    assert len(json.loads(held.signatures_json)) == 1  # only the host's own
    # The canonical signatures of both officers publish it.
    store.add_signature(session, keyring, pending.version, good, actor="li")
    last = _detached_signature(officers[1], pending.payload_b64)
    published = store.add_signature(session, keyring, pending.version, last, actor="zhao")
    assert not isinstance(published, PendingDocument)
    session.close()


def test_nearly_expired_pending_version_is_not_cosigned_or_published(
    three_officers: tuple[RootKeyring, list[SigningKey], Session],
) -> None:
    from interop.cli import _detached_signature

    keyring, officers, session = three_officers
    now = datetime.now(UTC).replace(microsecond=0)
    # Prepared a week ago with the usual lifetime: 50 minutes of it are left.
    pending = store.publish(session, keyring, actor="t", now=now - timedelta(days=7, minutes=-50))
    assert isinstance(pending, PendingDocument)
    assert timedelta(hours=1) == store.MIN_PUBLISH_VALIDITY
    for officer in officers:
        signature = _detached_signature(officer, pending.payload_b64)
        with pytest.raises(TrustListError) as refused:
            store.add_signature(session, keyring, pending.version, signature, actor="li", now=now)
        assert refused.value.code is ErrorCode.TRUST_LIST_EXPIRED
        assert "re-propose" in refused.value.message
    assert store.latest_document(session, store.TRUST_LIST) is None
    # Re-proposed, the fresh version is cosigned and published.
    fresh = store.publish(session, keyring, actor="t", now=now)
    assert isinstance(fresh, PendingDocument)
    for officer in officers:
        signature = _detached_signature(officer, fresh.payload_b64)
        record = store.add_signature(
            session, keyring, fresh.version, signature, actor="li", now=now
        )
    assert not isinstance(record, PendingDocument)
    assert record.version == 1
    session.close()


def test_schedule_re_proposes_a_pending_version_that_can_no_longer_be_published(
    three_officers: tuple[RootKeyring, list[SigningKey], Session],
) -> None:
    from interop.cli import _detached_signature
    from interop.registry.models import AuditRecord

    keyring, officers, session = three_officers
    now = datetime.now(UTC).replace(microsecond=0)
    schedule = {
        "republish_every": timedelta(days=1),
        "list_lifetime": timedelta(days=7),
        "timestamp_every": timedelta(hours=1),
        "timestamp_lifetime": timedelta(days=1),
    }
    stale = store.publish(session, keyring, actor="t", now=now - timedelta(days=7, minutes=-50))
    assert isinstance(stale, PendingDocument)
    stale_payload = stale.payload_b64
    # A day before, the same version still had a week left: the schedule leaves it to the
    # officers, with the one signature it gathered.
    assert store.run_schedule(session, keyring, now=now - timedelta(days=1), **schedule) == []
    held = store.pending_version(session)
    assert held is not None
    assert held.payload_b64 == stale_payload

    done = store.run_schedule(session, keyring, now=now, **schedule)

    assert done == [
        "pending version 1 can no longer be published",
        "prepared pending version 1",
    ]
    fresh = store.pending_version(session)
    assert fresh is not None
    assert fresh.payload_b64 != stale_payload
    audit = session.exec(select(AuditRecord).where(AuditRecord.action == "republish")).all()
    assert [record.detail for record in audit] == [
        "re-proposes pending version 1: trust_list_expired (pending version 1)"
    ]
    # Nothing more to do a minute later: the fresh version waits for its cosignatures.
    assert store.run_schedule(session, keyring, now=now + timedelta(minutes=1), **schedule) == []
    for officer in officers:
        signature = _detached_signature(officer, fresh.payload_b64)
        record = store.add_signature(
            session, keyring, fresh.version, signature, actor="li", now=now + timedelta(minutes=2)
        )
    assert not isinstance(record, PendingDocument)
    listed = store.latest_document(session, store.TRUST_LIST)
    assert listed is not None
    assert listed.version == 1
    session.close()
