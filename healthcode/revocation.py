"""The §10.4 revocation list: its model, building and signing, the one parse-and-verify, the
Redis key issuers publish revoked `jti`s under, and how long an entry stays listed.

Three processes share this format: the issuer that signs its list, checkpoints that sync it
(`verifiers.revocations`) and partner issuers that follow it for transcoded codes
(`issuers.partner_sync`). All of them read it through `verify_revocation_list`, so a list one
accepts the others accept too, with the same bounds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeGuard

import orjson

from healthcode.config import CLOCK_SKEW_S
from healthcode.errors import ErrorCode, VerificationError
from healthcode.jws import sign_compact, verify_document
from healthcode.keys import SigningKey, VerifyingKey
from healthcode.trust import IssuerEntry, KeyStatus

__all__ = [
    "LISTED_PAST_EXPIRY_S",
    "MAX_LIST_BYTES",
    "MAX_SEQ",
    "RevocationList",
    "parse_revocation_list",
    "redis_key",
    "verify_revocation_list",
]

#: An entry stays listed this long past its `exp`: a verifier accepts a code until `exp` plus
#: the clock skew (§4.3), so its revocation must be known that long too.
LISTED_PAST_EXPIRY_S = CLOCK_SKEW_S
#: The largest list accepted, as compact JWS characters (and as answer bytes by fetchers).
MAX_LIST_BYTES = 8 * 1024 * 1024
#: `seq` is stored in a BIGINT by issuers and sent back as `since`.
MAX_SEQ = 2**63 - 1
#: Epoch seconds: far beyond any real expiry (as `healthcode.credential` bounds times).
MAX_TIME = 2**40
#: A credential `jti` (standard §2): what an entry names.
_JTI = re.compile(r"[A-Za-z0-9_-]{16,64}")


def redis_key(issuer_id: str) -> str:
    """The Redis set an issuer publishes its revoked `jti`s in (ADR 0006): written by the
    issuer, copied by checkpoints. The issuer id is a Redis Cluster hash tag (`{iss}`), so a
    rebuild's staging key shares the set's slot and the RENAME that swaps it in is allowed."""
    return f"hc:revoked:{{{issuer_id}}}"


@dataclass(frozen=True, slots=True)
class RevocationList:
    """One issuer's revocations with sequence number above `since`, as signed at `issued_at`."""

    iss: str
    seq: int
    since: int
    issued_at: float
    #: revoked jti -> its exp
    entries: Mapping[str, int] = field(default_factory=dict)

    def to_payload(self) -> dict[str, object]:
        # An issuer signs whole seconds; a float that is one is written as an integer.
        issued_at = int(self.issued_at) if float(self.issued_at).is_integer() else self.issued_at
        return {
            "iss": self.iss,
            "seq": self.seq,
            "issued_at": issued_at,
            "since": self.since,
            "entries": [{"jti": jti, "exp": exp} for jti, exp in self.entries.items()],
        }

    def sign(self, key: SigningKey) -> str:
        """The compact JWS of §10.4: header {alg, kid}, minified JSON payload, no zip."""
        return sign_compact(orjson.dumps(self.to_payload()), key, compress=False)


def _invalid(iss: str, what: str) -> VerificationError:
    return VerificationError(
        ErrorCode.INVALID_CLAIMS, f"revocation list of {iss!r} is malformed: {what}"
    )


def _bounded_int(value: object, high: int) -> TypeGuard[int]:
    """An integer 0..high; not a bool (JSON `true` is no number) nor a float."""
    return type(value) is int and 0 <= value <= high


def parse_revocation_list(data: object, issuer_id: str) -> RevocationList:
    """Check a verified payload field by field; raises VerificationError(invalid_claims)
    naming the first field that is wrong. Nothing of a refused list is used."""
    if not isinstance(data, dict):
        raise _invalid(issuer_id, "the payload is not a JSON object")
    if data.get("iss") != issuer_id:
        raise VerificationError(
            ErrorCode.INVALID_CLAIMS, f"revocation list of {issuer_id!r} names another issuer"
        )
    seq, since, issued_at = data.get("seq"), data.get("since"), data.get("issued_at")
    if not _bounded_int(seq, MAX_SEQ):
        raise _invalid(issuer_id, f"'seq' must be an integer 0-{MAX_SEQ}")
    if not _bounded_int(since, MAX_SEQ):
        raise _invalid(issuer_id, f"'since' must be an integer 0-{MAX_SEQ}")
    if not (
        isinstance(issued_at, int | float)
        and not isinstance(issued_at, bool)
        and 0 <= issued_at <= MAX_TIME  # NaN and infinities fail this too
    ):
        raise _invalid(issuer_id, f"'issued_at' must be a time in seconds 0-{MAX_TIME}")
    raw_entries = data.get("entries")
    if not isinstance(raw_entries, list):
        raise _invalid(issuer_id, "'entries' must be a list")
    entries: dict[str, int] = {}
    for index, entry in enumerate(raw_entries):
        if not isinstance(entry, dict):
            raise _invalid(issuer_id, f"entry {index} is not an object")
        jti, exp = entry.get("jti"), entry.get("exp")
        if not (isinstance(jti, str) and _JTI.fullmatch(jti)):
            raise _invalid(issuer_id, f"entry {index}: 'jti' must be 16-64 base64url characters")
        if not _bounded_int(exp, MAX_TIME):
            raise _invalid(issuer_id, f"entry {index}: 'exp' must be a time in seconds")
        entries[jti] = exp
    return RevocationList(issuer_id, seq, since, float(issued_at), entries)


def verify_revocation_list(token: str, issuer: IssuerEntry) -> RevocationList:
    """The one parse-and-verify of a §10.4 list: signed by a key *active* in the trust list
    for this very issuer, at most `MAX_LIST_BYTES`, every field checked.

    Raises VerificationError: malformed_jws/_header/_signature/_payload,
    unsupported_compression, input_too_large, unknown_key, bad_signature, invalid_claims.
    """
    keys: dict[str, VerifyingKey] = {
        trusted.kid: trusted.key for trusted in issuer.keys if trusted.status is KeyStatus.ACTIVE
    }
    try:
        document = verify_document(token.strip(), keys, typ=None, max_chars=MAX_LIST_BYTES)
    except VerificationError as exc:
        raise VerificationError(
            exc.code, f"revocation list of {issuer.id!r}: {exc.message}"
        ) from exc
    try:
        # The standard library parser: a huge integer is a number out of range (refused by
        # name below), not a parse error; too deep a nesting is a RecursionError.
        data = json.loads(document.payload)
    except (ValueError, RecursionError) as exc:
        raise VerificationError(
            ErrorCode.MALFORMED_PAYLOAD, f"revocation list of {issuer.id!r} is not JSON ({exc})"
        ) from exc
    return parse_revocation_list(data, issuer.id)
