"""The signed trust list and its root: format, signing, verification and update rules (§7).

Two documents, modelled on TUF's root and targets metadata, both JWS JSON General
Serialization (RFC 7515 §7.2.1) with ES256 signatures over P-256 keys:

* the **root** (`hc-root`) names the registry keys and how many of them must sign (threshold);
* the **trust list** (`hc-trustlist`) names the issuers, their keys and endpoints;
* the **timestamp** (`hc-timestamp`) is a short-lived freshness document signed by the root's
  online timestamp key (§7.7): it names the newest trust-list version, carries the registry's
  time and emergency revocations published while the root keys are offline.

`verify_root_update`, `verify_trust_list` and `verify_timestamp` check one document each (§7.1,
§7.2 items 1-6, §7.7); signatures are checked over the payload bytes before any member of the
payload is parsed. `TrustListState` holds the verified root, list and timestamp, the trusted
time (a high-water mark that never goes backwards, unless a new root replaces the timestamp
keys) and applies the client update rules (§7.6: rollback, equal version, freeze). Every
refusal raises `TrustListError` with a stable code. Nothing here touches the network or the
disk: `healthcode.trustclient` does that.
"""

from healthcode.trustlist.build import (
    issuer_entry_payload,
    make_root,
    sign_document,
    timestamp_payload,
    trust_list_payload,
)
from healthcode.trustlist.documents import (
    DEFAULT_STALE_GRACE_S,
    MAX_DOCUMENT_BYTES,
    MAX_TIMESTAMP_VALIDITY_S,
    ROOT_TYP,
    ROOT_TYPE,
    SPEC,
    TIMESTAMP_TYP,
    TIMESTAMP_TYPE,
    TRUST_LIST_TYP,
    TRUST_LIST_TYPE,
    RootMetadata,
    TimestampDocument,
    TrustListDocument,
    format_time,
    parse_time,
)
from healthcode.trustlist.signatures import strict_b64url_decode
from healthcode.trustlist.state import TrustListState
from healthcode.trustlist.verify import (
    decode_unsigned_trust_list,
    load_root,
    peek_payload,
    verify_root_update,
    verify_timestamp,
    verify_trust_list,
)

__all__ = [
    "DEFAULT_STALE_GRACE_S",
    "MAX_DOCUMENT_BYTES",
    "MAX_TIMESTAMP_VALIDITY_S",
    "ROOT_TYP",
    "ROOT_TYPE",
    "SPEC",
    "TIMESTAMP_TYP",
    "TIMESTAMP_TYPE",
    "TRUST_LIST_TYP",
    "TRUST_LIST_TYPE",
    "RootMetadata",
    "TimestampDocument",
    "TrustListDocument",
    "TrustListState",
    "decode_unsigned_trust_list",
    "format_time",
    "issuer_entry_payload",
    "load_root",
    "make_root",
    "parse_time",
    "peek_payload",
    "sign_document",
    "strict_b64url_decode",
    "timestamp_payload",
    "trust_list_payload",
    "verify_root_update",
    "verify_timestamp",
    "verify_trust_list",
]
