"""Keys: RFC 7638 thumbprints, JWK round trips, PEM files."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from healthcode import SigningKey, VerifyingKey, jwk_thumbprint, jwks_document, load_jwks


def test_rfc7638_thumbprint_of_the_published_example_key() -> None:
    # The SMART Health Cards example issuer lists kid = RFC 7638 thumbprint of each key.
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "x": "11XvRWy1I2S0EyJlyf_bWfw_TQ5CJJNLw78bHXNxcgw",
        "y": "eZXwxvO1hvCY0KucrPfKo7yAyMT6Ajc3N7OkAB6VYy8",
    }
    assert jwk_thumbprint(jwk) == "3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s"


def test_jwk_round_trip_keeps_kid() -> None:
    key = SigningKey.generate()
    jwk = key.verifying_key.to_jwk()
    assert VerifyingKey.from_jwk(jwk).kid == key.kid == jwk["kid"]
    assert load_jwks(jwks_document([key.verifying_key]))[0].kid == key.kid


def test_save_is_owner_only_and_loads_back(tmp_path: Path) -> None:
    key = SigningKey.generate()
    path = key.save(tmp_path / "sub" / "key.pem")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert SigningKey.load(path).kid == key.kid


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kid": "not-the-thumbprint"}, "thumbprint"),
        ({"crv": "P-384"}, "P-256"),
        ({"kty": "RSA"}, "P-256"),
        ({"alg": "HS256"}, "ES256"),
        ({"d": "secret"}, "private"),
        ({"x": "AAAA"}, "point"),
    ],
)
def test_bad_jwks_are_refused(change: dict[str, str], message: str) -> None:
    jwk = {**SigningKey.generate().verifying_key.to_jwk(), **change}
    with pytest.raises(ValueError, match=message):
        VerifyingKey.from_jwk(jwk)


def test_empty_jwks_refused() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        load_jwks({"keys": []})
