"""Where the checkpoint gets its `TrustStore`: local JWKS files or the registry's trust list.

Both sources answer `current()` and `status()`, so the rest of the service does not care which
one is configured. The registry source wraps `healthcode.trustclient.TrustListClient`, which
keeps a verified copy on disk: QR codes keep verifying while the registry is unreachable.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from healthcode.errors import ErrorCode, HealthcodeError, TrustUnavailable
from healthcode.keys import load_jwks
from healthcode.trust import IssuerEntry, Profile, TrustedKey, TrustStore
from verifiers.settings import VerifierSettings


@dataclass(frozen=True, slots=True)
class Outage:
    """The trust source cannot reach the registry; the held list is used meanwhile."""

    since: float | None  # the last successful contact (epoch s); None if never known
    error: str


class TrustSource(Protocol):
    """The checkpoint's view of the trust registry."""

    def current(self) -> TrustStore:
        """The trust store to verify with; raises TrustUnavailable if none is held."""
        ...

    def status(self) -> dict[str, Any]:
        """JSON-ready facts for the staff screen: source, version, age, last error."""
        ...

    def refresh(self) -> bool:
        """Try to fetch a newer list; True if it changed. Never raises for network errors."""
        ...

    def outage(self) -> Outage | None:
        """Since when the registry has been unreachable; None while it answers."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class LocalTrustSource:
    """A fixed store built from issuer JWKS files (no signature over the list itself)."""

    def __init__(self, store: TrustStore) -> None:
        self._store = store
        self._loaded_at = time.time()

    @classmethod
    def from_settings(cls, settings: VerifierSettings) -> LocalTrustSource:
        """Build from `trust_jwks` plus the optional `trust_issuers` metadata."""
        entries = []
        for issuer_id, path in settings.trust_jwks.items():
            try:
                keys = load_jwks(Path(path).read_bytes())
            except (OSError, ValueError) as exc:
                raise ValueError(f"cannot read JWKS file {str(path)!r}: {exc}") from exc
            meta = settings.trust_issuers.get(issuer_id)
            entries.append(
                IssuerEntry(
                    id=issuer_id,
                    name=(meta.name if meta and meta.name else issuer_id),
                    keys=tuple(TrustedKey(key) for key in keys),
                    region=meta.region if meta else None,
                    endpoints=dict(meta.endpoints) if meta else {},
                    profile=Profile.SHC if issuer_id.startswith("https://") else Profile.HC,
                )
            )
        return cls(TrustStore(entries, source="jwks"))

    def current(self) -> TrustStore:
        return self._store

    def status(self) -> dict[str, Any]:
        return {
            "source": "jwks",
            "version": None,
            "signed_at": None,
            "age_s": int(time.time() - self._loaded_at),
            "issuers": sorted(self._store.issuers),
            "online": None,
        }

    def refresh(self) -> bool:
        return False

    def outage(self) -> Outage | None:
        return None  # nothing to reach: the files are the source

    def close(self) -> None:
        return None


class RegistryTrustSource:
    """The signed trust list from the registry, via `healthcode.trustclient.TrustListClient`."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._outage: Outage | None = None

    @classmethod
    def from_settings(cls, settings: VerifierSettings) -> RegistryTrustSource:
        """Build the trust-list client (imported lazily: it is a separate core module)."""
        if settings.registry_url is None or settings.pinned_root is None:
            raise ValueError("registry_url and pinned_root must both be set")
        module = importlib.import_module("healthcode.trustclient")
        client = module.TrustListClient(
            settings.registry_url,
            settings.pinned_root,
            settings.state_dir / "trust",
        )
        return cls(client)

    def current(self) -> TrustStore:
        store = self._client.current()
        if not isinstance(store, TrustStore):
            raise TrustUnavailable(ErrorCode.TRUST_LIST_UNAVAILABLE, "no verified trust list")
        return store

    def status(self) -> dict[str, Any]:
        status = dict(self._client.status())
        status.setdefault("source", "registry")
        return status

    def refresh(self) -> bool:
        try:
            taken = bool(self._client.refresh())
        except HealthcodeError as error:  # unreachable or refused: reported, never raised
            if self._outage is None:
                self._outage = Outage(since=self._last_contact(), error=error.code.value)
            return False
        self._outage = None
        return taken

    def outage(self) -> Outage | None:
        return self._outage

    def _last_contact(self) -> float | None:
        """When the registry last answered (from the client's status, which survives restarts)."""
        status = self._client.status()
        for name in ("checked_at", "fetched_at"):
            value = status.get(name)
            if isinstance(value, str):
                try:
                    return datetime.fromisoformat(value).timestamp()
                except ValueError:
                    continue
        return None

    def close(self) -> None:
        self._client.stop()


def trust_source_from_settings(settings: VerifierSettings) -> TrustSource:
    """The registry source when a registry is configured, else the local JWKS source."""
    if settings.registry_url is not None:
        return RegistryTrustSource.from_settings(settings)
    return LocalTrustSource.from_settings(settings)
