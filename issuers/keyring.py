"""The issuer's credential signing keys in `key_dir`: one active key, retired keys kept.

Layout: `<kid>.pem` private keys (mode 600) and `keyring.json`, which records for each key when
it was created and retired. The newest key signs; retired keys stay in the JWKS until every code
they signed has expired (the offline lifetime plus clock skew), as standard §7.4 requires.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from healthcode.config import CLOCK_SKEW_S
from healthcode.errors import ErrorCode, PeerError, RequestError
from healthcode.fetch import PEER_BOUNDS, PeerClient
from healthcode.keychange import make_rotation_request
from healthcode.keys import SigningKey, VerifyingKey, jwks_document


@dataclass(frozen=True, slots=True)
class KeyRecord:
    kid: str
    created_at: int
    retired_at: int | None


class Keyring:
    """Reads and rotates the keys of one issuer; safe to share between threads."""

    def __init__(self, key_dir: Path, *, keep_retired_s: int) -> None:
        self.key_dir = Path(key_dir)
        self.keep_retired_s = keep_retired_s
        self._lock = threading.Lock()
        self._keys: dict[str, SigningKey] = {}
        self._records: list[KeyRecord] = []
        self._loaded_mtime: float | None = None

    @property
    def _index(self) -> Path:
        return self.key_dir / "keyring.json"

    def _load(self) -> None:
        mtime = self._index.stat().st_mtime if self._index.exists() else None
        if mtime is not None and mtime == self._loaded_mtime:
            return
        if mtime is None:
            self._records, self._keys = [], {}
            self._loaded_mtime = None
            return
        document = json.loads(self._index.read_text(encoding="utf-8"))
        self._records = [
            KeyRecord(entry["kid"], int(entry["created_at"]), entry.get("retired_at"))
            for entry in document["keys"]
        ]
        self._keys = {
            record.kid: SigningKey.load(self.key_dir / f"{record.kid}.pem")
            for record in self._records
        }
        self._loaded_mtime = mtime

    def _save(self) -> None:
        self.key_dir.mkdir(parents=True, exist_ok=True)
        document: dict[str, Any] = {
            "keys": [
                {"kid": r.kid, "created_at": r.created_at, "retired_at": r.retired_at}
                for r in self._records
            ]
        }
        temporary = self._index.with_suffix(".tmp")
        temporary.write_text(json.dumps(document, indent=2), encoding="utf-8")
        os.replace(temporary, self._index)
        self._loaded_mtime = None

    def rotate(self, now: float | None = None, new_key: SigningKey | None = None) -> SigningKey:
        """Make `new_key` (default: a fresh one) the signing key; the active one retires."""
        at = int(time.time() if now is None else now)
        with self._lock:
            self._load()
            key = new_key or SigningKey.generate()
            key.save(self.key_dir / f"{key.kid}.pem")
            self._records = [
                KeyRecord(r.kid, r.created_at, at if r.retired_at is None else r.retired_at)
                for r in self._records
            ]
            self._records.append(KeyRecord(key.kid, at, None))
            self._save()
            self._load()
            return key

    def signing_key(self) -> SigningKey:
        """The active key; the first call in an empty key directory creates one."""
        at = time.time()
        with self._lock:
            self._load()
            # A rotated-in key may wait for verifiers (standard §7.4): it signs from its
            # created_at, and the key before it until then.
            active = [
                r
                for r in self._records
                if r.created_at <= at and (r.retired_at is None or r.retired_at > at)
            ]
            if active:
                return self._keys[active[-1].kid]
        return self.rotate()

    def records(self) -> list[KeyRecord]:
        with self._lock:
            self._load()
            return list(self._records)

    def published_keys(self, now: float | None = None) -> list[VerifyingKey]:
        """Active key and retired keys whose codes may still be valid."""
        at = time.time() if now is None else now
        self.signing_key()
        with self._lock:
            self._load()
            return [
                self._keys[r.kid].verifying_key
                for r in self._records
                if r.retired_at is None or r.retired_at + self.keep_retired_s + CLOCK_SKEW_S > at
            ]

    def jwks(self, now: float | None = None) -> dict[str, list[dict[str, str]]]:
        return jwks_document(self.published_keys(now))


def register_new_key(
    registry_url: str,
    issuer_id: str,
    current_key: SigningKey,
    new_key: SigningKey,
    *,
    http: PeerClient | None = None,
) -> dict[str, Any]:
    """Ask the trust registry to list `new_key` (standard §7.4); raises RequestError if refused.

    The request carries two proofs: one by the current key (the issuer asks) and one by the
    new key (the issuer holds it). The caller switches signing only after this returns.
    """
    body = make_rotation_request(issuer=issuer_id, current_key=current_key, new_key=new_key)
    client = http or PeerClient()
    url = f"{registry_url.rstrip('/')}/v1/issuers/{issuer_id}/keys"
    try:
        answer = client.post(url, PEER_BOUNDS.service_call, json=body)
        result = answer.json() if answer.status_code in (201, 202) else None
    except PeerError as exc:
        raise RequestError(
            exc.code,
            f"the trust registry's answer could not be used ({exc.message}); the key was not "
            "rotated, try again",
        ) from exc
    finally:
        if http is None:
            client.close()
    if answer.status_code not in (201, 202):  # 202: pending the root holders' cosignatures
        raise RequestError(
            ErrorCode.CONFLICT if answer.status_code == 409 else ErrorCode.UPSTREAM_UNAVAILABLE,
            f"the trust registry refused the new key ({answer.status_code}: {answer.text[:300]}); "
            "the key was not rotated",
        )
    if not isinstance(result, dict):
        raise RequestError(
            ErrorCode.UPSTREAM_MALFORMED, "the trust registry's answer is not a JSON object"
        )
    return result
