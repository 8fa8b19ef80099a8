"""The registry's root keys: creating the first root, signing trust lists, rotating the root.

Layout of the root-key directory::

    root-1.json, root-2.json, ...   every signed root document (§7.1), never rewritten
    keys/<kid>.pem                  root private keys held on this machine (mode 600)
    timestamp/<kid>.pem             the online timestamp key the root delegates (§7.7)

In the demo the registry holds all n root keys and signs with each of them. In production the
root keys are held offline by distinct officers: the registry then holds fewer than the
threshold, prepares each new trust-list version as a *pending* version signed by what it
holds, and the officers cosign it (`healthcode registry cosign`); see interop.registry.store
and docs/adr/0007. The timestamp key stays online: it signs only short-lived freshness
documents and emergency removals of trust, never an issuer or a key (docs/standard.md §7.7).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from healthcode.errors import ErrorCode, TrustUnavailable
from healthcode.keys import SigningKey
from healthcode.trustlist import (
    ROOT_TYP,
    RootMetadata,
    load_root,
    make_root,
    sign_document,
    verify_root_update,
)

__all__ = ["RootKeyring", "init_root", "rotate_root"]

TIMESTAMP_DIR = "timestamp"

DEFAULT_ROOT_LIFETIME = timedelta(days=365)
_ROOT_FILE = re.compile(r"root-(\d+)\.json")


def _write_new(path: Path, document: Mapping[str, Any]) -> None:
    # Exclusive create: a root version is written once and never replaced.
    with path.open("x", encoding="utf-8") as handle:
        json.dump(document, handle, ensure_ascii=False, indent=1)


@dataclass(frozen=True, slots=True)
class RootKeyring:
    """The verified chain of roots in a directory and the root private keys held there."""

    directory: Path
    roots: tuple[RootMetadata, ...]  # version 1..N, each verified against the one before
    held_keys: Mapping[str, SigningKey]  # every root private key on this machine, by kid
    timestamp_keys: Mapping[str, SigningKey] = field(default_factory=dict)  # online role

    @property
    def current(self) -> RootMetadata:
        return self.roots[-1]

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> RootKeyring:
        """Load and re-verify the chain root-1 -> root-N; raises ValueError if absent."""
        folder = Path(directory)
        files = sorted(
            (int(match.group(1)), path)
            for path in folder.glob("root-*.json")
            if (match := _ROOT_FILE.fullmatch(path.name))
        )
        if not files:
            raise ValueError(
                f"no root documents in {os.fspath(folder)!r}; run `healthcode registry init-root`"
            )
        if [version for version, _ in files] != list(range(1, len(files) + 1)):
            raise ValueError(f"root documents in {os.fspath(folder)!r} are not 1..N without gaps")
        roots = [load_root(files[0][1].read_bytes())]
        for _, path in files[1:]:
            roots.append(verify_root_update(roots[-1], json.loads(path.read_bytes())))
        held = {}
        for pem in sorted((folder / "keys").glob("*.pem")):
            key = SigningKey.load(pem)
            held[key.kid] = key
        stamps = {}
        for pem in sorted((folder / TIMESTAMP_DIR).glob("*.pem")):
            key = SigningKey.load(pem)
            stamps[key.kid] = key
        return cls(folder, tuple(roots), held, stamps)

    @property
    def can_sign(self) -> bool:
        """Whether this machine holds the threshold of the current root (hot custody)."""
        return len(self.signers()) >= self.current.threshold

    def timestamp_signer(self) -> SigningKey | None:
        """The held timestamp key the current root delegates, if any."""
        for kid in self.current.timestamp_keys:
            if kid in self.timestamp_keys:
                return self.timestamp_keys[kid]
        return None

    def signers(self, root: RootMetadata | None = None) -> list[SigningKey]:
        """Held private keys of `root` (default: the current root)."""
        root = root or self.current
        return [self.held_keys[kid] for kid in root.keys if kid in self.held_keys]

    def sign(self, payload: Mapping[str, Any], typ: str) -> dict[str, Any]:
        """Sign with every held key of the current root; refuses below its threshold."""
        signers = self.signers()
        if len(signers) < self.current.threshold:
            # Not a bug but a deployment without enough root keys on line: nothing is written,
            # the caller is told to gather the missing signatures (503, not a 500).
            raise TrustUnavailable(
                ErrorCode.UPSTREAM_UNAVAILABLE,
                f"this registry holds {len(signers)} of the {self.current.threshold} root keys "
                f"root version {self.current.version} requires; gather the other signatures "
                "offline",
            )
        return sign_document(payload, signers, typ)

    def documents(self) -> list[tuple[int, Mapping[str, Any]]]:
        """(version, signed document) of every root, oldest first."""
        return [(root.version, root.document) for root in self.roots]


def init_root(
    directory: str | os.PathLike[str],
    *,
    key_count: int = 3,
    threshold: int = 2,
    now: datetime,
    lifetime: timedelta = DEFAULT_ROOT_LIFETIME,
) -> RootKeyring:
    """Generate `key_count` root keys and sign root version 1 with all of them."""
    folder = Path(directory)
    if (folder / "root-1.json").exists():
        raise ValueError(f"{os.fspath(folder)!r} already holds a root; use rotate-root")
    keys = [SigningKey.generate() for _ in range(key_count)]
    stamp = SigningKey.generate()
    payload = make_root(
        [k.verifying_key for k in keys],
        threshold,
        1,
        now + lifetime,
        timestamp_keys=[stamp.verifying_key],
    )
    document = sign_document(payload, keys, ROOT_TYP)
    for key in keys:
        key.save(folder / "keys" / f"{key.kid}.pem")
    stamp.save(folder / TIMESTAMP_DIR / f"{stamp.kid}.pem")
    _write_new(folder / "root-1.json", document)
    return RootKeyring.load(folder)


def rotate_root(
    keyring: RootKeyring,
    *,
    add: int = 1,
    drop: Sequence[str] = (),
    threshold: int | None = None,
    new_timestamp_key: SigningKey | bool = False,
    now: datetime,
    lifetime: timedelta = DEFAULT_ROOT_LIFETIME,
) -> RootKeyring:
    """Publish root N+1: keys of N minus `drop`, plus `add` new keys, signed by both thresholds.

    The new document carries signatures of every held key of root N (at least threshold(N)) and
    of every key of root N+1 held here (at least threshold(N+1)), as §7.1 requires.

    The online timestamp key (§7.7) carries over unless `new_timestamp_key` is given: a key
    (brought by an officer) or True (generate one). It then replaces every timestamp key of
    root N, which clients stop trusting at once, their trusted time included (a stolen key's
    timestamps no longer pin their clocks); the replaced private keys are deleted here.
    """
    old = keyring.current
    unknown = set(drop) - set(old.keys)
    if unknown:
        raise ValueError(f"cannot drop keys that are not in root {old.version}: {sorted(unknown)}")
    new_keys = [SigningKey.generate() for _ in range(add)]
    kept = [key for kid, key in old.keys.items() if kid not in drop]
    members = kept + [k.verifying_key for k in new_keys]
    new_threshold = threshold if threshold is not None else min(old.threshold, len(members))
    # The online timestamp role carries over; a root from before it existed gets one now.
    new_stamp: SigningKey | None
    if isinstance(new_timestamp_key, SigningKey):
        new_stamp = new_timestamp_key
    elif new_timestamp_key or not old.timestamp_keys:
        new_stamp = SigningKey.generate()
    else:
        new_stamp = None
    if new_stamp is not None and new_stamp.kid in old.timestamp_keys:
        raise ValueError(f"{new_stamp.kid!r} is already the timestamp key; bring a new one")
    stamp_keys = (
        list(old.timestamp_keys.values()) if new_stamp is None else [new_stamp.verifying_key]
    )
    payload = make_root(
        members, new_threshold, old.version + 1, now + lifetime, timestamp_keys=stamp_keys
    )
    held = {**keyring.held_keys, **{k.kid: k for k in new_keys}}
    old_signers = keyring.signers(old)
    if len(old_signers) < old.threshold:
        raise RuntimeError(
            f"root {old.version} needs {old.threshold} signatures, {len(old_signers)} keys held"
        )
    new_signers = [held[key.kid] for key in members if key.kid in held]
    if len(new_signers) < new_threshold:
        raise RuntimeError(f"the new root needs {new_threshold} signatures by its own keys")
    signers = {key.kid: key for key in [*old_signers, *new_signers]}
    document = sign_document(payload, list(signers.values()), ROOT_TYP)
    # Verify before writing: a root the clients would refuse must never be published.
    verify_root_update(old, document)
    for key in new_keys:
        key.save(keyring.directory / "keys" / f"{key.kid}.pem")
    if new_stamp is not None:
        new_stamp.save(keyring.directory / TIMESTAMP_DIR / f"{new_stamp.kid}.pem")
    _write_new(keyring.directory / f"root-{old.version + 1}.json", document)
    if new_stamp is not None:
        # Only after root N+1 is written: until then the old key is still the one to use.
        # A replaced key may be the stolen one; no root trusts it any more, so nothing needs it.
        for kid in old.timestamp_keys:
            (keyring.directory / TIMESTAMP_DIR / f"{kid}.pem").unlink(missing_ok=True)
    return RootKeyring.load(keyring.directory)
