"""Key-change requests an issuer sends the trust registry: rotation and revocation (§7.4).

Part of the standard, so both sides use one implementation: the issuer makes requests
(`healthcode issuer rotate-key`), the registry verifies them (`interop.registry`).

An issuer asks the registry to list a new key by sending the new public JWK and the same claims
signed twice: by one of its currently `active` keys (authorisation: the request comes from the
issuer) and by the new key (proof of possession: the issuer really holds it, so nobody can list
someone else's public key as theirs). A fresh nonce and a recent `iat` stop a captured request
from being replayed.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from healthcode.errors import ErrorCode, RequestError, VerificationError
from healthcode.jws import loads_unique, parse_document, sign_compact, verify_document
from healthcode.keys import SigningKey, VerifyingKey

__all__ = [
    "PROOF_TYP",
    "REVOCATION_TYP",
    "RotationClaims",
    "make_revocation_request",
    "make_rotation_request",
    "verify_rotation_proof",
]

PROOF_TYP = "hc-key-rotation+jwt"
REVOCATION_TYP = "hc-key-revocation+jwt"
MAX_PROOF_AGE_S = 300
#: A proof is a few hundred characters; anything much longer is not one.
MAX_PROOF_CHARS = 4096
_NONCE_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,128}")


@dataclass(frozen=True, slots=True)
class RotationClaims:
    """What both proofs must agree on."""

    issuer: str
    new_kid: str
    nonce: str
    issued_at: int


def _sign(claims: Mapping[str, Any], key: SigningKey, typ: str = PROOF_TYP) -> str:
    return sign_compact(orjson.dumps(dict(claims)), key, compress=False, typ=typ)


def make_rotation_request(
    *, issuer: str, current_key: SigningKey, new_key: SigningKey, now: float | None = None
) -> dict[str, Any]:
    """The JSON body of `POST /v1/issuers/{issuer}/keys` for rotating to `new_key`."""
    claims = {
        "iss": issuer,
        "new_kid": new_key.kid,
        "nonce": secrets.token_urlsafe(24),
        "iat": int(time.time() if now is None else now),
    }
    return {
        "jwk": new_key.verifying_key.to_jwk(),
        "authorization": _sign(claims, current_key),
        "possession": _sign(claims, new_key),
    }


def make_revocation_request(
    *, issuer: str, signing_key: SigningKey, revoke_kid: str, now: float | None = None
) -> dict[str, Any]:
    """The JSON body of `POST /v1/issuers/{issuer}/keys/{kid}/revoke` (emergency, §7.4).

    Any listed, not yet revoked key of the issuer may sign it, the compromised one included:
    revoking only ever removes trust, so whoever holds a key may withdraw it.
    """
    claims = {
        "iss": issuer,
        "revoke_kid": revoke_kid,
        "nonce": secrets.token_urlsafe(24),
        "iat": int(time.time() if now is None else now),
    }
    return {"proof": _sign(claims, signing_key, REVOCATION_TYP)}


def _refused(what: str, exc: VerificationError) -> RequestError:
    return RequestError(ErrorCode.ASSERTION_INVALID, f"the {what} proof is refused: {exc.message}")


def proof_kid(proof: str, typ: str = PROOF_TYP) -> str:
    """The unverified `kid` of a proof whose header is right for `typ` (to pick the key that
    must verify it); raises RequestError(assertion_invalid)."""
    try:
        return parse_document(proof, typ=typ, max_chars=MAX_PROOF_CHARS).kid
    except VerificationError as exc:
        raise _refused("key-change", exc) from exc


def verify_rotation_proof(
    proof: str,
    key: VerifyingKey,
    *,
    what: str,
    now: float,
    key_claim: str = "new_kid",
    typ: str = PROOF_TYP,
) -> RotationClaims:
    """Verify one proof of type `typ` with `key` (the one signed-document verifier);
    raises RequestError(assertion_invalid).

    `key_claim` names the claim holding the kid the request is about (`new_kid` for a
    rotation, `revoke_kid` for an emergency revocation); it is returned as `new_kid`.
    """
    try:
        document = verify_document(proof, {key.kid: key}, typ=typ, max_chars=MAX_PROOF_CHARS)
    except VerificationError as exc:
        raise _refused(what, exc) from exc
    try:
        claims = loads_unique(document.payload)
    except (ValueError, RecursionError) as exc:
        raise RequestError(
            ErrorCode.ASSERTION_INVALID, f"the {what} proof's claims are not JSON ({exc})"
        ) from exc
    if not isinstance(claims, dict) or any(
        name not in claims for name in ("iss", key_claim, "nonce", "iat")
    ):
        raise RequestError(
            ErrorCode.ASSERTION_INVALID,
            f"the {what} proof needs the claims iss, {key_claim}, nonce and iat",
        )
    issued_at = claims["iat"]
    if (
        not isinstance(issued_at, int)
        or isinstance(issued_at, bool)
        or abs(now - issued_at) > MAX_PROOF_AGE_S
    ):
        raise RequestError(
            ErrorCode.ASSERTION_INVALID,
            f"the {what} proof must be signed within {MAX_PROOF_AGE_S} s of now",
        )
    nonce = claims["nonce"]
    if not isinstance(nonce, str) or not _NONCE_PATTERN.fullmatch(nonce):
        raise RequestError(ErrorCode.ASSERTION_INVALID, "nonce must be 16-128 base64url chars")
    return RotationClaims(str(claims["iss"]), str(claims[key_claim]), nonce, issued_at)
