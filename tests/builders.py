"""Builders for hostile tokens: arbitrary headers, payloads and signature encodings."""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA256

from healthcode.jws import deflate
from healthcode.keys import P256_ORDER, SigningKey, b64url_encode


def craft_token(
    key: SigningKey,
    *,
    header: dict[str, Any] | None = None,
    claims: dict[str, Any] | None = None,
    payload: bytes | None = None,
    der_signature: bool = False,
    compress: bool = True,
    high_s: bool = False,
) -> str:
    """Sign anything as a compact ES256 JWS, exactly as told (no checks). The r||s signature
    is low-S as issuers emit it, or its malleated high-S twin with `high_s`."""
    if header is None:
        header = {"alg": "ES256", "kid": key.kid, "zip": "DEF"}
    if payload is None:
        payload = json.dumps(claims or {}, separators=(",", ":"), ensure_ascii=False).encode()
    if compress:
        payload = deflate(payload)
    signing_input = (
        b64url_encode(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url_encode(payload)
    )
    der = key.private_key.sign(signing_input.encode(), ec.ECDSA(SHA256()))
    if der_signature:
        signature = der
    else:
        r, s = decode_dss_signature(der)
        s = min(s, P256_ORDER - s)
        if high_s:
            s = P256_ORDER - s
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return signing_input + "." + b64url_encode(signature)
