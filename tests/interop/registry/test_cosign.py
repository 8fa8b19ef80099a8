"""`healthcode registry cosign` against a registry host that may lie about the pending version.

The host here is a real HTTP server whose answers the test writes: what a compromised or buggy
registry host could send an officer. The officer's root keys and pinned root are real.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response

from healthcode import SigningKey
from healthcode.cli import main
from healthcode.keys import b64url_encode
from healthcode.trust import IssuerEntry, IssuerStatus, KeyStatus, TrustedKey
from healthcode.trustlist import (
    ROOT_TYP,
    TRUST_LIST_TYP,
    load_root,
    make_root,
    sign_document,
    trust_list_payload,
    verify_trust_list,
)
from interop.registry.signing import RootKeyring, init_root
from tests.servers import AppServer

TOKEN = "officer-token-0123456789"
SC_KEY, GD_KEY = SigningKey.generate(), SigningKey.generate()


class RegistryHost:
    """Serves the officer's real roots, and a pending view and published list as set."""

    def __init__(self, root_dir: Path) -> None:
        self.root_dir = root_dir
        self.pending: dict[str, Any] | None = None
        self.published: bytes | None = None
        self.received: list[dict[str, Any]] = []
        app = FastAPI()

        @app.get("/v1/root/{version}")
        def root(version: int) -> Response:
            path = root_dir / f"root-{version}.json"
            if not path.is_file():
                return Response(status_code=404)
            return Response(path.read_bytes(), media_type="application/json")

        @app.get("/v1/trust-list")
        def trust_list() -> Response:
            if self.published is None:
                return Response(status_code=404)
            return Response(self.published, media_type="application/json")

        @app.get("/v1/admin/pending")
        def pending(request: Request) -> Response:
            if request.headers.get("authorization") != f"Bearer {TOKEN}":
                return Response(status_code=401)
            if self.pending is None:
                return Response(status_code=404)
            return Response(json.dumps(self.pending), media_type="application/json")

        @app.post("/v1/admin/pending/{version}/signatures")
        async def cosign(version: int, request: Request) -> dict[str, Any]:
            self.received.append(await request.json())
            return {"trust_list_version": version, "pending": False}

        self.server = AppServer(app)

    def offer(self, payload: dict[str, Any], **overrides: Any) -> str:
        """Set the pending view of `payload`; returns the base64url payload served."""
        payload_b64 = b64url_encode(
            json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        )
        self.pending = {
            "trust_list_version": payload["version"],
            "payload": payload_b64,
            "document": payload,
            "signed_by": ["host-kid"],
            "threshold": 2,
            "prepared_at": "2026-01-01T00:00:00Z",
            "prepared_by": "admin:wang",
            "action": "onboard",
            **overrides,
        }
        return str(self.pending["payload"])


@pytest.fixture
def officer(tmp_path: Path) -> tuple[Path, Path]:
    """(root directory of the officers, one officer's key file)."""
    folder = tmp_path / "root"
    init_root(folder, key_count=3, threshold=2, now=datetime.now(UTC))
    return folder, sorted((folder / "keys").glob("*.pem"))[0]


@pytest.fixture
def host(officer: tuple[Path, Path]) -> Iterator[RegistryHost]:
    registry = RegistryHost(officer[0])
    yield registry
    registry.server.stop()


def _issuer(issuer_id: str, region: str, key: SigningKey, **overrides: Any) -> IssuerEntry:
    fields: dict[str, Any] = {
        "id": issuer_id,
        "name": f"{issuer_id} 省",
        "region": region,
        "keys": (TrustedKey(key.verifying_key),),
        "endpoints": {"partner_api": f"https://hc.{issuer_id}.example.cn/partner/v1"},
    }
    fields.update(overrides)
    return IssuerEntry(**fields)


def _payload(version: int, issuers: list[IssuerEntry], **changes: Any) -> dict[str, Any]:
    signed_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    payload = trust_list_payload(version, 1, signed_at, signed_at + timedelta(days=7), issuers)
    payload.update(changes)
    return payload


