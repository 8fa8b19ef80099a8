"""Test helpers: a RevocationChecker over the signed revocation list, feed CSV builders."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import jwt

from healthcode.keys import load_jwks
from healthcode.trust import RevocationStatus


class SignedListChecker:
    """Verifies the issuer's signed revocation list with its JWKS and answers from it."""

    def __init__(self, document: str, jwks: dict[str, object], issuer: str) -> None:
        header = jwt.get_unverified_header(document)
        keys = {key.kid: key for key in load_jwks(jwks)}
        key = keys[header["kid"]]
        payload = jwt.PyJWS().decode(document, key=key.public_key, algorithms=["ES256"])
        self.payload = json.loads(payload)
        assert self.payload["iss"] == issuer
        self.revoked = {entry["jti"] for entry in self.payload["entries"]}
        self.as_of = self.payload["issued_at"]
        self.issuer = issuer

    def revocation_status(self, issuer: str, jti: str) -> RevocationStatus:
        if issuer != self.issuer:
            return RevocationStatus.UNKNOWN
        return RevocationStatus.REVOKED if jti in self.revoked else RevocationStatus.NOT_REVOKED


def recent(hours: float = 1.0) -> str:
    """An ISO time `hours` ago (UTC, with offset)."""
    return (datetime.now(UTC) - timedelta(hours=hours)).replace(microsecond=0).isoformat()


def lab_csv(*rows: tuple[str, str, str, str]) -> bytes:
    lines = ["id_number,result,test,sampled_at"] + [",".join(row) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")
