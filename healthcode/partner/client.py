"""The caller's side of the partner API (standard §10): one signed request per call.

Each call carries a fresh RFC 7523 client assertion (§10.1) for the callee's `partner_api`
exactly as the trust list spells it, and reads the answer through the one bounded client
(`healthcode.fetch.PeerClient`): a partner is trusted for its signatures, never for its size,
speed or shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from healthcode.fetch import PEER_BOUNDS, PeerAnswer, PeerClient, ReadBounds
from healthcode.keys import SigningKey
from healthcode.partner.assertions import make_client_assertion

__all__ = ["PartnerClient"]


class PartnerClient:
    """Calls other issuers' partner APIs as `partner`, signing with its partner key."""

    def __init__(self, key: SigningKey, *, partner: str, http: PeerClient | None = None) -> None:
        self._key = key
        self.partner = partner
        self._http = http or PeerClient()
        self._owns_http = http is None

    def call(
        self,
        method: str,
        partner_api: str,
        path: str,
        bounds: ReadBounds,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> PeerAnswer:
        """One authenticated request to `partner_api` + `path`; any status is returned.
        Raises PeerError (upstream_*) when the callee cannot be read within `bounds`."""
        assertion = make_client_assertion(self._key, partner=self.partner, audience=partner_api)
        return self._http.request(
            method,
            partner_api.rstrip("/") + path,
            bounds,
            params=params,
            json=json,
            headers={"Authorization": f"Bearer {assertion}"},
        )

    def status(self, partner_api: str, *, id_number: str, name: str, purpose: str) -> PeerAnswer:
        """`POST /status` (§10.2): a status credential of the callee's citizen."""
        body = {"id_number": id_number, "name": name, "purpose": purpose}
        return self.call("POST", partner_api, "/status", PEER_BOUNDS.status_lookup, json=body)

    def revocations(self, partner_api: str, since: int) -> PeerAnswer:
        """`GET /revocations?since=` (§10.4): the callee's signed revocation list."""
        return self.call(
            "GET", partner_api, "/revocations", PEER_BOUNDS.revocations, params={"since": since}
        )

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> PartnerClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
