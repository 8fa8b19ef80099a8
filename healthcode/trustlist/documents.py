"""The three documents of the trust list (§7) as verified models, their constants and times.

Root, trust list and timestamp, after verification; `format_time` and `parse_time` are the one
time format of every document (`YYYY-MM-DDTHH:MM:SSZ`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from healthcode.errors import ErrorCode, TrustListError
from healthcode.keys import VerifyingKey
from healthcode.trust import IssuerEntry

SPEC = "1"
ROOT_TYPE = "hc-root"
TRUST_LIST_TYPE = "hc-trustlist"
ROOT_TYP = "hc-root+jws"
TRUST_LIST_TYP = "hc-trustlist+jws"
TIMESTAMP_TYPE = "hc-timestamp"
TIMESTAMP_TYP = "hc-timestamp+jws"
ALGORITHM = "ES256"
SIGNATURE_BYTES = 64  # r||s, 32 bytes each for P-256
#: A held list past `expires` keeps verifying this long, reported stale (§7.6: 24 h).
DEFAULT_STALE_GRACE_S = 24 * 3600
#: Longest a timestamp may be valid, `expires - signed_at` (§7.7). The online key signs it, so
#: this bounds how far ahead a stolen key can pin the trusted time, and for how long.
MAX_TIMESTAMP_VALIDITY_S = 7 * 24 * 3600
#: Largest root or trust-list document accepted (34 provinces with 16 keys each fit in ~1 MB).
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_TIME_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
B64URL_PATTERN = re.compile(r"[A-Za-z0-9_-]*")
REGION_PATTERN = re.compile(r"\d{6}")
TRUST_LIST_MEMBERS = frozenset(
    {"_type", "spec", "version", "root_version", "signed_at", "expires", "issuers"}
)


# -- time -------------------------------------------------------------------------------------


def format_time(moment: datetime | float) -> str:
    """RFC 3339 UTC of the exact form `YYYY-MM-DDTHH:MM:SSZ` (§1), from a datetime or epoch."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError("trust-list times must be timezone-aware (UTC)")
        moment = moment.timestamp()
    return _format_epoch(int(moment))


@functools.lru_cache(maxsize=64)
def _format_epoch(seconds: int) -> str:
    # A checkpoint's every answer carries its trust data's few times: format each once.
    return datetime.fromtimestamp(seconds, UTC).strftime(_TIME_FORMAT)


def parse_time(text: object, what: str) -> datetime:
    """Parse a `YYYY-MM-DDTHH:MM:SSZ` string; anything else is `trust_list_malformed`."""
    if not isinstance(text, str) or not _TIME_PATTERN.fullmatch(text):
        raise malformed(f"{what} must be a string of the form YYYY-MM-DDTHH:MM:SSZ")
    try:
        return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise malformed(f"{what} is not a valid date and time ({exc})") from exc


def _epoch(moment: datetime | float) -> float:
    return moment.timestamp() if isinstance(moment, datetime) else float(moment)


# -- documents --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RootMetadata:
    """A verified root: the registry keys and how many distinct ones must sign (§7.1)."""

    version: int
    expires: datetime
    threshold: int
    keys: Mapping[str, VerifyingKey]
    #: the signed document as received (kept to persist it and to serve it again)
    document: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    #: keys of the online timestamp role (§7.7); one signature by one of them suffices
    timestamp_keys: Mapping[str, VerifyingKey] = field(default_factory=dict)

    def is_expired(self, now: datetime | float) -> bool:
        return _epoch(now) > self.expires.timestamp()


@dataclass(frozen=True, slots=True)
class TimestampDocument:
    """A verified timestamp (§7.7): the registry's recent time and the newest list version.

    `revoked_keys` and `suspended_issuers` only ever remove trust: emergency changes the
    registry published with its online key while the trust list awaits the root holders.
    """

    version: int
    root_version: int
    signed_at: datetime
    expires: datetime
    trust_list_version: int
    revoked_keys: frozenset[str] = frozenset()
    suspended_issuers: frozenset[str] = frozenset()
    document: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def is_expired(self, now: datetime | float) -> bool:
        return _epoch(now) > self.expires.timestamp()


@dataclass(frozen=True, slots=True)
class TrustListDocument:
    """A verified trust list (§7.2). Unknown members stay in `payload` (and `extra`)."""

    version: int
    root_version: int
    signed_at: datetime
    expires: datetime
    issuers: tuple[IssuerEntry, ...]
    #: top-level members this version of the standard does not define, preserved verbatim
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: the whole payload, unknown members of issuer entries included (re-serialise from this)
    payload: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    #: the signed document as received
    document: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def is_expired(self, now: datetime | float) -> bool:
        return _epoch(now) > self.expires.timestamp()


def malformed(message: str) -> TrustListError:
    return TrustListError(ErrorCode.TRUST_LIST_MALFORMED, message)
