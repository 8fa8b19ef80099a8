"""What a verifier trusts: issuers, their keys and the time the trust data was signed.

A `TrustStore` is the verifier's view of the trust registry (standard §7). It is built either
from issuer JWKS files (a local, unsigned store for tests, demos and single-province use) or
from a verified, signed trust list (`healthcode.trustlist`). Verification only ever looks keys
up here; nothing is fetched from a URL named in a credential.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from healthcode.keys import VerifyingKey, load_jwks

__all__ = [
    "IssuerEntry",
    "IssuerStatus",
    "KeyStatus",
    "Profile",
    "RevocationChecker",
    "RevocationStatus",
    "TrustStore",
    "TrustedKey",
]


class IssuerStatus(StrEnum):
    """Registry status of an issuer: a `suspended` one's codes are refused (§7.3)."""

    ACTIVE = "active"
    SUSPENDED = "suspended"


class KeyStatus(StrEnum):
    """`retired` keys sign nothing new but verify codes issued inside their window."""

    ACTIVE = "active"
    RETIRED = "retired"
    REVOKED = "revoked"


class Profile(StrEnum):
    """Credential profile an issuer signs: our standard, or SMART Health Cards (§8)."""

    HC = "hc"
    SHC = "shc"


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """An issuer key with the window of issue times (`iat`) it may vouch for."""

    key: VerifyingKey
    status: KeyStatus = KeyStatus.ACTIVE
    not_before: int | None = None  # epoch seconds; codes issued earlier are refused
    not_after: int | None = None  # epoch seconds; codes issued later are refused

    @property
    def kid(self) -> str:
        """The key's RFC 7638 thumbprint."""
        return self.key.kid

    def covers(self, issued_at: float) -> bool:
        """Whether a credential issued at `issued_at` falls in this key's window."""
        if self.not_before is not None and issued_at < self.not_before:
            return False
        return not (self.not_after is not None and issued_at > self.not_after)


@dataclass(frozen=True, slots=True)
class IssuerEntry:
    """One trusted issuer as the trust list describes it."""

    id: str
    name: str
    keys: tuple[TrustedKey, ...]
    region: str | None = None  # GB/T 2260 6-digit code of the province it serves
    status: IssuerStatus = IssuerStatus.ACTIVE
    profile: Profile = Profile.HC
    endpoints: Mapping[str, str] = field(default_factory=dict)
    partner_keys: tuple[VerifyingKey, ...] = ()  # keys for client assertions (§10.1)


class RevocationStatus(StrEnum):
    """A revocation checker's answer for one `jti`."""

    NOT_REVOKED = "not_revoked"
    REVOKED = "revoked"
    UNKNOWN = "unknown"  # no data fresh enough to tell: fail closed (§5.3)


class RevocationChecker(Protocol):
    """Answers whether a credential `jti` of `issuer` is revoked, as of the checker's data."""

    def revocation_status(self, issuer: str, jti: str) -> RevocationStatus: ...


class TrustStore:
    """Issuers and keys a verifier trusts, indexed by `kid` for the hot path."""

    def __init__(
        self,
        issuers: Iterable[IssuerEntry],
        *,
        source: str = "local",
        version: int | None = None,
        signed_at: int | None = None,
        expires_at: int | None = None,
        stale_grace_s: int = 0,
    ) -> None:
        self.source = source
        #: how long past `expires_at` the list still verifies, reported as stale (§7.6)
        self.stale_grace_s = stale_grace_s
        self.version = version
        #: the registry's signed time; a device clock before it is wrong (§7.5)
        self.signed_at = signed_at
        self.expires_at = expires_at
        self._issuers: dict[str, IssuerEntry] = {}
        self._keys: dict[str, tuple[IssuerEntry, TrustedKey]] = {}
        for issuer in issuers:
            if issuer.id in self._issuers:
                raise ValueError(f"issuer {issuer.id!r} is listed twice")
            self._issuers[issuer.id] = issuer
            for trusted in issuer.keys:
                if trusted.kid in self._keys:
                    # One kid, one issuer: otherwise a key of A could sign as B.
                    raise ValueError(f"key {trusted.kid!r} is listed for two issuers")
                self._keys[trusted.kid] = (issuer, trusted)

    def __repr__(self) -> str:
        return (
            f"TrustStore(source={self.source!r}, version={self.version}, "
            f"issuers={sorted(self._issuers)})"
        )

    @property
    def issuers(self) -> Mapping[str, IssuerEntry]:
        """The trusted issuers by id."""
        return self._issuers

    def issuer(self, issuer_id: str) -> IssuerEntry | None:
        """The issuer entry with this id, if trusted."""
        return self._issuers.get(issuer_id)

    def key(self, kid: str) -> tuple[IssuerEntry, TrustedKey] | None:
        """The issuer and key entry for `kid`, if trusted (keys are unique across issuers)."""
        return self._keys.get(kid)

    def issuer_for_region(self, division_code: str) -> IssuerEntry | None:
        """The issuer serving the province of a 6-digit division code (first two digits)."""
        province = division_code[:2]
        for issuer in self._issuers.values():
            if issuer.region and issuer.region[:2] == province:
                return issuer
        return None

    @classmethod
    def from_jwks(
        cls,
        issuers: Iterable[tuple[str, Mapping[str, Any] | str | bytes]],
        *,
        names: Mapping[str, str] | None = None,
    ) -> TrustStore:
        """A local store from (issuer id, JWKS document) pairs; the same id may repeat.

        The profile is inferred: issuer ids that are https URLs are SMART Health Cards
        issuers (their `iss` is a URL by that specification), others use our profile.
        """
        keys_by_issuer: dict[str, list[TrustedKey]] = {}
        for issuer_id, document in issuers:
            keys = [TrustedKey(key) for key in load_jwks(document)]
            keys_by_issuer.setdefault(issuer_id, []).extend(keys)
        entries = [
            IssuerEntry(
                id=issuer_id,
                name=(names or {}).get(issuer_id, issuer_id),
                keys=tuple(keys),
                profile=Profile.SHC if issuer_id.startswith("https://") else Profile.HC,
            )
            for issuer_id, keys in keys_by_issuer.items()
        ]
        return cls(entries, source="jwks")

    @classmethod
    def from_jwks_files(cls, pairs: Iterable[tuple[str, str | os.PathLike[str]]]) -> TrustStore:
        """A local store from (issuer id, path to JWKS file) pairs."""
        documents = []
        for issuer_id, path in pairs:
            try:
                document = json.loads(Path(path).read_bytes())
                load_jwks(document)  # checked here so the message names the file
            except (OSError, ValueError) as exc:
                raise ValueError(f"cannot use JWKS file {os.fspath(path)!r}: {exc}") from exc
            documents.append((issuer_id, document))
        return cls.from_jwks(documents)
