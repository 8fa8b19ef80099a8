"""An in-process trust registry for tests, served over real HTTP (tests.servers.AppServer).

Like python-tuf's RepositorySimulator it holds real root keys and publishes real signed
documents, and it can be told to misbehave: serve an old version (rollback), an expired one
(freeze), altered bytes (tamper), a list signed by too few or unknown keys.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request, Response

from healthcode import IssuerEntry, SigningKey, TrustedKey
from healthcode.trustlist import (
    ROOT_TYP,
    TIMESTAMP_TYP,
    TRUST_LIST_TYP,
    make_root,
    sign_document,
    timestamp_payload,
    trust_list_payload,
)

#: The simulator's "now": 2026-09-21T14:13:20Z, the same instant as tests.conftest.NOW.
SIM_NOW = datetime.fromtimestamp(1_790_000_000, UTC)


def encode(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def issuer_entry(issuer_id: str, region: str | None, key: SigningKey, **fields: Any) -> IssuerEntry:
    """An active `hc` issuer with one active key and the usual endpoints."""
    values: dict[str, Any] = {
        "id": issuer_id,
        "name": f"{issuer_id} 省",
        "region": region,
        "keys": (TrustedKey(key.verifying_key),),
        "endpoints": {"partner_api": f"https://{issuer_id}.example.cn/partner/v1"},
    }
    values.update(fields)
    return IssuerEntry(**values)


class TrustRegistrySimulator:
    """Root keys, the chain of signed roots and the published trust lists of a registry."""

    def __init__(
        self,
        *,
        root_keys: int = 3,
        threshold: int = 2,
        now: datetime = SIM_NOW,
        with_timestamp: bool = False,
    ) -> None:
        self.now = now
        #: the online timestamp key the root delegates (§7.7), when `with_timestamp`
        self.timestamp_key: SigningKey | None = SigningKey.generate() if with_timestamp else None
        self.timestamps: dict[int, bytes] = {}
        #: what GET /v1/timestamp serves (None: 404)
        self.served_timestamp: bytes | None = None
        self.root_keys: list[SigningKey] = [SigningKey.generate() for _ in range(root_keys)]
        self.threshold = threshold
        self.roots: dict[int, bytes] = {}
        self.lists: dict[int, bytes] = {}
        self.issuers: list[IssuerEntry | Mapping[str, Any]] = []
        #: what GET /v1/trust-list serves; `stage` overrides it with anything
        self.served: bytes | None = None
        self.requests: list[tuple[str, int]] = []  # (path, status) of every request answered
        self.available = True  # False: answer 503 to everything
        payload = make_root(
            [key.verifying_key for key in self.root_keys],
            threshold,
            1,
            now + timedelta(days=365),
            timestamp_keys=self._timestamp_keys(),
        )
        self.roots[1] = encode(sign_document(payload, self.root_keys, ROOT_TYP))

    def _timestamp_keys(self) -> list[Any]:
        return [] if self.timestamp_key is None else [self.timestamp_key.verifying_key]

    @property
    def root_version(self) -> int:
        return max(self.roots)

    @property
    def pinned_root(self) -> dict[str, Any]:
        """Root version 1, as shipped with the software."""
        result: dict[str, Any] = json.loads(self.roots[1])
        return result

    def rotate_root(
        self,
        new_keys: Sequence[SigningKey],
        threshold: int,
        *,
        signers: Sequence[SigningKey] | None = None,
        expires: datetime | None = None,
    ) -> bytes:
        """Publish root N+1 with `new_keys`; by default signed by all old and new keys."""
        version = self.root_version + 1
        payload = make_root(
            [key.verifying_key for key in new_keys],
            threshold,
            version,
            expires or self.now + timedelta(days=365),
            timestamp_keys=self._timestamp_keys(),
        )
        if signers is None:
            signers = list({key.kid: key for key in [*self.root_keys, *new_keys]}.values())
        document = encode(sign_document(payload, signers, ROOT_TYP))
        self.roots[version] = document
        self.root_keys = list(new_keys)
        self.threshold = threshold
        return document

    def publish(
        self,
        *,
        version: int | None = None,
        signed_at: datetime | None = None,
        expires: datetime | None = None,
        signers: Sequence[SigningKey] | None = None,
        root_version: int | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> bytes:
        """Sign and serve a new trust list of `self.issuers` (version: next by default)."""
        version = version or max(self.lists, default=0) + 1
        signed_at = signed_at or self.now
        payload = trust_list_payload(
            version,
            root_version or self.root_version,
            signed_at,
            expires or signed_at + timedelta(days=7),
            self.issuers,
            extra=extra,
        )
        document = encode(sign_document(payload, signers or self.root_keys, TRUST_LIST_TYP))
        self.lists[version] = document
        self.served = document
        return document

    def publish_timestamp(
        self,
        *,
        signed_at: datetime | None = None,
        version: int | None = None,
        trust_list_version: int | None = None,
        expires: datetime | None = None,
        revoked_keys: Sequence[str] = (),
        suspended_issuers: Sequence[str] = (),
        signer: SigningKey | None = None,
    ) -> bytes:
        """Sign and serve a timestamp (§7.7) naming the newest list (by default)."""
        assert self.timestamp_key is not None, "the simulator was made without_timestamp"
        version = version or max(self.timestamps, default=0) + 1
        signed_at = signed_at or self.now
        payload = timestamp_payload(
            version,
            self.root_version,
            signed_at,
            expires or signed_at + timedelta(days=1),
            trust_list_version or max(self.lists),
            revoked_keys=revoked_keys,
            suspended_issuers=suspended_issuers,
        )
        document = encode(sign_document(payload, [signer or self.timestamp_key], TIMESTAMP_TYP))
        self.timestamps[version] = document
        self.served_timestamp = document
        return document

    def stage(self, document: bytes) -> None:
        """Serve exactly these bytes at GET /v1/trust-list (tamper, rollback scenarios)."""
        self.served = document

    def count(self, path: str, status: int | None = None) -> int:
        return sum(1 for p, s in self.requests if p == path and status in (None, s))

    def app(self) -> FastAPI:
        """The registry's HTTP API (§7) over this simulator's state."""
        app = FastAPI()

        def answer(request: Request, body: bytes | None) -> Response:
            path = request.url.path
            if not self.available:
                response = Response(status_code=503)
            elif body is None:
                response = Response(status_code=404)
            else:
                etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
                if request.headers.get("if-none-match") == etag:
                    response = Response(status_code=304, headers={"ETag": etag})
                else:
                    response = Response(body, media_type="application/json", headers={"ETag": etag})
            self.requests.append((path, response.status_code))
            return response

        @app.get("/v1/trust-list")
        def current_list(request: Request) -> Response:
            return answer(request, self.served)

        @app.get("/v1/trust-list/{version}")
        def list_version(request: Request, version: int) -> Response:
            return answer(request, self.lists.get(version))

        @app.get("/v1/timestamp")
        def timestamp(request: Request) -> Response:
            return answer(request, self.served_timestamp)

        @app.get("/v1/root/latest")
        def latest_root(request: Request) -> Response:
            return answer(request, self.roots[self.root_version])

        @app.get("/v1/root/{version}")
        def root_version(request: Request, version: int) -> Response:
            return answer(request, self.roots.get(version))

        return app
