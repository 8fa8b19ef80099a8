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
from sqlmodel import Session

from healthcode import ErrorCode, SigningKey, TrustListError, verify_credential
from healthcode.trust import KeyStatus
from healthcode.trustlist import TrustListState, load_root
from interop.app import create_app, create_engine_for
from interop.registry import store
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
        ],
        env={**os.environ, "HC_INTEROP_ADMIN_TOKEN": token},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
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
            json.dumps({"payload": listed["payload"], "signatures": stamp["signatures"]}),
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
