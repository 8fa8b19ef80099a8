"""`TrustListState`: the verified root, list and timestamp a client holds, and the update
rules (§7.6: rollback, equal version, freeze) with a trusted time that never goes back.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from healthcode.config import DEFAULT_LIMITS, Limits
from healthcode.errors import ErrorCode, TrustListError, TrustUnavailable
from healthcode.trust import IssuerEntry, IssuerStatus, KeyStatus, TrustStore
from healthcode.trustlist.documents import (
    DEFAULT_STALE_GRACE_S,
    RootMetadata,
    TimestampDocument,
    TrustListDocument,
    format_time,
)
from healthcode.trustlist.verify import verify_root_update, verify_timestamp, verify_trust_list

# -- update rules -----------------------------------------------------------------------------


def _newer_and_fresh(
    what: str, offered: int, held: int | None, expires: datetime, expired: bool
) -> bool:
    """§7.6 for a signed document offered to a holder: False if it is the held version.

    Raises TrustListError: rollback (an older version than held), expired (a freeze).
    """
    if held is not None and offered < held:
        raise TrustListError(
            ErrorCode.TRUST_LIST_ROLLBACK,
            f"{what} version {offered} is older than the held version {held}",
        )
    if held is not None and offered == held:
        return False
    if expired:
        raise TrustListError(
            ErrorCode.TRUST_LIST_EXPIRED,
            f"{what} version {offered} expired at {format_time(expires)} (possible freeze attack)",
        )
    return True


class TrustListState:
    """The verified root and trust list a client holds, and the rules to change them (§7.6).

    All update rules live here, like python-tuf's trusted metadata set: the root is updated
    one version at a time, a trust list must be signed by the held root, a lower version is a
    rollback, an equal version keeps the held list, an expired offer is a freeze. A refused
    update leaves the state unchanged. Thread-safe: updates are serialised by a lock and
    readers see either the old or the new list.
    """

    def __init__(
        self,
        root: RootMetadata,
        trust_list: TrustListDocument | None = None,
        *,
        stale_grace_s: int = DEFAULT_STALE_GRACE_S,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        if stale_grace_s < 0:
            raise ValueError(f"stale_grace_s must be >= 0, got {stale_grace_s}")
        self.stale_grace_s = stale_grace_s
        self.limits = limits
        self._lock = threading.Lock()
        self._root = root
        self._trust_list = trust_list
        self._timestamp: TimestampDocument | None = None
        # High-water mark of the registry's signed time seen so far (epoch seconds); the
        # client persists it, so a restart cannot take it back (§7.5).
        self._trusted_time = 0.0
        self._store: TrustStore | None = None
        self._store_key: tuple[int, int | None, int] | None = None

    @property
    def root(self) -> RootMetadata:
        return self._root

    @property
    def trust_list(self) -> TrustListDocument | None:
        """The held list (possibly expired: it still is the rollback floor)."""
        return self._trust_list

    @property
    def timestamp(self) -> TimestampDocument | None:
        """The held timestamp (§7.7), if the root delegates one and one was taken."""
        return self._timestamp

    @property
    def trusted_time(self) -> float:
        """The latest registry-signed time seen (list, timestamp or persisted high-water mark);
        a device clock earlier than this minus the skew is wrong (§7.5). Never decreases,
        except when a root update replaces the timestamp keys (`update_roots`)."""
        held, stamp = self._trust_list, self._timestamp
        return max(
            self._trusted_time,
            held.signed_at.timestamp() if held is not None else 0.0,
            stamp.signed_at.timestamp() if stamp is not None else 0.0,
        )

    def note_trusted_time(self, moment: float) -> None:
        """Raise the high-water mark (e.g. to the value persisted before a restart).

        Raises:
            ValueError: `moment` is NaN or infinite (a damaged file, not a time): NaN would
                compare false and silently stop the mark, infinity would refuse every clock.
        """
        moment = float(moment)
        if not math.isfinite(moment):
            raise ValueError(f"trusted time must be a finite epoch, got {moment!r}")
        with self._lock:
            self._trusted_time = max(self._trusted_time, moment)

    def update_timestamp(self, document: Mapping[str, Any] | bytes, now: datetime | float) -> bool:
        """Offer a timestamp (§7.7); returns True if it replaced the held one.

        Raises:
            TrustListError: malformed, unknown key, bad signature, rollback (lower version)
                or expired (freeze).
        """
        with self._lock:
            offered = verify_timestamp(document, self._root)
            held = self._timestamp
            # A timestamp naming an older list than the held one is the registry's schedule
            # lagging a publication by a tick: it still vouches for the time, and its removals
            # do not apply to the newer list (trust_store). The held list is never replaced by
            # it, so this is no rollback.
            if not _newer_and_fresh(
                "timestamp",
                offered.version,
                held.version if held is not None else None,
                offered.expires,
                offered.is_expired(now),
            ):
                if held is not None and held.is_expired(now):
                    # TUF 5.4.4: the registry offers nothing newer than an expired timestamp,
                    # so it (or whoever answers for it) is frozen: abort, and say so.
                    raise TrustListError(
                        ErrorCode.TRUST_LIST_EXPIRED,
                        f"timestamp version {held.version} expired at "
                        f"{format_time(held.expires)} and the registry offers no newer one "
                        "(possible freeze attack); the trust list is stale",
                    )
                return False
            self._timestamp = offered
            self._store = None
            return True

    def update_roots(
        self, documents: Sequence[Mapping[str, Any] | bytes], now: datetime | float
    ) -> list[RootMetadata]:
        """Walk root N -> N+1 -> ... through `documents` (in order); all or nothing.

        Returns the roots taken. The final root must not be expired (`trust_list_expired`).

        When the walk changes the timestamp keys (§7.7) the held timestamp is dropped and the
        trusted-time high-water mark falls back to the held list's `signed_at`: the online key
        is replaced because it may have been stolen, and a timestamp it signed far ahead must
        not keep pinning the clock forward (every verification `clock_behind`) after that.
        """
        with self._lock:
            root = self._root
            taken = []
            for document in documents:
                root = verify_root_update(root, document)
                taken.append(root)
            if taken and root.is_expired(now):
                raise TrustListError(
                    ErrorCode.TRUST_LIST_EXPIRED,
                    f"root version {root.version} expired at {format_time(root.expires)}",
                )
            # kid is the key's RFC 7638 thumbprint, so equal kid sets are equal keys.
            if set(root.timestamp_keys) != set(self._root.timestamp_keys):
                self._timestamp = None
                self._trusted_time = 0.0
                self._store = None
            self._root = root
            return taken

    def update(self, document: Mapping[str, Any] | bytes, now: datetime | float) -> bool:
        """Offer a trust list; returns True if it replaced the held one (§7.2, §7.6).

        Raises:
            TrustListError: malformed, unknown root key, bad signature, threshold, rollback
                (lower version, or signed under an older root) or expired (freeze).
        """
        with self._lock:
            offered = verify_trust_list(document, self._root, limits=self.limits)
            held = self._trust_list
            if not _newer_and_fresh(
                "trust list",
                offered.version,
                held.version if held is not None else None,
                offered.expires,
                offered.is_expired(now),
            ):
                return False
            if self._root.is_expired(now):
                raise TrustListError(
                    ErrorCode.TRUST_LIST_EXPIRED,
                    f"root version {self._root.version} expired at "
                    f"{format_time(self._root.expires)}; a newer root is needed",
                )
            self._trust_list = offered
            self._store = None
            return True

    def expires_at(self) -> float | None:
        """When the held list stops being current: its own `expires`, or sooner the held
        timestamp's when the root delegates one (§7.7): a list no timestamp vouches for any
        more is stale at once, not only when the list itself expires (a freeze)."""
        held, stamp = self._trust_list, self._timestamp
        if held is None:
            return None
        expires = held.expires.timestamp()
        if stamp is not None and self._root.timestamp_keys:
            expires = min(expires, stamp.expires.timestamp())
        return expires

    def frozen(self, now: datetime | float) -> bool:
        """The held timestamp has expired: nothing vouches for the list being current."""
        stamp = self._timestamp
        return stamp is not None and bool(self._root.timestamp_keys) and stamp.is_expired(now)

    def trust_store(self, now: datetime | float | None = None) -> TrustStore:
        """The held list as a `TrustStore` for `verify_credential`.

        An expired held list is still returned: verification reports it stale during the grace
        period and fails with `trust_list_expired` after it (§6 step 0), so the answer is a
        verification result with a code rather than an exception. `now` is accepted for
        symmetry with the other calls; the clock is judged per verification.

        Raises:
            TrustUnavailable: `trust_list_unavailable` when no verified list is held.
        """
        del now  # judged by verify_credential, see above
        held, stamp = self._trust_list, self._timestamp
        if held is None:
            raise TrustUnavailable(
                ErrorCode.TRUST_LIST_UNAVAILABLE,
                "no verified trust list is held; fetch one from the registry",
            )
        # signed_at is the trusted time, not the list's: a list signed days ago but vouched
        # for by an hour-old timestamp bounds the clock to that hour (§7.5, §7.7).
        key = (held.version, stamp.version if stamp else None, int(self.trusted_time))
        store = self._store
        if store is not None and self._store_key == key:
            return store
        issuers = held.issuers
        if stamp is not None and stamp.trust_list_version >= held.version:
            issuers = _remove_trust(issuers, stamp.revoked_keys, stamp.suspended_issuers)
        store = TrustStore(
            issuers,
            source="trust-list",
            version=held.version,
            signed_at=key[2],
            expires_at=int(self.expires_at() or held.expires.timestamp()),
            stale_grace_s=self.stale_grace_s,
        )
        self._store, self._store_key = store, key
        return store


def _remove_trust(
    issuers: Sequence[IssuerEntry], revoked_keys: frozenset[str], suspended: frozenset[str]
) -> tuple[IssuerEntry, ...]:
    """The issuers with the timestamp's emergency changes applied: they only remove trust."""
    if not revoked_keys and not suspended:
        return tuple(issuers)
    changed = []
    for entry in issuers:
        keys = tuple(
            dataclasses.replace(trusted, status=KeyStatus.REVOKED)
            if trusted.kid in revoked_keys
            else trusted
            for trusted in entry.keys
        )
        status = IssuerStatus.SUSPENDED if entry.id in suspended else entry.status
        changed.append(dataclasses.replace(entry, keys=keys, status=status))
    return tuple(changed)
