"""ES256 keys: generation, PEM files, JWK/JWKS export and RFC 7638 thumbprints."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA256

__all__ = [
    "SigningKey",
    "VerifyingKey",
    "b64url_decode",
    "b64url_encode",
    "is_high_s",
    "jwk_thumbprint",
    "jwks_document",
    "load_jwks",
]

_COORDINATE_BYTES = 32  # P-256
#: The order n of the P-256 group. ECDSA signatures are malleable: (r, n - s) verifies whenever
#: (r, s) does, so the standard admits only the low half, s <= n / 2 (§2.1, as Bitcoin's BIP 62).
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_HALF_ORDER_BYTES = (P256_ORDER // 2).to_bytes(_COORDINATE_BYTES, "big")
_ECDSA_SHA256 = ec.ECDSA(SHA256())


def is_high_s(signature: bytes) -> bool:
    """Whether a 64-byte r||s signature has s > n/2 (the malleable twin of a low-S one)."""
    # Equal-length big-endian byte strings compare as their integers do.
    return signature[_COORDINATE_BYTES:] > _HALF_ORDER_BYTES


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Lenient unpadded base64url decode for trusted inputs (keys, files we wrote)."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint of an EC public JWK, base64url-encoded."""
    try:
        members = {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"], "y": jwk["y"]}
    except KeyError as exc:
        raise ValueError(f"EC JWK lacks required member {exc.args[0]!r}") from exc
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return b64url_encode(hashlib.sha256(canonical).digest())


@dataclass(frozen=True, slots=True)
class VerifyingKey:
    """A P-256 public key with its `kid` (its RFC 7638 thumbprint)."""

    kid: str
    public_key: ec.EllipticCurvePublicKey = field(repr=False)

    @classmethod
    def from_public_key(cls, public_key: ec.EllipticCurvePublicKey) -> VerifyingKey:
        """Wrap a P-256 public key; its `kid` is the RFC 7638 thumbprint."""
        if not isinstance(public_key.curve, ec.SECP256R1):
            raise ValueError(f"only P-256 keys are used (got {public_key.curve.name})")
        return cls(kid=jwk_thumbprint(_public_jwk_members(public_key)), public_key=public_key)

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any]) -> VerifyingKey:
        """Load a public JWK; refuses non-P-256 keys and a `kid` that is not the thumbprint."""
        if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
            raise ValueError(
                f"only EC P-256 JWKs are accepted (got kty={jwk.get('kty')!r}, "
                f"crv={jwk.get('crv')!r})"
            )
        if "d" in jwk:
            raise ValueError("a public JWK must not contain the private member 'd'")
        if jwk.get("alg", "ES256") != "ES256":
            raise ValueError(f"JWK alg must be ES256 (got {jwk.get('alg')!r})")
        try:
            x = int.from_bytes(b64url_decode(str(jwk["x"])), "big")
            y = int.from_bytes(b64url_decode(str(jwk["y"])), "big")
            public_key = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
        except (KeyError, ValueError) as exc:
            raise ValueError(f"JWK is not a valid P-256 point: {exc}") from exc
        key = cls.from_public_key(public_key)
        if "kid" in jwk and jwk["kid"] != key.kid:
            raise ValueError(
                f"JWK kid does not match its RFC 7638 thumbprint "
                f"(got {jwk['kid']!r}, expected {key.kid!r})"
            )
        return key

    def to_jwk(self) -> dict[str, str]:
        """The public JWK with `kid`, `use` and `alg`."""
        return {
            **_public_jwk_members(self.public_key),
            "kid": self.kid,
            "use": "sig",
            "alg": "ES256",
        }

    def to_pem(self) -> bytes:
        """The public key as PEM (SubjectPublicKeyInfo)."""
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A P-256 private key used to sign credentials, with its public half."""

    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    verifying_key: VerifyingKey

    @property
    def kid(self) -> str:
        """The RFC 7638 thumbprint of the public half (the JWS header `kid`)."""
        return self.verifying_key.kid

    def sign_raw(self, data: bytes) -> bytes:
        """ES256 over `data` as the 64-byte r||s of JWS, always in low-S form (§2.1)."""
        r, s = decode_dss_signature(self.private_key.sign(data, _ECDSA_SHA256))
        if s > P256_ORDER // 2:
            s = P256_ORDER - s
        return r.to_bytes(_COORDINATE_BYTES, "big") + s.to_bytes(_COORDINATE_BYTES, "big")

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh P-256 key from the operating system's CSPRNG."""
        return cls.from_private_key(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_private_key(cls, private_key: ec.EllipticCurvePrivateKey) -> SigningKey:
        """Wrap a P-256 private key object."""
        return cls(private_key, VerifyingKey.from_public_key(private_key.public_key()))

    @classmethod
    def from_pem(cls, data: bytes) -> SigningKey:
        """Load an unencrypted PEM private key (PKCS#8 or SEC1); refuses non-EC keys."""
        key = serialization.load_pem_private_key(data, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the PEM file does not hold an EC private key")
        return cls.from_private_key(key)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SigningKey:
        """Load a PEM private key file written by `save`."""
        return cls.from_pem(Path(path).read_bytes())

    def to_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM (for `save`; guard the result)."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
        """Write the private key as PEM, readable by the owner only (mode 600).

        With `overwrite=False` an existing file is left alone and `FileExistsError` raised:
        replacing an issuer key by accident would orphan every code signed with it.
        """
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Create with 0600 from the start so the key is never readable by others, even briefly.
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
        fd = os.open(target, flags, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(self.to_pem())
        os.chmod(target, 0o600)
        return target


def _public_jwk_members(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    numbers = public_key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url_encode(numbers.x.to_bytes(_COORDINATE_BYTES, "big")),
        "y": b64url_encode(numbers.y.to_bytes(_COORDINATE_BYTES, "big")),
    }


def jwks_document(keys: Iterable[VerifyingKey]) -> dict[str, list[dict[str, str]]]:
    """A JWKS (`{"keys": [...]}`) of public keys."""
    return {"keys": [key.to_jwk() for key in keys]}


def load_jwks(document: Mapping[str, Any] | str | bytes) -> list[VerifyingKey]:
    """Parse a JWKS document; every key must be a P-256 key whose kid is its thumbprint."""
    if isinstance(document, str | bytes):
        document = json.loads(document)  # a JSONDecodeError is a ValueError
    # Real checks, not asserts: this is input from files and the network, and -O strips asserts.
    if not isinstance(document, Mapping):
        raise ValueError(f"a JWKS must be a JSON object, not {type(document).__name__}")
    keys = document.get("keys")
    if not isinstance(keys, list) or not keys:
        raise ValueError("a JWKS must hold a non-empty 'keys' array")
    for index, jwk in enumerate(keys):
        if not isinstance(jwk, Mapping):
            raise ValueError(f"JWKS key {index} must be a JSON object, not {type(jwk).__name__}")
    return [VerifyingKey.from_jwk(jwk) for jwk in keys]