@pytest.fixture
def cosign(
    host: RegistryHost,
    officer: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Callable[..., tuple[int, str]]:
    monkeypatch.setenv("HC_INTEROP_ADMIN_TOKEN", TOKEN)

    def run(*extra: str, answer: str | None = None) -> tuple[int, str]:
        if answer is not None:
            monkeypatch.setattr("sys.stdin", io.StringIO(answer))
        argv = [
            "registry",
            "cosign",
            "--registry",
            host.server.url,
            "--key",
            str(officer[1]),
            "--root",
            str(officer[0] / "root-1.json"),
            *extra,
        ]
        if answer is None:
            argv.append("--yes")
        status = main(argv)
        return status, capsys.readouterr().err

    return run


def test_cosigner_sees_the_changes_and_signs_exactly_the_payload_served(
    host: RegistryHost, officer: tuple[Path, Path], cosign: Callable[..., tuple[int, str]]
) -> None:
    keyring = RootKeyring.load(officer[0])
    published = _payload(4, [_issuer("cn-sc", "510000", SC_KEY)])
    host.published = json.dumps(keyring.sign(published, TRUST_LIST_TYP)).encode()
    proposed = _payload(
        5,
        [
            _issuer("cn-gd", "440000", GD_KEY),
            _issuer(
                "cn-sc",
                "510000",
                SC_KEY,
                status=IssuerStatus.SUSPENDED,
                keys=(TrustedKey(SC_KEY.verifying_key, KeyStatus.REVOKED),),
            ),
        ],
    )
    payload_b64 = host.offer(proposed)
    status, shown = cosign()
    assert status == 0, shown
    assert "pending trust list version 5 under root 1" in shown
    assert "changes from published version 4" in shown
    assert "+ issuer cn-gd" in shown
    assert "~ cn-sc: status active -> suspended" in shown
    assert f"~ cn-sc: key {SC_KEY.kid} active [- .. -] -> {SC_KEY.kid} revoked" in shown
    # The one signature sent covers the served payload string, with the officer's root key.
    [signature] = host.received
    other = SigningKey.load(sorted((officer[0] / "keys").glob("*.pem"))[1])
    held = sign_document(proposed, [other], TRUST_LIST_TYP)["signatures"]
    document = {"payload": payload_b64, "signatures": [signature, *held]}
    assert verify_trust_list(document, load_root((officer[0] / "root-1.json").read_bytes()))


def test_host_showing_one_document_and_asking_to_sign_another_is_refused(
    host: RegistryHost, cosign: Callable[..., tuple[int, str]]
) -> None:
    honest = _payload(1, [_issuer("cn-sc", "510000", SC_KEY)])
    evil = _payload(1, [_issuer("cn-sc", "510000", SigningKey.generate())])
    # The decoded `document` the officer used to be shown is the honest one; the payload the
    # officer would sign lists the attacker's key for Sichuan.
    host.offer(evil, document=honest)
    status, shown = cosign()
    assert status == 1
    assert "trust_list_malformed" in shown
    assert "differs from the payload" in shown
    assert host.received == []


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        # not a trust list at all
        (lambda p: ({**p, "_type": "hc-root"}, {}), "payload _type must be 'hc-trustlist'"),
        (lambda p: ({**p, "spec": "2"}, {}), "payload spec must be '1'"),
        # signed under a root the officer does not have, or an older one
        (lambda p: ({**p, "root_version": 2}, {}), "trust_list_unknown_root_key"),
        # the view announces another version than the payload is
        (lambda p: (p, {"trust_list_version": 7}), "announces version 7"),
        # already (nearly) expired: it would reach verifiers refused as a freeze
        (
            lambda p: (
                {**p, "expires": _at(timedelta(minutes=30))},
                {},
            ),
            "re-proposed",
        ),
        # signed "in the future": it would push every verifier's trusted time ahead
        (
            lambda p: (
                {**p, "signed_at": _at(timedelta(days=1)), "expires": _at(timedelta(days=2))},
                {},
            ),
            "after now",
        ),
        # longer-lived than §7.2 allows
        (lambda p: ({**p, "expires": _at(timedelta(days=30))}, {}), "over the 7 days"),
    ],
)
def test_pending_payload_failing_the_checks_is_not_signed(
    host: RegistryHost,
    cosign: Callable[..., tuple[int, str]],
    tamper: Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, Any]]],
    expected: str,
) -> None:
    payload, overrides = tamper(_payload(1, [_issuer("cn-sc", "510000", SC_KEY)]))
    host.offer(payload, **overrides)
    status, shown = cosign()
    assert status == 1
    assert expected in shown
    assert host.received == []


def _at(offset: timedelta) -> str:
    return (datetime.now(UTC) + offset).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_padded_or_non_canonical_payload_is_not_signed(
    host: RegistryHost, cosign: Callable[..., tuple[int, str]]
) -> None:
    payload_b64 = host.offer(_payload(1, [_issuer("cn-sc", "510000", SC_KEY)]))
    assert host.pending is not None
    host.pending["payload"] = payload_b64 + "=" * (-len(payload_b64) % 4 or 4)
    status, shown = cosign()
    assert (status, host.received) == (1, [])
    assert "not unpadded base64url" in shown


def test_pending_not_newer_than_the_published_list_is_not_signed(
    host: RegistryHost, officer: tuple[Path, Path], cosign: Callable[..., tuple[int, str]]
) -> None:
    keyring = RootKeyring.load(officer[0])
    issuers = [_issuer("cn-sc", "510000", SC_KEY)]
    host.published = json.dumps(keyring.sign(_payload(4, issuers), TRUST_LIST_TYP)).encode()
    host.offer(_payload(4, issuers))
    status, shown = cosign()
    assert (status, host.received) == (1, [])
    assert "trust_list_rollback" in shown


def test_published_list_that_does_not_verify_is_no_baseline(
    host: RegistryHost, cosign: Callable[..., tuple[int, str]]
) -> None:
    issuers = [_issuer("cn-sc", "510000", SC_KEY)]
    forged = sign_document(_payload(4, issuers), [SigningKey.generate()], TRUST_LIST_TYP)
    host.published = json.dumps(forged).encode()
    host.offer(_payload(5, issuers))
    status, shown = cosign()
    assert (status, host.received) == (1, [])
    assert "trust_list_unknown_root_key" in shown


def test_root_chain_from_the_pinned_root_must_verify(
    host: RegistryHost, officer: tuple[Path, Path], cosign: Callable[..., tuple[int, str]]
) -> None:
    # The host serves a root 2 signed only by keys it made up: the officer does not follow it.
    fake_keys = [SigningKey.generate() for _ in range(2)]
    root2 = make_root(
        [k.verifying_key for k in fake_keys], 1, 2, datetime.now(UTC) + timedelta(days=30)
    )
    (officer[0] / "root-2.json").write_text(json.dumps(sign_document(root2, fake_keys, ROOT_TYP)))
    host.offer(_payload(1, [_issuer("cn-sc", "510000", SC_KEY)]))
    status, shown = cosign()
    assert (status, host.received) == (1, [])
    assert "trust_list_threshold" in shown


def test_cosigner_is_asked_before_signing(
    host: RegistryHost, cosign: Callable[..., tuple[int, str]]
) -> None:
    host.offer(_payload(1, [_issuer("cn-sc", "510000", SC_KEY)]))
    status, shown = cosign(answer="n\n")
    assert (status, host.received) == (1, [])
    assert "sign trust list version 1" in shown
    assert "not signed" in shown
    status, shown = cosign(answer="")  # no terminal: never a yes
    assert (status, host.received) == (1, [])
    status, _ = cosign(answer="y\n")
    assert status == 0
    assert len(host.received) == 1


def test_version_named_by_the_officer_must_be_the_one_pending(
    host: RegistryHost, cosign: Callable[..., tuple[int, str]]
) -> None:
    host.offer(_payload(3, [_issuer("cn-sc", "510000", SC_KEY)]))
    status, shown = cosign("--version", "2")
    assert (status, host.received) == (1, [])
    assert "version 3 is pending, not 2" in shown


def test_wrong_token_and_missing_pinned_root_are_reported(
    host: RegistryHost,
    cosign: Callable[..., tuple[int, str]],
    monkeypatch: pytest.MonkeyPatch,
    officer: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    host.offer(_payload(1, [_issuer("cn-sc", "510000", SC_KEY)]))
    monkeypatch.setenv("HC_INTEROP_ADMIN_TOKEN", "not-the-token-0123456")
    status, shown = cosign()
    assert (status, host.received) == (1, [])
    assert "unauthenticated" in shown
    assert "admin token" in shown
    argv = ["registry", "cosign", "--registry", host.server.url, "--key", str(officer[1])]
    assert main([*argv, "--root", str(officer[0] / "missing.json"), "--yes"]) == 2
    assert "cannot use the pinned root" in capsys.readouterr().err
